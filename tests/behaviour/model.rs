//! An independent model of the import rules, written from the user guide
//! (docs/csv.md, docs/import.md), never calling the engine: rows apply one
//! at a time, in file order, to an in-memory directory. The property tests
//! (property.rs) hold the engine to it.
//!
//! Where the guide leaves an order open, the model writes down the one the
//! engine documents: a rejected row names its first problem, and the
//! row's own cells (email, then company_id, labels_id and custom values)
//! are checked before what must exist in the database (the company, the
//! label names, the label ids).

use std::collections::{BTreeMap, BTreeSet};

/// What happened to a row, as `--outcomes` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Rejected,
}

impl Outcome {
    /// The word in `--outcomes`; any other word fails the test.
    pub fn parse(s: &str) -> Outcome {
        match s {
            "created" => Outcome::Created,
            "updated" => Outcome::Updated,
            "unchanged" => Outcome::Unchanged,
            "rejected" => Outcome::Rejected,
            other => panic!("unknown outcome '{other}' in --outcomes"),
        }
    }
}

/// A row's outcome and the kind of its message: the column of a rejected
/// row's first problem (`row` for the row as a whole), `skipped` for a row
/// `--on-existing skip` left alone, empty otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowResult {
    pub line: u64,
    pub email: String,
    pub outcome: Outcome,
    pub kind: String,
}

/// The report's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub repeated: u64,
    pub committed: u64,
    pub labels_created: u64,
}

/// The import options the model knows.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub skip: bool,
    pub keep: Vec<String>,
    pub create_labels: bool,
    pub replace_labels: bool,
    pub atomic: bool,
    pub dry_run: bool,
}

impl Flags {
    fn keeps(&self, column: &str) -> bool {
        self.keep.iter().any(|k| {
            k == column
                || (column == "labels" && k == "labels_id")
                || (column == "password" && k == "password_hash")
        })
    }
}

/// The normalized form of the addresses the tests use, or None when the
/// guide says the address is rejected. (The full rules have their own
/// tests; the model needs case folding and what is plainly not an address.)
pub fn email(cell: &str) -> Result<String, &'static str> {
    let e = cell.trim().to_lowercase();
    if e.is_empty() {
        return Err("email");
    }
    let (local, domain) = e.split_once('@').ok_or("email")?;
    if local.is_empty() || !domain.contains('.') || domain.contains('@') {
        return Err("email");
    }
    Ok(e)
}

/// A `number` custom value in its stored form: optional sign, digits,
/// optional `.` fraction; no leading zeros, `+` or trailing fractional zeros.
pub fn number(cell: &str) -> Option<String> {
    let (sign, rest) = match cell.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", cell.strip_prefix('+').unwrap_or(cell)),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (rest.contains('.') && frac.is_empty()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = frac.trim_end_matches('0');
    let v = if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    };
    Some(if v == "0" { v } else { format!("{sign}{v}") })
}

fn id(cell: &str) -> Option<i64> {
    (!cell.is_empty() && cell.bytes().all(|b| b.is_ascii_digit()))
        .then(|| cell.parse().ok())
        .flatten()
}

/// A contact as the model keeps it: labels by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Contact {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_id: Option<i64>,
    pub labels: BTreeSet<String>,
    pub seats: Option<String>,
}

/// The directory the contacts rows apply to.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub contacts: BTreeMap<String, Contact>,
    /// Label name → id, for the ids the file may use.
    pub labels: BTreeMap<String, i64>,
    /// Labels created by `--create-labels` (their ids are the database's).
    pub new_labels: BTreeSet<String>,
    pub companies: BTreeSet<i64>,
}

/// A contacts row: email, first_name, last_name, company_id, labels,
/// labels_id, seats (a number custom field).
pub type ContactRow = [String; 7];
pub const CONTACT_HEADER: &str = "email,first_name,last_name,company_id,labels,labels_id,seats";

impl Directory {
    fn label_exists(&self, name: &str) -> bool {
        self.labels.contains_key(name) || self.new_labels.contains(name)
    }

