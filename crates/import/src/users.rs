//! The users import: the same pipeline as contacts; what differs
//! is the row type, and that passwords are hashed on every core, one batch
//! at a time, so the writer never waits for the whole file to be hashed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use roster_core::password::{check_imported_hash, check_new_password, Password, PasswordPolicy};
use roster_store::{Role, Store, StoreError, User, UserWrite};

use crate::header::Plan;
use crate::pipeline::{self, Item, Kind, RowParser};
use crate::{ImportError, Input, OnExisting, Options, Outcome, Report, RowError};

/// The columns of a users file; the seed's five, then the optional ones.
pub const USER_COLUMNS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "password",
    "active",
    "role",
    "password_hash",
];
const FIRST_NAME: usize = 1;
const LAST_NAME: usize = 2;
const PASSWORD: usize = 3;
const ACTIVE: usize = 4;
const ROLE: usize = 5;
const PASSWORD_HASH: usize = 6;

/// Rows per batch: hashing dominates, so a batch is a few seconds of work
/// at most and the progress bar moves.
pub const DEFAULT_BATCH_SIZE: usize = 64;

/// Imports a users CSV into `store`, hashing passwords with `policy`.
pub fn import_users(
    store: &mut dyn Store,
    input: Input,
    opts: &mut Options,
    policy: PasswordPolicy,
) -> Result<Report, ImportError> {
    let mut kind = UsersKind {
        policy,
        on_existing: opts.on_existing,
        keep: KeepUser::default(),
        threads: hashing_threads(policy),
        memory: std::sync::Mutex::new(Vec::new()),
    };
    pipeline::run(&mut kind, store, input, opts)
}

/// The memory all hashing threads together may take (Argon2 needs its
/// `m` cost in memory per hash): with the production parameters (19 MiB)
/// that is 6 threads, whatever the machine's core count.
pub const HASHING_MEMORY_BUDGET: u64 = 128 << 20;

