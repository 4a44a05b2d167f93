//! What the mail tests share: fixtures, the standard mailboxes, reading
//! contacts back.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::support::{Backend, Env};

/// A fixture message from tests/data/mail.
pub fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", "mail", name]
        .iter()
        .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `support` (support@example.com, alias help@example.com, captures all)
/// and `sales` (sales@example.com, senders only); the team user
/// agent@example.com.
pub fn standard_setup(env: &Env) {
    env.ok(&[
        "mailboxes",
        "add",
        "support",
        "--address",
        "support@example.com",
        "--alias",
        "help@example.com",
    ]);
    env.ok(&[
        "mailboxes",
        "add",
        "sales",
        "--address",
        "sales@example.com",
        "--capture",
        "senders",
    ]);
    let users = env.write(
        "team.csv",
        "email,first_name,last_name,password,role\nagent@example.com,Agent,Smith,secret-pass,agent\n",
    );
    let (code, report) = env.import("users", &users, &[]);
    assert_eq!(code, 0, "{report}");
}

/// Every contact as email → (first_name, last_name), from the export.
pub fn contacts(env: &Env) -> BTreeMap<String, (String, String)> {
    let csv = env.export("contacts");
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    r.records()
        .map(|rec| {
            let rec = rec.expect("a CSV record");
            (rec[0].to_string(), (rec[1].to_string(), rec[2].to_string()))
        })
        .collect()
}

/// One SQL query's first row as text columns, on the test's database.
pub fn sql_row(env: &Env, sql: &str) -> Vec<Option<String>> {
    match env.backend {
        Backend::Sqlite => {
            let path = env.url.strip_prefix("sqlite://").expect("a SQLite URL");
            let c = rusqlite::Connection::open(path).expect("open SQLite");
            c.query_row(sql, [], |r| {
                let n = r.as_ref().column_count();
                (0..n)
                    .map(|i| {
                        r.get::<_, Option<rusqlite::types::Value>>(i)
                            .map(|v| match v {
                                Some(rusqlite::types::Value::Integer(n)) => Some(n.to_string()),
                                Some(rusqlite::types::Value::Text(t)) => Some(t),
                                Some(other) => Some(format!("{other:?}")),
                                None => None,
                            })
                    })
                    .collect()
            })
            .expect("run the query")
        }
        Backend::Postgres => {
            let mut c = pg_client(env);
            let row = c.query_one(sql, &[]).expect("run the query");
            (0..row.len())
                .map(|i| {
                    row.try_get::<_, Option<String>>(i)
                        .ok()
                        .flatten()
                        .or_else(|| {
                            row.try_get::<_, Option<i64>>(i)
                                .ok()
                                .flatten()
                                .map(|n| n.to_string())
                        })
                })
                .collect()
        }
    }
}

/// Runs statements on the test's database (to break it on purpose).
pub fn sql_execute(env: &Env, sql: &str) {
    match env.backend {
        Backend::Sqlite => {
            let path = env.url.strip_prefix("sqlite://").expect("a SQLite URL");
            let c = rusqlite::Connection::open(path).expect("open SQLite");
            c.busy_timeout(std::time::Duration::from_secs(10))
                .expect("busy timeout");
            c.execute_batch(sql).expect("run the statements");
        }
        Backend::Postgres => {
            pg_client(env)
                .batch_execute(sql)
                .expect("run the statements");
        }
    }
}

fn pg_client(env: &Env) -> postgres::Client {
    let (base, schema) = env.url.split_once("?schema=").expect("a schema in the URL");
    let mut c = postgres::Client::connect(base, postgres::NoTls).expect("connect");
    c.batch_execute(&format!("SET search_path TO \"{schema}\""))
        .expect("set the schema");
    c
}