    /// Applies the rows of one contacts file; returns each row's result and
    /// the report's counts.
    pub fn import(&mut self, rows: &[ContactRow], flags: &Flags) -> (Vec<RowResult>, Counts) {
        let before = self.clone();
        let mut results = Vec::new();
        let mut counts = Counts::default();
        let mut accepted = BTreeSet::new();
        let mut created_labels = BTreeSet::new();
        for (i, row) in rows.iter().enumerate() {
            let line = i as u64 + 2;
            let cells: Vec<&str> = row.iter().map(|c| c.trim()).collect();
            if cells.iter().all(|c| c.is_empty()) {
                continue; // a blank line: skipped, not counted
            }
            counts.rows += 1;
            let (outcome, kind, email) = self.apply_contact(&cells, flags, &mut created_labels);
            if outcome == Outcome::Rejected {
                counts.rejected += 1;
            } else {
                if !accepted.insert(email.clone()) {
                    counts.repeated += 1;
                }
                match outcome {
                    Outcome::Created => counts.created += 1,
                    Outcome::Updated => counts.updated += 1,
                    _ => counts.unchanged += 1,
                }
            }
            results.push(RowResult {
                line,
                email,
                outcome,
                kind,
            });
        }
        let nothing = flags.dry_run || (flags.atomic && counts.rejected > 0);
        if nothing {
            *self = before;
            if flags.atomic && !flags.dry_run {
                // Nothing was written: nothing was created, updated or left unchanged.
                counts.created = 0;
                counts.updated = 0;
                counts.unchanged = 0;
            }
        } else {
            counts.committed = counts.rows;
            counts.labels_created = created_labels.len() as u64;
        }
        (results, counts)
    }

    fn apply_contact(
        &mut self,
        c: &[&str],
        flags: &Flags,
        created_labels: &mut BTreeSet<String>,
    ) -> (Outcome, String, String) {
        let [email_cell, first, last, company, labels, labels_id, seats] = c else {
            unreachable!("seven cells")
        };
        let reject = |kind: &str, email: String| (Outcome::Rejected, kind.to_string(), email);
        // The row's own cells.
        let email = match email(email_cell) {
            Ok(e) => e,
            Err(k) => return reject(k, email_cell.to_string()),
        };
        let company = match company {
            &"" => None,
            v => match id(v) {
                Some(i) => Some(i),
                None => return reject("company_id", email),
            },
        };
        let parts = |s: &str| -> Vec<String> {
            s.split(':')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        };
        let mut ids = Vec::new();
        for p in parts(labels_id) {
            match id(&p) {
                Some(i) => ids.push(i),
                None => return reject("labels_id", email),
            }
        }
        let seats = match seats {
            &"" => None,
            v => match number(v) {
                Some(n) => Some(n),
                None => return reject("seats", email),
            },
        };
        // What must exist.
        if let Some(id) = company {
            if !self.companies.contains(&id) {
                return reject("company_id", email);
            }
        }
        let mut names: BTreeSet<String> = BTreeSet::new();
        let mut to_create = Vec::new();
        for name in parts(labels) {
            if self.label_exists(&name) {
                names.insert(name);
                continue;
            }
            let comma_parts: Vec<&str> = name
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            let commas = comma_parts.len() > 1 && comma_parts.iter().all(|p| self.label_exists(p));
            // A case variant of a label, or of one the row creates.
            let case_variant = self
                .labels
                .keys()
                .chain(self.new_labels.iter())
                .chain(to_create.iter())
                .any(|l| *l != name && l.to_lowercase() == name.to_lowercase());
            if flags.create_labels && !commas && !case_variant {
                if !to_create.contains(&name) {
                    to_create.push(name.clone());
                }
                names.insert(name);
            } else {
                return reject("labels", email);
            }
        }
        for i in ids {
            match self.labels.iter().find(|(_, v)| **v == i) {
                Some((n, _)) => {
                    names.insert(n.clone());
                }
                None => return reject("labels_id", email),
            }
        }
        // Accepted: the labels it names exist from now on.
        for n in to_create {
            if self.new_labels.insert(n.clone()) {
                created_labels.insert(n);
            }
        }
        let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let Some(old) = self.contacts.get(&email).cloned() else {
            let new = Contact {
                email: email.clone(),
                first_name: text(first),
                last_name: text(last),
                company_id: company,
                labels: names,
                seats,
            };
            self.contacts.insert(email.clone(), new);
            return (Outcome::Created, String::new(), email);
        };
        if flags.skip {
            return (Outcome::Unchanged, "skipped".into(), email);
        }
        let mut new = old.clone();
        let set = |column: &str, cell: &str, v: &mut Option<String>| {
            if !cell.is_empty() && !flags.keeps(column) {
                *v = Some(cell.to_string());
            }
        };
        set("first_name", first, &mut new.first_name);
        set("last_name", last, &mut new.last_name);
        if company.is_some() && !flags.keeps("company_id") {
            new.company_id = company;
        }
        if !names.is_empty() && !flags.keeps("labels") {
            if flags.replace_labels {
                new.labels = names;
            } else {
                new.labels.extend(names);
            }
        }
        if seats.is_some() && !flags.keeps("seats") {
            new.seats = seats;
        }
        let outcome = if new == old {
            Outcome::Unchanged
        } else {
            Outcome::Updated
        };
        self.contacts.insert(email.clone(), new);
        (outcome, String::new(), email)
    }
}

/// A user as the model keeps it: the password it signs in with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct User {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub active: bool,
    pub admin: bool,
    /// The password that signs in, and the stored hash when it came from a
    /// `password_hash` cell (None: a hash Roster made).
    pub password: String,
    pub imported_hash: Option<String>,
}