/// Threads that hash passwords: every core (or `ROSTER_HASH_THREADS`), but
/// no more than [`HASHING_MEMORY_BUDGET`] allows.
fn hashing_threads(policy: PasswordPolicy) -> usize {
    let wanted = std::env::var("ROSTER_HASH_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
    let per_hash = policy.memory_bytes().max(1);
    wanted.min((HASHING_MEMORY_BUDGET / per_hash).max(1) as usize)
}

/// A users row, parsed. `Debug` never shows the password.
#[derive(Debug)]
pub(crate) struct UserRow {
    first_name: Option<String>,
    last_name: Option<String>,
    password: Option<Password>,
    password_hash: Option<String>,
    active: Option<bool>,
    role: Option<Role>,
}

#[derive(Default)]
struct KeepUser {
    first_name: bool,
    last_name: bool,
    password: bool,
    active: bool,
    role: bool,
}

struct UsersKind {
    policy: PasswordPolicy,
    on_existing: OnExisting,
    keep: KeepUser,
    threads: usize,
    /// Argon2 working memory, one per hashing thread, kept across batches.
    memory: std::sync::Mutex<Vec<roster_core::password::HashMemory>>,
}

struct UserParser;

impl RowParser for UserParser {
    type Row = UserRow;

    fn parse(
        &self,
        plan: &Plan,
        cells: &[&str],
        line: u64,
        errors: &mut Vec<RowError>,
    ) -> Option<UserRow> {
        let cell = |s: usize| plan.cell(cells, s);
        let text = |s: usize| Some(cell(s)).filter(|c| !c.is_empty()).map(str::to_string);
        let mut err = |column: &str, value: Option<&str>, message: String| {
            errors.push(RowError {
                line,
                column: Some(column.into()),
                value: value.map(str::to_string),
                message,
            })
        };
        let password = text(PASSWORD).map(Password::new);
        if let Some(p) = &password {
            if let Err(e) = check_new_password(p) {
                err("password", None, e.to_string());
            }
        }
        let password_hash = text(PASSWORD_HASH);
        if let Some(h) = &password_hash {
            if let Err(e) = check_imported_hash(h) {
                err("password_hash", None, e.to_string());
            }
            if password.is_some() {
                err(
                    "password_hash",
                    None,
                    "the row has both a password and a password_hash; keep one of them".into(),
                );
            }
        }
        let active = match cell(ACTIVE) {
            "" => None,
            v if v.eq_ignore_ascii_case("true") => Some(true),
            v if v.eq_ignore_ascii_case("false") => Some(false),
            v => {
                err(
                    "active",
                    Some(v),
                    format!(
                        "'{v}' is not true or false; write true for active, false for inactive"
                    ),
                );
                None
            }
        };
        let role = match cell(ROLE) {
            "" => None,
            v => match Role::parse(&v.to_ascii_lowercase()) {
                Some(r) => Some(r),
                None => {
                    err(
                        "role",
                        Some(v),
                        format!("'{v}' is not a role; use admin or agent"),
                    );
                    None
                }
            },
        };
        Some(UserRow {
            first_name: text(FIRST_NAME),
            last_name: text(LAST_NAME),
            password,
            password_hash,
            active,
            role,
        })
    }
}

/// What the hashing step found for one row's password.
struct Hashed {
    /// The password matches the hash stored before this batch.
    matches_stored: bool,
    /// A fresh Argon2id hash, when one may be needed.
    new_hash: Option<String>,
}

impl Kind for UsersKind {
    type Parser = UserParser;

    fn name(&self) -> &'static str {
        "users"
    }

    fn standard_columns(&self) -> &'static [&'static str] {
        USER_COLUMNS
    }

    fn custom_columns(&self) -> Vec<String> {
        Vec::new()
    }

    fn parser(&self, _plan: &Plan) -> UserParser {
        UserParser
    }

    fn default_batch_size(&self) -> usize {
        DEFAULT_BATCH_SIZE
    }

    fn check_options(&mut self, _plan: &Plan, opts: &Options) -> Result<(), ImportError> {
        if opts.create_labels || opts.replace_labels {
            return Err(ImportError::Options(
                "--create-labels and --replace-labels apply to contacts only".into(),
            ));
        }
        for k in &opts.keep {
            match k.as_str() {
                "first_name" => self.keep.first_name = true,
                "last_name" => self.keep.last_name = true,
                "password" | "password_hash" => self.keep.password = true,
                "active" => self.keep.active = true,
                "role" => self.keep.role = true,
                other => {
                    return Err(ImportError::Options(format!(
                        "--keep '{other}' is not a users column; use one of: first_name, last_name, password, active, role"
                    )))
                }
            }
        }
        Ok(())
    }

    fn apply(
        &mut self,
        store: &mut dyn Store,
        import_id: Option<i64>,
        items: &mut [Item<UserRow>],
    ) -> Result<(), StoreError> {
        let mut emails: Vec<&str> = items
            .iter()
            .filter(|i| i.row.is_ok())
            .map(|i| i.email.as_str())
            .collect();
        emails.sort_unstable();
        let repeated_in_batch: std::collections::HashSet<&str> = emails
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        let repeated_in_batch: std::collections::HashSet<String> =
            repeated_in_batch.into_iter().map(str::to_string).collect();
        emails.dedup();
        let mut state: HashMap<String, Slot> = HashMap::with_capacity(emails.len());
        for u in store.load_users(&emails)? {
            state.insert(
                u.email.clone(),
                Slot {
                    before: Some(u.clone()),
                    current: u,
                    last_password: None,
                },
            );
        }
        crate::hooks::reached("load");
        let hashed = self.hash_all(items, &state, &repeated_in_batch);
        for (item, hashed) in items.iter_mut().zip(hashed) {
            let Ok(row) = &item.row else { continue };
            let existing = state.contains_key(&item.email);
            if existing && self.on_existing == OnExisting::Skip {
                item.outcome = Outcome::Unchanged;
                item.message = "skipped: a user with this email exists (--on-existing skip)".into();
                continue;
            }
            if !existing && row.password.is_none() && row.password_hash.is_none() {
                item.reject(RowError {
                    line: item.line,
                    column: Some("password".into()),
                    value: None,
                    message:
                        "a new user needs a password (at least 6 characters) or a password_hash"
                            .into(),
                });
                continue;
            }
            let slot = state.entry(item.email.clone()).or_insert_with(|| Slot {
                before: None,
                current: User {
                    email: item.email.clone(),
                    active: true,
                    ..User::default()
                },
                last_password: None,
            });
            let keep = |k: bool| existing && k;
            let old = slot.current.clone();
            let c = &mut slot.current;
            if let Some(v) = &row.first_name {
                if !keep(self.keep.first_name) {
                    c.first_name = Some(v.clone());
                }
            }
            if let Some(v) = &row.last_name {
                if !keep(self.keep.last_name) {
                    c.last_name = Some(v.clone());
                }
            }
            if let Some(v) = row.active {
                if !keep(self.keep.active) {
                    c.active = v;
                }
            }
            if let Some(v) = row.role {
                if !keep(self.keep.role) {
                    c.role = v;
                }
            }
            if !keep(self.keep.password) {
                if let Some(h) = &row.password_hash {
                    c.password_hash = h.clone();
                    slot.last_password = None;
                } else if let Some(p) = &row.password {
                    // None: hashing failed; Some(None): the password is
                    // unchanged; Some(Some(hash)): a new hash to store.
                    let outcome = hashed.and_then(|h| {
                        let same = match &slot.last_password {
                            // An earlier row of this batch set the password.
                            Some(prev) => prev.expose() == p.expose(),
                            // Unchanged since the batch began: the
                            // hashing step checked it.
                            None if c.password_hash == old_stored(&slot.before) => {
                                existing && h.matches_stored
                            }
                            // An earlier row of this batch imported a
                            // password_hash: check against that one, as
                            // importing the rows one at a time would.
                            None => self.policy.verify(&c.password_hash, p).ok,
                        };
                        if same {
                            Some(None)
                        } else {
                            h.new_hash.map(Some)
                        }
                    });
                    match outcome {
                        Some(None) => {}
                        Some(Some(hash)) => {
                            c.password_hash = hash;
                            slot.last_password = Some(Password::new(p.expose().to_string()));
                        }
                        None => {
                            item.reject(RowError {
                                line: item.line,
                                column: Some("password".into()),
                                value: None,
                                message: "the password could not be hashed; import the row again"
                                    .into(),
                            });
                            *c = old;
                            if !existing {
                                state.remove(&item.email);
                            }
                            continue;
                        }
                    }
                }
            }
            item.outcome = if !existing {
                Outcome::Created
            } else if *c == old {
                Outcome::Unchanged
            } else {
                Outcome::Updated
            };
            item.message.clear();
        }
        let mut writes: Vec<UserWrite> = state
            .into_values()
            .filter(|s| s.before.as_ref() != Some(&s.current))
            .map(|s| UserWrite {
                before: s.before,
                after: s.current,
            })
            .collect();
        writes.sort_unstable_by(|a, b| a.after.email.cmp(&b.after.email));
        roster_store::fault::check("store.before_write")?;
        store.write_users(import_id, &writes)?;
        roster_store::fault::check("store.after_write")
    }

    fn redact(&self, plan: &Plan, raw: &mut csv::StringRecord) -> Option<String> {
        let at = plan.standard_at[PASSWORD]?;
        if raw.get(at).is_none_or(|p| p.is_empty()) {
            return None;
        }
        let mut copy = csv::StringRecord::new();
        for (i, cell) in raw.iter().enumerate() {
            copy.push_field(if i == at { "" } else { cell });
        }
        *raw = copy;
        Some("passwords are never written to the rejects file: the password cells of rejected rows were emptied; fill them in before importing it again".into())
    }
}

