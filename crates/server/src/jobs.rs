//! The job worker: one thread per server that takes queued imports from the
//! database, runs them one at a time, and keeps each one's lease alive with
//! a heartbeat thread.
//!
//! - *Claim*: the oldest `queued` or `interrupted` job (on PostgreSQL with
//!   `FOR UPDATE SKIP LOCKED`, so several servers share one queue and each
//!   job runs once).
//! - *Lease*: the job's row names its owner (`HOST:PID:NONCE`) and the time
//!   of its last heartbeat (every lease/5). A job whose heartbeat is older
//!   than the lease (default 30 s, `ROSTER_JOB_LEASE_SECS`) is marked
//!   `interrupted` by any server and taken over; a batch commits only while
//!   its worker still owns the lease.
//! - *Restart*: a job whose owner is a process of this host that no longer
//!   exists is `interrupted` at once (at the next start, or by any other
//!   server on the host).
//! - *Files*: the upload is read from the database into `DATA_DIR/uploads`
//!   when this server does not already have it, so servers need no shared
//!   filesystem. Retention removes the stored files of jobs finished longer
//!   ago than `--keep-import-files` (default 30 days); records stay.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use roster_import::job::JobOptions;
use roster_import::{ImportError, Input, JobRun, Progress};
use roster_store::{lease, Job, JobFile, Store, StoreError};
use sha2::{Digest, Sha256};

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub database: String,
    pub data_dir: PathBuf,
    /// A job without a heartbeat for this long is taken over.
    pub lease: Duration,
    /// How often an idle worker looks at the queue.
    pub poll: Duration,
    /// How long uploads and result files are kept after a job ends.
    pub retention: Duration,
    /// Test hook (`ROSTER_TEST_PAUSE_AFTER_BATCHES=N`,
    /// `ROSTER_TEST_PAUSE_SECS`): wait after N committed batches, each
    /// batch committed alone.
    pub pause_after_commits: Option<(u64, Duration)>,
}

impl WorkerConfig {
    /// Defaults, with the environment's overrides.
    pub fn new(database: &str, data_dir: &Path, retention: Duration) -> WorkerConfig {
        let secs = |name: &str| -> Option<f64> {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| *s > 0.0)
        };
        let pause = std::env::var("ROSTER_TEST_PAUSE_AFTER_BATCHES")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|n| {
                (
                    n,
                    Duration::from_secs_f64(secs("ROSTER_TEST_PAUSE_SECS").unwrap_or(3600.0)),
                )
            });
        WorkerConfig {
            database: database.to_string(),
            data_dir: data_dir.to_path_buf(),
            lease: Duration::from_secs_f64(secs("ROSTER_JOB_LEASE_SECS").unwrap_or(30.0)),
            poll: Duration::from_millis(200),
            retention,
            pause_after_commits: pause,
        }
    }

    fn uploads(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }

    /// Where this server keeps job `id`'s upload.
    pub fn upload_path(&self, id: i64) -> PathBuf {
        self.uploads().join(format!("{id}.csv"))
    }
}

/// The running worker; [`Worker::stop`] ends it after the current batch.
pub struct Worker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// Marks this node's unfinished jobs as interrupted and starts taking
    /// jobs from the queue.
    pub fn start(config: WorkerConfig) -> Result<Worker, StoreError> {
        let _ = std::fs::create_dir_all(config.uploads());
        let mut store = roster_store::open(&config.database)?;
        // `HOST:PID:NONCE`, as every import's lease owner: a record of this
        // host and PID with another nonce is from a process that had this
        // PID before (a restarted container), so it is over.
        let owner = lease::new_owner();
        let me = format!("{}:{}:", lease::local_host(), std::process::id());
        let back = store.interrupt_stale_jobs(&ago(config.lease), &me)?;
        if !back.is_empty() {
            tracing::info!(jobs = ?back, "imports interrupted by a restart will resume");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("roster-jobs".into())
                .spawn(move || work(config, store, owner, stop))
                .map_err(|e| StoreError::Database(format!("cannot start the job worker: {e}")))?
        };
        Ok(Worker {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops taking jobs; a running job stops after its current batch and
    /// is left `interrupted`, to resume at the next start (or on another
    /// server). Waits for that.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// RFC 3339 time `d` ago.
fn ago(d: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    roster_store::rfc3339_from_unix_millis(now.saturating_sub(d).as_millis() as i64)
}

fn work(config: WorkerConfig, mut store: Box<dyn Store>, owner: String, stop: Arc<AtomicBool>) {
    let mut last_prune: Option<Instant> = None;
    let mut last_settle: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            last_prune = Some(Instant::now());
            match store.remove_old_job_files(&ago(config.retention)) {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "removed the files of old imports"),
                Err(e) => tracing::warn!(error = %e, "cannot remove old import files"),
            }
        }
        // Looking for dead owners reads every running record: once a second.
        let settled = if last_settle.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            last_settle = Some(Instant::now());
            settle_running(store.as_mut(), config.lease)
        } else {
            Ok(())
        };
        let claimed = settled.and_then(|()| store.claim_job(&owner));
        match claimed {
            Ok(Some(job)) => {
                let id = job.id;
                tracing::info!(import = id, kind = %job.kind, resume = job.checkpoint.is_some(), "import started");
                run_job(&config, &owner, job, &stop);
                tracing::info!(import = id, "import left the worker");
            }
            Ok(None) => std::thread::sleep(config.poll),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the import queue; trying again");
                std::thread::sleep(Duration::from_secs(1));
                // The connection may be gone (database restarted).
                if let Ok(s) = roster_store::open(&config.database) {
                    store = s;
                }
            }
        }
    }
}

