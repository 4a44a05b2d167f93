//! The HTTP import options (`POST /api/imports?…`): query pairs from the
//! input (`&`-separated `name=value`), checked before anything is stored.
//! Accepted options always make import options; a refusal names the
//! option and is one bounded sentence.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_import::job::{parse_delimiter, JobOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs: Vec<(&str, &str)> = text
        .split('&')
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    match JobOptions::from_pairs(pairs.iter().copied(), &["kind"]) {
        Ok(o) => {
            // What a job stores reads back the same.
            let json = serde_json::to_string(&o).expect("serializes");
            let back: JobOptions = serde_json::from_str(&json).expect("reads back");
            assert_eq!(back, o);
            let opts = o.to_options("fuzz");
            assert_eq!(opts.dry_run, o.dry_run);
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            assert!(e.message.len() <= 1024, "{}", e.message);
            assert!(pairs.iter().any(|(n, _)| *n == e.name), "{e:?}");
        }
    }
    let _ = parse_delimiter(text);
});