struct Slot {
    before: Option<User>,
    current: User,
    /// The password an earlier row of this batch set, to tell a repeat
    /// of it from a change (dropped, and zeroed, with the batch).
    last_password: Option<Password>,
}

fn old_stored(before: &Option<User>) -> &str {
    before
        .as_ref()
        .map(|b| b.password_hash.as_str())
        .unwrap_or("")
}

impl UsersKind {
    /// Verifies and hashes the batch's passwords on every core. A password
    /// is checked against the hash stored before the batch (so re-importing
    /// a file reports `unchanged`), and a fresh hash is made when it does
    /// not match or when its email comes back later in the batch.
    fn hash_all(
        &self,
        items: &[Item<UserRow>],
        state: &HashMap<String, Slot>,
        repeated_in_batch: &std::collections::HashSet<String>,
    ) -> Vec<Option<Hashed>> {
        let jobs: Vec<(usize, &Password, Option<&str>, bool)> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let row = item.row.as_ref().ok()?;
                let p = row.password.as_ref()?;
                let stored = state
                    .get(&item.email)
                    .and_then(|s| s.before.as_ref())
                    .map(|u| u.password_hash.as_str());
                Some((i, p, stored, repeated_in_batch.contains(&item.email)))
            })
            .collect();
        let mut out: Vec<Option<Hashed>> = (0..items.len()).map(|_| None).collect();
        if jobs.is_empty() {
            return out;
        }
        let next = AtomicUsize::new(0);
        let policy = self.policy;
        let results: Vec<Vec<(usize, Hashed)>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..self.threads.min(jobs.len()))
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        let mut memory = self
                            .memory
                            .lock()
                            .map(|mut pool| pool.pop().unwrap_or_default())
                            .unwrap_or_default();
                        loop {
                            let j = next.fetch_add(1, Ordering::Relaxed);
                            let Some((i, p, stored, repeated)) = jobs.get(j) else {
                                break;
                            };
                            let matches_stored = stored.is_some_and(|h| policy.verify(h, p).ok);
                            let new_hash = if !matches_stored || *repeated {
                                policy.hash_in(p, &mut memory).ok()
                            } else {
                                None
                            };
                            done.push((
                                *i,
                                Hashed {
                                    matches_stored,
                                    new_hash,
                                },
                            ));
                        }
                        if let Ok(mut pool) = self.memory.lock() {
                            pool.push(memory);
                        }
                        done
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_default())
                .collect()
        });
        for (i, h) in results.into_iter().flatten() {
            out[i] = Some(h);
        }
        out
    }
}
