//! Import history and undo: contacts and users, conflicts, --force,
//! --dry-run, prune, and an undo killed half-way. Every test runs on SQLite
//! and on PostgreSQL.

#[path = "../behaviour/support.rs"]
#[allow(dead_code)]
mod support;

#[path = "../server/harness.rs"]
#[allow(dead_code)]
mod harness;

mod cli;
mod property;

use std::collections::BTreeMap;

use roster_store::Store;

/// Everything an export shows (and, for users, the password hash too),
/// without ids and bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub contacts: BTreeMap<String, ContactData>,
    pub users: BTreeMap<String, UserData>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactData {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_id: Option<i64>,
    pub labels: Vec<i64>,
    pub custom: BTreeMap<i64, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub password_hash: String,
    pub active: bool,
    pub role: String,
}

pub fn state(store: &mut dyn Store) -> State {
    let mut s = State::default();
    store
        .each_contact(&mut |c| {
            s.contacts.insert(
                c.email,
                ContactData {
                    first_name: c.first_name,
                    last_name: c.last_name,
                    company_id: c.company_id,
                    labels: c.labels,
                    custom: c.custom,
                },
            );
            Ok(())
        })
        .expect("read contacts");
    store
        .each_user(&mut |u| {
            s.users.insert(
                u.email,
                UserData {
                    first_name: u.first_name,
                    last_name: u.last_name,
                    password_hash: u.password_hash,
                    active: u.active,
                    role: u.role.as_str().to_string(),
                },
            );
            Ok(())
        })
        .expect("read users");
    s
}
