//! Single records and the contacts list on SQLite. Substring search uses
//! an FTS5 table with the trigram tokenizer (`contacts_search`), kept up to
//! date by triggers, so imports and edits never forget it.

use rusqlite::{params, OptionalExtension};

use super::{db, row_to_contact, row_to_user, SqliteStore, CONTACT_COLUMNS, USER_COLUMNS};
use crate::directory::{ContactPage, ContactQuery, ContactRecord, Directory, UserRecord};
use crate::Result;

/// The search index: every contact's email and names as trigrams. The
/// update trigger fires only when one of them changes, so an import that
/// only touches labels or custom values pays nothing for it.
pub(super) const SEARCH_MIGRATION: &str = r#"
CREATE VIRTUAL TABLE contacts_search USING fts5(
    email, first_name, last_name,
    content = 'contacts', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO contacts_search (contacts_search) VALUES ('rebuild');
CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_search (rowid, email, first_name, last_name)
    VALUES (new.id, new.email, new.first_name, new.last_name);
END;
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_search (contacts_search, rowid, email, first_name, last_name)
    VALUES ('delete', old.id, old.email, old.first_name, old.last_name);
END;
CREATE TRIGGER contacts_search_update AFTER UPDATE OF email, first_name, last_name ON contacts
WHEN old.email IS NOT new.email OR old.first_name IS NOT new.first_name
    OR old.last_name IS NOT new.last_name
BEGIN
    INSERT INTO contacts_search (contacts_search, rowid, email, first_name, last_name)
    VALUES ('delete', old.id, old.email, old.first_name, old.last_name);
    INSERT INTO contacts_search (rowid, email, first_name, last_name)
    VALUES (new.id, new.email, new.first_name, new.last_name);
END;
"#;

fn record_columns() -> String {
    format!("{CONTACT_COLUMNS}, source, created_at, updated_at")
}

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<ContactRecord> {
    Ok(ContactRecord {
        contact: row_to_contact(r)?,
        source: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

/// An FTS5 phrase that matches `q` as a substring.
fn phrase(q: &str) -> String {
    format!("\"{}\"", q.replace('"', "\"\""))
}

impl SqliteStore {
    /// The contacts whose indexed text contains `q`, when there are at most
    /// [`INDEX_CANDIDATES`] of them; None when there are more.
    fn search_candidates(&mut self, q: &str, max: usize) -> Result<Option<Vec<i64>>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT rowid FROM contacts_search WHERE contacts_search MATCH ?1 LIMIT ?2",
            )
            .map_err(db("searching contacts"))?;
        let ids = st
            .query_map(params![phrase(q), max as i64 + 1], |r| r.get(0))
            .map_err(db("searching contacts"))?
            .collect::<rusqlite::Result<Vec<i64>>>()
            .map_err(db("searching contacts"))?;
        Ok((ids.len() <= max).then_some(ids))
    }
}

impl Directory for SqliteStore {
    fn contact(&mut self, id: i64) -> Result<Option<ContactRecord>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM contacts WHERE id = ?1",
                record_columns()
            ))
            .map_err(db("reading a contact"))?;
        st.query_row([id], row_to_record)
            .optional()
            .map_err(db("reading a contact"))
    }

    fn contact_by_email(&mut self, email: &str) -> Result<Option<ContactRecord>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM contacts WHERE email = ?1",
                record_columns()
            ))
            .map_err(db("reading a contact"))?;
        st.query_row([email], row_to_record)
            .optional()
            .map_err(db("reading a contact"))
    }

    fn list_contacts(&mut self, q: &ContactQuery) -> Result<ContactPage> {
        let after = q.after.clone().unwrap_or_default();
        let text = q.q.as_deref().unwrap_or("");
        let mut page = ContactPage::default();
        let mut found: Vec<ContactRecord> = Vec::new();
        // Few matches: fetch them through the index, in email order.
        if text.chars().count() >= 3 {
            if let Some(ids) = self.search_candidates(text, q.index_candidates)? {
                let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                let mut st = self
                    .conn
                    .prepare(&format!(
                        "SELECT {} FROM contacts WHERE id IN ({list}) AND email > ?1 ORDER BY email",
                        record_columns()
                    ))
                    .map_err(db("listing contacts"))?;
                let mut rows = st.query([&after]).map_err(db("listing contacts"))?;
                while let Some(r) = rows.next().map_err(db("listing contacts"))? {
                    let rec = row_to_record(r).map_err(db("listing contacts"))?;
                    if q.matches(&rec.contact) {
                        found.push(rec);
                        if found.len() > q.limit {
                            break;
                        }
                    }
                }
                if found.len() > q.limit {
                    found.truncate(q.limit);
                    page.next = found.last().map(|c| c.contact.email.clone());
                }
                page.items = found;
                return Ok(page);
            }
        }
        // Otherwise walk the email order, within the scan budget.
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM contacts WHERE email > ?1 ORDER BY email LIMIT ?2",
                record_columns()
            ))
            .map_err(db("listing contacts"))?;
        let mut rows = st
            .query(params![after, q.scan_budget as i64])
            .map_err(db("listing contacts"))?;
        let mut scanned = 0;
        let mut last = None;
        while let Some(r) = rows.next().map_err(db("listing contacts"))? {
            scanned += 1;
            let rec = row_to_record(r).map_err(db("listing contacts"))?;
            if q.matches(&rec.contact) {
                if found.len() == q.limit {
                    page.next = found.last().map(|c| c.contact.email.clone());
                    page.items = found;
                    return Ok(page);
                }
                last = Some(rec.contact.email.clone());
                found.push(rec);
            } else {
                last = Some(rec.contact.email);
            }
        }
        if scanned == q.scan_budget {
            // Out of budget: go on after the last row looked at.
            page.next = last;
        }
        page.items = found;
        Ok(page)
    }

    fn delete_contact(&mut self, id: i64) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM contacts WHERE id = ?1", [id])
            .map_err(db("deleting a contact"))?;
        if n > 0 {
            self.conn
                .execute("DELETE FROM import_changes WHERE contact_id = ?1", [id])
                .map_err(db("deleting a contact"))?;
        }
        Ok(n > 0)
    }

    fn user(&mut self, id: i64) -> Result<Option<UserRecord>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS}, created_at, updated_at FROM users WHERE id = ?1"
            ))
            .map_err(db("reading a user"))?;
        st.query_row([id], |r| {
            Ok(UserRecord {
                user: row_to_user(r)?,
                created_at: r.get(7)?,
                updated_at: r.get(8)?,
            })
        })
        .optional()
        .map_err(db("reading a user"))
    }

    fn users(&mut self) -> Result<Vec<UserRecord>> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {USER_COLUMNS}, created_at, updated_at FROM users ORDER BY email"
            ))
            .map_err(db("listing users"))?;
        let rows = st
            .query_map([], |r| {
                Ok(UserRecord {
                    user: row_to_user(r)?,
                    created_at: r.get(7)?,
                    updated_at: r.get(8)?,
                })
            })
            .map_err(db("listing users"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("listing users"))
    }
}
