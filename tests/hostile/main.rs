//! Hostile and careless input (issue 8): no silent loss, bounded memory,
//! limits that name their option, and import records that never lie. Every
//! storage test runs on SQLite and on PostgreSQL.

#[path = "../behaviour/support.rs"]
#[allow(dead_code)]
mod support;

mod files;
mod records;
mod smaller;

use std::path::PathBuf;

use support::{Backend, Env};

/// Runs one SQL statement against the test's database (to play another
/// process that changes a record behind an import's back).
pub fn sql(env: &Env, statement: &str) {
    match env.backend {
        Backend::Sqlite => {
            let path = env.url.trim_start_matches("sqlite://");
            let c = rusqlite::Connection::open(path).expect("open the SQLite file");
            c.busy_timeout(std::time::Duration::from_secs(30))
                .expect("busy timeout");
            c.execute_batch(statement).expect("run SQL");
        }
        Backend::Postgres => {
            let (base, schema) = env
                .url
                .rsplit_once("schema=")
                .expect("the test URL names its schema");
            let base = base.trim_end_matches(['?', '&']);
            let mut c = postgres::Client::connect(base, postgres::NoTls).expect("connect");
            c.batch_execute(&format!("SET search_path TO \"{schema}\"; {statement}"))
                .expect("run SQL");
        }
    }
}

/// The import records as `roster imports list --json` shows them.
pub fn records(env: &Env) -> Vec<serde_json::Value> {
    let out = env.ok(&["imports", "list", "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("imports list --json: {e}: {out}"))
}

/// Contacts in the database (rows of the export).
pub fn contacts(env: &Env) -> usize {
    env.export("contacts").lines().count() - 1
}

/// A contacts file of `n` rows.
pub fn rows(env: &Env, name: &str, n: usize) -> PathBuf {
    let mut body = String::with_capacity(n * 40 + 20);
    body.push_str("email,first_name\n");
    for i in 0..n {
        body.push_str(&format!("user{i}@example.com,Name{i}\n"));
    }
    env.write(name, body)
}
