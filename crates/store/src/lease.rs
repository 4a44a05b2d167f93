//! Who holds a running import: a lease.
//!
//! An import record in status `running` names its `owner` (`HOST:PID:NONCE`
//! for the process that runs it, or whatever id a job runner's worker
//! uses) and carries a `heartbeat_at` time and a `progress` object that the
//! owner renews *inside each transaction that commits rows*
//! ([`crate::Imports::heartbeat_import`]). So:
//!
//! - a batch commits only while its worker still owns the running record:
//!   the heartbeat is a conditional `UPDATE … WHERE owner = ? AND status =
//!   'running'`, and when it matches nothing (the import was undone,
//!   cancelled or declared interrupted meanwhile) the batch is rolled back;
//! - `progress` always describes what is committed, because it commits with
//!   the rows it counts;
//! - a record whose owner is gone ([`owner_is_gone`]) is turned into
//!   `interrupted` with a compare-and-set on the heartbeat it was seen with
//!   ([`crate::Imports::interrupt_import`]), its report being the last
//!   committed progress.
//!
//! Status transitions are conditional `UPDATE`s in the store; nothing reads
//! a status and then writes it unconditionally.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{ImportRecord, Imports, Result};

/// A heartbeat older than this, from an owner on another host (or whose
/// liveness cannot be checked), means the owner is gone.
pub const LEASE_TTL: Duration = Duration::from_secs(60);

/// This machine's name, as owners record it.
pub fn local_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && !h.contains(':'))
        .unwrap_or_else(|| "localhost".into())
}

/// A fresh owner id for this process: `HOST:PID:NONCE` (the nonce tells
/// two runs of one process apart).
pub fn new_owner() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    format!(
        "{}:{}:{:x}{:x}",
        local_host(),
        std::process::id(),
        nanos & 0xffff_ffff,
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether the owner of a `running` record is gone: an owner on this host
/// whose process no longer exists; otherwise (another host, or an owner
/// id that names no process) a heartbeat older than [`LEASE_TTL`]. A
/// running record with no owner at all (written before owners existed) is
/// gone.
///
/// A live local process is never declared gone, however old its
/// heartbeat: an `--atomic` import renews its heartbeat inside its one
/// transaction, so nobody sees it until the end.
pub fn owner_is_gone(owner: Option<&str>, heartbeat_at: Option<&str>) -> bool {
    let Some(owner) = owner else { return true };
    let mut parts = owner.splitn(3, ':');
    let (host, pid) = (
        parts.next(),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
    );
    let proc_fs = std::path::Path::new("/proc/self").exists();
    if let (Some(host), Some(pid), true) = (host, pid, proc_fs) {
        if host == local_host() {
            return !process_is_alive(pid);
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    match heartbeat_at.and_then(crate::time::parse_rfc3339_millis) {
        Some(at) => now - at > LEASE_TTL.as_millis() as i64,
        None => true,
    }
}

/// Whether process `pid` of this host exists and is not a zombie.
fn process_is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "PID (COMMAND) STATE …": the command may hold spaces and ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// Settles a record read from the store: a `running` record whose owner is
/// gone becomes `interrupted` (stored, with its last committed progress as
/// its report). Returns the record as it now stands.
pub fn settle(store: &mut dyn Imports, rec: ImportRecord) -> Result<ImportRecord> {
    if rec.status != "running" || !owner_is_gone(rec.owner.as_deref(), rec.heartbeat_at.as_deref())
    {
        return Ok(rec);
    }
    store.interrupt_import(rec.id, rec.owner.as_deref(), rec.heartbeat_at.as_deref())?;
    // Whether this process or another one won, the stored record is the truth.
    store.import(rec.id)
}

/// "3 s ago", for messages about a heartbeat.
pub fn age(at: Option<&str>) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    match at.and_then(crate::time::parse_rfc3339_millis) {
        Some(t) => format!("{} s ago", ((now - t).max(0) + 500) / 1000),
        None => "never".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_dead_process_is_gone_and_a_live_one_is_not() {
        let me = new_owner();
        assert!(!owner_is_gone(Some(&me), None), "{me}");
        let dead = format!("{}:{}:0", local_host(), u32::MAX - 7);
        assert!(owner_is_gone(Some(&dead), Some(&crate::now_rfc3339())));
        assert!(owner_is_gone(None, None));
        let remote_fresh = "elsewhere.example:1:0";
        assert!(!owner_is_gone(
            Some(remote_fresh),
            Some(&crate::now_rfc3339())
        ));
        assert!(owner_is_gone(
            Some(remote_fresh),
            Some("2000-01-01T00:00:00.000Z")
        ));
    }
}
