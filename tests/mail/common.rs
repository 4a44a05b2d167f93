//! What the mail tests share: fixtures, the standard mailboxes, reading
//! contacts back.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::support::Env;

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