/// Marks running imports whose owner is gone as `interrupted`: a process
/// of this host that no longer exists, or a heartbeat older than the lease.
fn settle_running(store: &mut dyn Store, lease_for: Duration) -> Result<(), StoreError> {
    store.interrupt_stale_jobs(&ago(lease_for), "")?;
    for rec in store.imports()? {
        if rec.status == "running" {
            lease::settle(store, rec)?;
        }
    }
    Ok(())
}

/// Progress shared between the pipeline and the heartbeat.
#[derive(Default)]
struct Shared {
    bytes: AtomicU64,
    rows: AtomicU64,
    step: Mutex<String>,
}

impl Shared {
    fn set_step(&self, s: &str) {
        if let Ok(mut g) = self.step.lock() {
            *g = s.to_string();
        }
    }
}

fn run_job(config: &WorkerConfig, owner: &str, job: Job, server_stop: &Arc<AtomicBool>) {
    let shared = Arc::new(Shared::default());
    shared.set_step("starting");
    let cancel = Arc::new(AtomicBool::new(job.cancel_requested));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let heartbeat = {
        let (config, owner, shared, cancel, stop, done, server_stop) = (
            config.clone(),
            owner.to_string(),
            shared.clone(),
            cancel.clone(),
            stop.clone(),
            done.clone(),
            server_stop.clone(),
        );
        let id = job.id;
        std::thread::Builder::new()
            .name("roster-heartbeat".into())
            .spawn(move || {
                heartbeat(
                    &config,
                    id,
                    &owner,
                    &shared,
                    (&cancel, &stop, &done, &server_stop),
                )
            })
    };
    let result = run_pipeline(config, owner, &job, &shared, &cancel, &stop);
    done.store(true, Ordering::Relaxed);
    if let Ok(h) = heartbeat {
        let _ = h.join();
    }
    let mut store = match roster_store::open(&config.database) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(import = job.id, error = %e, "cannot record the end of an import");
            return;
        }
    };
    let kept_running = stop.load(Ordering::Relaxed) || server_stop.load(Ordering::Relaxed);
    match result {
        Ok(()) if kept_running => {
            // Left resumable: another server, or the next start, carries on.
            let _ = store.interrupt_stale_jobs("", owner);
        }
        Ok(()) => {}
        Err(e) => {
            tracing::warn!(import = job.id, error = %e, "import failed");
            let report = serde_json::json!({
                "kind": job.kind,
                "id": job.id,
                "refused": e.to_string(),
            });
            let _ = store.finish_job(job.id, owner, "failed", &report, &mut []);
        }
    }
    if store.job(job.id).is_ok_and(|j| j.is_finished()) {
        let _ = std::fs::remove_file(config.upload_path(job.id));
    }
}

