//! Named pause points for the test suite, so a test can kill an import
//! after exactly N commits, or let another writer in between an import's
//! load and its write. Off (one relaxed load per point reached) unless
//! the environment asks for one:
//!
//! - `ROSTER_TEST_PAUSE=POINT:N` — the N-th time the import reaches
//!   `POINT`, print `roster: test pause at POINT N` on standard error and
//!   wait: until the file `ROSTER_TEST_RESUME` names exists, or forever
//!   when it is unset (the test kills the process).
//! - `ROSTER_TEST_COMMIT_ROWS=N` — commit every N rows on the backends that
//!   group batches into bigger transactions (SQLite), instead of the
//!   backend's size.
//!
//! The points: `commit` (after each commit of imported rows) and `load`
//! (in a batch's transaction, after the batch's records were loaded and
//! locked, before anything is written).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

struct Pause {
    point: String,
    at: u64,
    resume: Option<std::path::PathBuf>,
    seen: AtomicU64,
}

fn pause() -> Option<&'static Pause> {
    static PAUSE: OnceLock<Option<Pause>> = OnceLock::new();
    PAUSE
        .get_or_init(|| {
            let v = std::env::var("ROSTER_TEST_PAUSE").ok()?;
            let (point, at) = v.rsplit_once(':')?;
            Some(Pause {
                point: point.to_string(),
                at: at.parse().ok()?,
                resume: std::env::var_os("ROSTER_TEST_RESUME").map(Into::into),
                seen: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// The import reached `point`: pauses there when the environment asks.
pub(crate) fn reached(point: &str) {
    let Some(p) = pause() else { return };
    if p.point != point || p.seen.fetch_add(1, Ordering::Relaxed) + 1 != p.at {
        return;
    }
    {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "roster: test pause at {point} {}", p.at);
        let _ = err.flush();
    }
    loop {
        if p.resume.as_ref().is_some_and(|f| f.exists()) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `ROSTER_TEST_COMMIT_ROWS`, when set to a positive number.
pub(crate) fn commit_rows() -> Option<u64> {
    static ROWS: OnceLock<Option<u64>> = OnceLock::new();
    *ROWS.get_or_init(|| {
        std::env::var("ROSTER_TEST_COMMIT_ROWS")
            .ok()?
            .parse()
            .ok()
            .filter(|&n| n > 0)
    })
}
