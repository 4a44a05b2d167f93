//! Imports as durable background jobs: the worker, the queue, resume after
//! an interruption, and (against real `roster serve` processes) the HTTP
//! routes. Every test runs on SQLite and on PostgreSQL.

#[path = "../behaviour/support.rs"]
#[macro_use]
#[allow(dead_code)]
mod support;

#[path = "../server/harness.rs"]
#[allow(dead_code, unused_macros)]
mod harness;

mod http;
mod worker;

use std::path::Path;

/// A contacts file with the cases a resumed run must count exactly as an
/// uninterrupted one: repeated emails, rows rejected while parsing (a bad
/// email) and while applying (an unknown label), and plain rows.
pub fn fixture(rows: usize) -> String {
    let mut s = String::from("email,first_name,last_name,labels\n");
    for i in 0..rows {
        let email = if i % 97 == 13 {
            format!("broken{i}@@example.com")
        } else {
            // Every 7th row repeats an earlier email.
            let n = if i % 7 == 6 { i / 2 } else { i };
            format!("person{n}@example.com")
        };
        let labels = if i % 50 == 7 { "Nope" } else { "" };
        s.push_str(&format!("{email},First{i},Last {i},{labels}\n"));
    }
    s
}

/// The report without what differs between two runs of one file (the
/// import's id).
pub fn comparable(report: &serde_json::Value) -> serde_json::Value {
    let mut r = report.clone();
    if let Some(o) = r.as_object_mut() {
        o.remove("id");
    }
    r
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