fn heartbeat(
    config: &WorkerConfig,
    id: i64,
    owner: &str,
    shared: &Shared,
    (cancel, stop, done, server_stop): (&AtomicBool, &AtomicBool, &AtomicBool, &AtomicBool),
) {
    let every = (config.lease / 5).clamp(Duration::from_millis(100), Duration::from_secs(2));
    let mut store: Option<Box<dyn Store>> = None;
    let mut last = Instant::now() - every;
    while !done.load(Ordering::Relaxed) {
        if server_stop.load(Ordering::Relaxed) {
            stop.store(true, Ordering::Relaxed);
        }
        if last.elapsed() < every {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        last = Instant::now();
        if store.is_none() {
            store = roster_store::open(&config.database).ok();
        }
        let Some(s) = store.as_mut() else { continue };
        let step = shared.step.lock().map(|g| g.clone()).unwrap_or_default();
        match s.heartbeat_job(
            id,
            owner,
            shared.bytes.load(Ordering::Relaxed),
            shared.rows.load(Ordering::Relaxed),
            &step,
        ) {
            Ok(lease) if !lease.owned => {
                tracing::warn!(import = id, "lost the import's lease; stopping it here");
                stop.store(true, Ordering::Relaxed);
                return;
            }
            Ok(lease) => {
                if lease.cancel_requested {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
            Err(e) => {
                tracing::warn!(import = id, error = %e, "cannot renew the import's lease");
                store = None;
            }
        }
    }
}

fn run_pipeline(
    config: &WorkerConfig,
    owner: &str,
    job: &Job,
    shared: &Arc<Shared>,
    cancel: &Arc<AtomicBool>,
    stop: &Arc<AtomicBool>,
) -> Result<(), ImportError> {
    let mut store = roster_store::open(&config.database)?;
    shared.set_step("fetching the upload");
    let path = local_upload(config, store.as_mut(), job)?;
    let options: JobOptions = serde_json::from_value(job.options.clone()).unwrap_or_default();
    let mut opts = options.to_options(&job.started_by);
    let resumed = job.checkpoint.is_some();
    shared.set_step(if resumed { "resuming" } else { "importing" });
    if let Some(cp) = &job.checkpoint {
        shared.rows.store(cp.rows, Ordering::Relaxed);
    }
    {
        let shared = shared.clone();
        let resume_at = job.checkpoint.as_ref().map(|c| c.bytes).unwrap_or(0);
        opts.progress = Some(Box::new(move |p: Progress| {
            shared.bytes.store(p.bytes, Ordering::Relaxed);
            shared.rows.store(p.rows, Ordering::Relaxed);
            if resumed && p.bytes >= resume_at {
                shared.set_step("importing");
            }
        }));
    }
    opts.job = Some(JobRun {
        id: job.id,
        owner: owner.to_string(),
        resume: job.checkpoint.clone(),
        cancel: cancel.clone(),
        stop: stop.clone(),
        commit_every_batch: config.pause_after_commits.is_some(),
        pause_after_commits: config.pause_after_commits,
    });
    let input = Input::Path(path);
    match job.kind.as_str() {
        "users" => roster_import::import_users(
            store.as_mut(),
            input,
            &mut opts,
            roster_core::password::PasswordPolicy::from_env(),
        )?,
        _ => roster_import::import_contacts(store.as_mut(), input, &mut opts)?,
    };
    Ok(())
}

/// The job's upload on this server's disk: the copy it received, or one
/// read from the database (checked against the stored size and checksum).
fn local_upload(
    config: &WorkerConfig,
    store: &mut dyn Store,
    job: &Job,
) -> Result<PathBuf, ImportError> {
    let path = config.upload_path(job.id);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == job.total_bytes) {
        return Ok(path);
    }
    let part = path.with_extension("csv.part");
    let io = |e: std::io::Error| {
        ImportError::Output(format!(
            "cannot copy import {}'s upload to '{}': {e}; check free space in the data folder",
            job.id,
            part.display()
        ))
    };
    let _ = std::fs::create_dir_all(config.uploads());
    let mut out = std::io::BufWriter::new(std::fs::File::create(&part).map_err(io)?);
    let mut hash = Sha256::new();
    let mut len = 0u64;
    store.read_job_file(job.id, JobFile::Upload, &mut |chunk| {
        use std::io::Write;
        hash.update(chunk);
        len += chunk.len() as u64;
        out.write_all(chunk).map_err(|e| {
            StoreError::Database(format!("cannot write the upload to the data folder: {e}"))
        })
    })?;
    out.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    let sum: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if len != job.total_bytes
        || job
            .checksum
            .as_deref()
            .is_some_and(|c| !c.is_empty() && c != sum)
    {
        let _ = std::fs::remove_file(&part);
        return Err(ImportError::Options(format!(
            "the stored upload of import {} is incomplete or damaged ({len} of {} bytes); upload the file again",
            job.id, job.total_bytes
        )));
    }
    std::fs::rename(&part, &path).map_err(io)?;
    Ok(path)
}
