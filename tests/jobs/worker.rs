//! The job worker in-process: a queued job runs once, and a job stopped
//! mid-way resumes from its checkpoint to the same report, files and data
//! as an uninterrupted run.

use std::time::{Duration, Instant};

use roster_server::jobs::{Worker, WorkerConfig};
use roster_store::{Job, JobFile, NewJob};

use crate::support::Env;
use crate::{comparable, fixture, read};

fn queue(env: &Env, body: &str, options: serde_json::Value) -> i64 {
    let mut store = roster_store::open(&env.url).expect("open");
    store
        .enqueue_job(
            &NewJob {
                kind: "contacts".into(),
                options,
                started_by: "test".into(),
                file_name: "people.csv".into(),
                total_bytes: body.len() as u64,
                checksum: String::new(),
            },
            &mut body.as_bytes(),
        )
        .expect("enqueue")
}

fn config(env: &Env, data: &str) -> WorkerConfig {
    let mut c = WorkerConfig::new(&env.url, &env.path(data), Duration::from_secs(86_400));
    c.lease = Duration::from_secs(5);
    c.poll = Duration::from_millis(50);
    c
}

fn wait_for(env: &Env, id: i64, what: impl Fn(&Job) -> bool) -> Job {
    let mut store = roster_store::open(&env.url).expect("open");
    let start = Instant::now();
    loop {
        let job = store.job(id).expect("job");
        if what(&job) {
            return job;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "import {id} never got there: {job:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn file(env: &Env, id: i64, which: JobFile) -> String {
    let mut store = roster_store::open(&env.url).expect("open");
    let mut out = Vec::new();
    store
        .read_job_file(id, which, &mut |c| {
            out.extend_from_slice(c);
            Ok(())
        })
        .expect("read file");
    String::from_utf8(out).expect("utf-8")
}

behaviour!(stopped_job_resumes_exactly, |env| {
    let body = fixture(1500);
    let csv = env.write("people.csv", &body);
    // The reference: the CLI, in a database of its own.
    let cli = Env::new(env.backend, "cli_reference").expect("backend");
    let (_, expected) = cli.import(
        "contacts",
        &csv,
        &[
            "--batch-size",
            "100",
            "--rejects",
            &cli.path("rejects.csv").display().to_string(),
            "--outcomes",
            &cli.path("outcomes.csv").display().to_string(),
        ],
    );

    let id = queue(env, &body, serde_json::json!({ "batch_size": 100 }));
    let mut first = config(env, "data");
    first.pause_after_commits = Some((4, Duration::from_secs(60)));
    let worker = Worker::start(first).expect("start");
    let job = wait_for(env, id, |j| {
        j.checkpoint.as_ref().is_some_and(|c| c.rows >= 400)
    });
    assert_eq!(job.status, "running");
    worker.stop();
    let job = wait_for(env, id, |j| j.status == "interrupted");
    let at = job.checkpoint.expect("a checkpoint").rows;
    assert_eq!(at, 400, "four batches of 100 committed before the pause");

    let worker = Worker::start(config(env, "data")).expect("restart");
    let job = wait_for(env, id, Job::is_finished);
    worker.stop();
    assert_eq!(job.status, "succeeded", "{job:?}");
    assert_eq!(
        comparable(job.report.as_ref().expect("report")),
        comparable(&expected)
    );
    assert_eq!(
        file(env, id, JobFile::Outcomes),
        read(&cli.path("outcomes.csv"))
    );
    assert_eq!(
        file(env, id, JobFile::Rejects),
        read(&cli.path("rejects.csv"))
    );
    assert_eq!(env.export("contacts"), cli.export("contacts"));

    // Retention removes the files; the record and its report stay.
    let mut store = roster_store::open(&env.url).expect("open");
    assert_eq!(
        store
            .remove_old_job_files("1970-01-01T00:00:00.000Z")
            .unwrap(),
        0
    );
    let removed = store
        .remove_old_job_files("9999-01-01T00:00:00.000Z")
        .unwrap();
    assert_eq!(removed, 1, "{:#?}", store.jobs().unwrap());
    let kept = store.job(id).expect("the record stays");
    assert!(kept.files_removed);
    assert_eq!(kept.report, job.report);
    for which in [
        JobFile::Upload,
        JobFile::Outcomes,
        JobFile::Rejects,
        JobFile::Errors,
    ] {
        assert_eq!(file(env, id, which), "");
    }
});
