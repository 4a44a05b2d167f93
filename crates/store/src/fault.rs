//! Named failure points, for the fault-injection tests (tests/faults).
//!
//! `ROSTER_TEST_FAULT` lists the points to trip, comma-separated, each as
//! `POINT[@N][=ACTION]`: the Nth time (1-based, default the first) the
//! process reaches `POINT`, it does `ACTION`:
//!
//! - `error` (the default): the operation fails with a database error
//!   naming the point, as a lost connection or a failed write would;
//! - `full`: the operation fails as a write to a full disk does;
//! - `abort`: the process dies on the spot (`abort()`: no destructor, no
//!   flush, no rollback), as under a SIGKILL or a power cut.
//!
//! The points (see [`POINTS`]) sit where a crash or failure hurts most:
//! before and after a batch is written, just before and just after a
//! commit, after a batch's accounting, and while the `--outcomes` and
//! `--rejects` files are written. Unset, every check is one atomic load.
//!
//! *Architecture Invariant*: a tripped point never changes what is written,
//! only where the process stops or fails; the tests then check that what
//! the database holds is whole batches and that importing the file again
//! ends in the state of an uninterrupted run.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::StoreError;

/// Every point a test can trip, in the order an import reaches them.
pub const POINTS: &[&str] = &[
    // A backend's write_contacts / write_users, before anything is sent.
    "store.before_write",
    // The same, after the batch's rows are written, before returning.
    "store.after_write",
    // Store::commit, before COMMIT is sent.
    "store.commit",
    // Store::commit, after the database acknowledged COMMIT.
    "store.after_commit",
    // The pipeline, after a batch's outcomes are counted (committed or not).
    "pipeline.after_batch",
    // One line of the --outcomes file (or a job's outcomes file).
    "outcomes.write",
    // One row of the --rejects file (or a job's rejects file).
    "rejects.write",
];

/// `ROSTER_TEST_SQLITE_MAX_PAGES=N`: SQLite databases opened by this
/// process cannot grow past N pages (`PRAGMA max_page_count`), so a write
/// that needs more fails as on a full disk, inside SQLite itself.
pub fn sqlite_max_pages() -> Option<u64> {
    std::env::var("ROSTER_TEST_SQLITE_MAX_PAGES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
}

/// What a tripped point does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Error,
    Full,
    Abort,
}

struct Fault {
    point: String,
    nth: u64,
    action: Action,
}

struct Faults {
    faults: Vec<Fault>,
    seen: Mutex<HashMap<String, u64>>,
}

fn faults() -> Option<&'static Faults> {
    static FAULTS: OnceLock<Option<Faults>> = OnceLock::new();
    FAULTS
        .get_or_init(|| {
            let spec = std::env::var("ROSTER_TEST_FAULT").ok()?;
            let faults: Vec<Fault> = spec
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(parse)
                .collect();
            (!faults.is_empty()).then(|| Faults {
                faults,
                seen: Mutex::new(HashMap::new()),
            })
        })
        .as_ref()
}

fn parse(item: &str) -> Fault {
    let (rest, action) = match item.trim().split_once('=') {
        Some((r, a)) => (r, a.trim()),
        None => (item.trim(), "error"),
    };
    let (point, nth) = match rest.split_once('@') {
        Some((p, n)) => (p.trim(), n.trim().parse().unwrap_or(1)),
        None => (rest.trim(), 1),
    };
    let action = match action {
        "abort" | "kill" => Action::Abort,
        "full" => Action::Full,
        _ => Action::Error,
    };
    Fault {
        point: point.to_string(),
        nth: nth.max(1),
        action,
    }
}

/// Reaches the failure point `point`: nothing happens unless
/// `ROSTER_TEST_FAULT` names it for this visit.
pub fn check(point: &'static str) -> Result<(), StoreError> {
    let Some(f) = faults() else { return Ok(()) };
    if !f.faults.iter().any(|x| x.point == point) {
        return Ok(());
    }
    let visit = {
        let mut seen = f.seen.lock().unwrap_or_else(|e| e.into_inner());
        let n = seen.entry(point.to_string()).or_insert(0);
        *n += 1;
        *n
    };
    match f
        .faults
        .iter()
        .find(|x| x.point == point && x.nth == visit)
        .map(|x| x.action)
    {
        None => Ok(()),
        Some(Action::Abort) => {
            eprintln!("ROSTER_TEST_FAULT: aborting at {point} (visit {visit})");
            std::process::abort()
        }
        Some(Action::Error) => Err(StoreError::Database(format!(
            "injected failure at {point} (ROSTER_TEST_FAULT)"
        ))),
        Some(Action::Full) => Err(StoreError::Database(format!(
            "database or disk is full (injected at {point} by ROSTER_TEST_FAULT)"
        ))),
    }
}

/// As [`check`], for a file write: the error is an I/O error (`full` is
/// ENOSPC's "No space left on device").
pub fn check_io(point: &'static str) -> std::io::Result<()> {
    check(point).map_err(|e| {
        let text = e.to_string();
        if text.starts_with("database or disk is full") {
            std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!("No space left on device (injected at {point} by ROSTER_TEST_FAULT)"),
            )
        } else {
            std::io::Error::other(text)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_point_visit_and_action() {
        let f = parse("store.commit@3=abort");
        assert_eq!(
            (f.point.as_str(), f.nth, f.action),
            ("store.commit", 3, Action::Abort)
        );
        let f = parse(" outcomes.write = full ");
        assert_eq!(
            (f.point.as_str(), f.nth, f.action),
            ("outcomes.write", 1, Action::Full)
        );
        let f = parse("store.before_write");
        assert_eq!(
            (f.point.as_str(), f.nth, f.action),
            ("store.before_write", 1, Action::Error)
        );
    }
}