/// A users row: email, first_name, last_name, password, active, role,
/// password_hash.
pub type UserRow = [String; 7];
pub const USER_HEADER: &str = "email,first_name,last_name,password,active,role,password_hash";

/// The users the rows apply to. `hashes` gives the password behind each
/// PHC string the tests import; any other hash is malformed.
#[derive(Debug, Clone, Default)]
pub struct Team {
    pub users: BTreeMap<String, User>,
    pub hashes: BTreeMap<String, String>,
}

impl Team {
    pub fn import(&mut self, rows: &[UserRow], flags: &Flags) -> (Vec<RowResult>, Counts) {
        let before = self.clone();
        let mut results = Vec::new();
        let mut counts = Counts::default();
        let mut accepted = BTreeSet::new();
        for (i, row) in rows.iter().enumerate() {
            let line = i as u64 + 2;
            let cells: Vec<&str> = row.iter().map(|c| c.trim()).collect();
            if cells.iter().all(|c| c.is_empty()) {
                continue;
            }
            counts.rows += 1;
            let (outcome, kind, email) = self.apply_user(&cells, flags);
            if outcome == Outcome::Rejected {
                counts.rejected += 1;
            } else {
                if !accepted.insert(email.clone()) {
                    counts.repeated += 1;
                }
                match outcome {
                    Outcome::Created => counts.created += 1,
                    Outcome::Updated => counts.updated += 1,
                    _ => counts.unchanged += 1,
                }
            }
            results.push(RowResult {
                line,
                email,
                outcome,
                kind,
            });
        }
        if flags.dry_run || (flags.atomic && counts.rejected > 0) {
            *self = before;
            if flags.atomic && !flags.dry_run {
                counts.created = 0;
                counts.updated = 0;
                counts.unchanged = 0;
            }
        } else {
            counts.committed = counts.rows;
        }
        (results, counts)
    }

    fn apply_user(&mut self, c: &[&str], flags: &Flags) -> (Outcome, String, String) {
        let [email_cell, first, last, password, active, role, hash] = c else {
            unreachable!("seven cells")
        };
        let reject = |kind: &str, email: String| (Outcome::Rejected, kind.to_string(), email);
        let email = match email(email_cell) {
            Ok(e) => e,
            Err(k) => return reject(k, email_cell.to_string()),
        };
        // Cells in the order the guide lists them.
        if !password.is_empty() && password.chars().count() < 6 {
            return reject("password", email);
        }
        if !hash.is_empty() && (!self.hashes.contains_key(*hash) || !password.is_empty()) {
            return reject("password_hash", email);
        }
        let active = match active.to_lowercase().as_str() {
            "" => None,
            "true" => Some(true),
            "false" => Some(false),
            _ => return reject("active", email),
        };
        let admin = match role.to_lowercase().as_str() {
            "" => None,
            "admin" => Some(true),
            "agent" => Some(false),
            _ => return reject("role", email),
        };
        let credential = if !hash.is_empty() {
            Some((self.hashes[*hash].clone(), Some(hash.to_string())))
        } else if !password.is_empty() {
            Some((password.to_string(), None))
        } else {
            None
        };
        let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let Some(old) = self.users.get(&email).cloned() else {
            let Some((password, imported_hash)) = credential else {
                return reject("password", email);
            };
            self.users.insert(
                email.clone(),
                User {
                    email: email.clone(),
                    first_name: text(first),
                    last_name: text(last),
                    active: active.unwrap_or(true),
                    admin: admin.unwrap_or(false),
                    password,
                    imported_hash,
                },
            );
            return (Outcome::Created, String::new(), email);
        };
        if flags.skip {
            return (Outcome::Unchanged, "skipped".into(), email);
        }
        let mut new = old.clone();
        if !first.is_empty() && !flags.keeps("first_name") {
            new.first_name = text(first);
        }
        if !last.is_empty() && !flags.keeps("last_name") {
            new.last_name = text(last);
        }
        if let Some(a) = active.filter(|_| !flags.keeps("active")) {
            new.active = a;
        }
        if let Some(a) = admin.filter(|_| !flags.keeps("role")) {
            new.admin = a;
        }
        if let Some((p, h)) = credential.filter(|_| !flags.keeps("password")) {
            match h {
                // An imported hash is stored as it is.
                Some(h) => {
                    new.password = p;
                    new.imported_hash = Some(h);
                }
                // A password that already signs in changes nothing.
                None if p == new.password => {}
                None => {
                    new.password = p;
                    new.imported_hash = None;
                }
            }
        }
        let outcome = if new == old {
            Outcome::Unchanged
        } else {
            Outcome::Updated
        };
        self.users.insert(email.clone(), new);
        (outcome, String::new(), email)
    }
}
