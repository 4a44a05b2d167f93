//! One record at a time, as the HTTP API reads and edits them: a contact
//! or user with its bookkeeping, the contacts list (search, filters,
//! keyset pages in email byte order), deletes.

use crate::{Contact, Result, User};

/// A contact with what the API shows besides its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    pub contact: Contact,
    /// `import`, `email` or `api`.
    pub source: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A user with its times (the hash stays inside `user`; never show it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user: User,
    pub created_at: String,
    pub updated_at: String,
}

/// Rows a list request may examine before it answers with what it found
/// (and a cursor to go on from), so a rare filter never scans the whole
/// table in one request.
pub const SCAN_BUDGET: usize = 20_000;

/// At most this many search candidates are fetched through the search
/// index; a query matching more is answered by walking the email order.
pub const INDEX_CANDIDATES: usize = 5_000;

/// A contacts list request.
#[derive(Debug, Clone)]
pub struct ContactQuery {
    /// Lowercased text to find anywhere in the email, first or last name.
    pub q: Option<String>,
    pub label: Option<i64>,
    pub company: Option<i64>,
    /// Only contacts whose email sorts after this one (byte order).
    pub after: Option<String>,
    pub limit: usize,
    /// Tuning: see [`INDEX_CANDIDATES`].
    pub index_candidates: usize,
    /// Tuning: see [`SCAN_BUDGET`].
    pub scan_budget: usize,
}

impl Default for ContactQuery {
    fn default() -> Self {
        ContactQuery {
            q: None,
            label: None,
            company: None,
            after: None,
            limit: 50,
            index_candidates: INDEX_CANDIDATES,
            scan_budget: SCAN_BUDGET,
        }
    }
}

/// One page: up to `limit` contacts in email byte order, and the email to
/// continue after (None: there are no more).
#[derive(Debug, Clone, Default)]
pub struct ContactPage {
    pub items: Vec<ContactRecord>,
    pub next: Option<String>,
}

impl ContactQuery {
    /// Whether `c` passes the filters: the one definition of a match, on
    /// every backend (the databases' indexes only narrow the candidates).
    pub fn matches(&self, c: &Contact) -> bool {
        if self.company.is_some() && c.company_id != self.company {
            return false;
        }
        if let Some(l) = self.label {
            if c.labels.binary_search(&l).is_err() {
                return false;
            }
        }
        match self.q.as_deref() {
            None | Some("") => true,
            Some(q) => {
                let has =
                    |s: &Option<String>| s.as_deref().is_some_and(|s| s.to_lowercase().contains(q));
                c.email.contains(q) || has(&c.first_name) || has(&c.last_name)
            }
        }
    }
}

/// Single-record reads and writes for the API.
pub trait Directory {
    fn contact(&mut self, id: i64) -> Result<Option<ContactRecord>>;
    fn contact_by_email(&mut self, email: &str) -> Result<Option<ContactRecord>>;
    /// A page of contacts (see [`ContactQuery`]). A page may hold fewer
    /// than `limit` contacts when the scan budget ran out; only `next ==
    /// None` means the end.
    fn list_contacts(&mut self, q: &ContactQuery) -> Result<ContactPage>;
    /// Deletes a contact; false when there was none.
    fn delete_contact(&mut self, id: i64) -> Result<bool>;
    fn user(&mut self, id: i64) -> Result<Option<UserRecord>>;
    /// Every user, by email.
    fn users(&mut self) -> Result<Vec<UserRecord>>;
    /// Whether the substring search uses an index on this database
    /// (PostgreSQL without `pg_trgm` scans instead).
    fn search_indexed(&mut self) -> bool {
        true
    }
}
