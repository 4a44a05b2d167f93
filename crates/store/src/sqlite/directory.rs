//! Single records and the contacts list on SQLite. Substring search uses
//! an FTS5 table with the trigram tokenizer (`contacts_search`), kept up to
//! date by triggers, so imports and edits never forget it.

use rusqlite::{params, OptionalExtension};

use super::{db, row_to_contact, row_to_user, SqliteStore, CONTACT_COLUMNS, USER_COLUMNS};
use crate::directory::{ContactPage, ContactQuery, ContactRecord, Directory, UserRecord};
use crate::Result;

/// The first search index (trigram positions of every column); replaced
/// by [`SEARCH_MIGRATION_LEAN`] on every database.
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

/// The search index: which contacts hold each trigram of their email and
/// names — no positions (`detail=none`) and no column sizes, which makes it
/// several times cheaper to keep up to date than a full FTS5 index. A query
/// asks for contacts holding all the trigrams of the text (a superset of
/// the matches), and every candidate is checked against the text itself.
/// The update trigger fires only when one of the columns changes, so an
/// import that only touches labels or custom values pays nothing for it.
/// Contacts an import creates are indexed by the import itself, one
/// statement per batch ([`index_created`]): FTS5 writes its pending
/// entries to disk at every statement that fires a trigger, so a trigger
/// per inserted row made a segment per row and merged them endlessly
/// (the index cost 4× the rest of a 1M-row import).
/// Each commit writes the new entries as a small segment; merging 16
/// segments at a time (not 4) rewrites the index fewer times while an
/// import commits every second (200k rows inserted 3,000 per transaction
/// into an indexed table: 6.7 s instead of 10.3 s), at the price of a few
/// more segments for a query to look in.
pub(super) const SEARCH_MIGRATION_LEAN: &str = r#"
DROP TRIGGER contacts_search_insert;
DROP TRIGGER contacts_search_delete;
DROP TRIGGER contacts_search_update;
DROP TABLE contacts_search;
CREATE VIRTUAL TABLE contacts_search USING fts5(
    email, first_name, last_name,
    content = 'contacts', content_rowid = 'id', tokenize = 'trigram',
    detail = none, columnsize = 0
);
INSERT INTO contacts_search (contacts_search, rank) VALUES ('automerge', 16);
INSERT INTO contacts_search (contacts_search) VALUES ('rebuild');
CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts
WHEN new.created_import IS NULL
BEGIN
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

/// Indexes the contacts with ids `first..=last`, just created by an import
/// in the open transaction (new ids are consecutive while it holds the
/// write lock).
pub(super) fn index_created(conn: &rusqlite::Connection, first: i64, last: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO contacts_search (rowid, email, first_name, last_name) \
         SELECT id, email, first_name, last_name FROM contacts \
         WHERE id BETWEEN ?1 AND ?2 AND created_import IS NOT NULL",
    )
    .and_then(|mut st| st.execute([first, last]))
    .map_err(db("indexing contacts for search"))?;
    Ok(())
}

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

/// The most trigrams one search asks the index for.
const MAX_TRIGRAMS: usize = 12;

/// An FTS5 query for the contacts holding every trigram of `q` (at least
/// three characters), each distinct one once. The index keeps no positions,
/// so only all the overlapping trigrams together pin the text down: with
/// every third one, `person7@example` let through every `…7@…` address
/// (a tenth of a generated file) instead of the one contact. Every term
/// is one more list for FTS5 to read, so a long text asks for its first
/// [`MAX_TRIGRAMS`] − 1 trigrams and its last: still a superset, which the
/// check of each candidate narrows.
fn trigram_query(q: &str) -> String {
    let chars: Vec<char> = q.chars().collect();
    let windows: Vec<&[char]> = chars.windows(3).collect();
    let picked = if windows.len() > MAX_TRIGRAMS {
        let mut w = windows[..MAX_TRIGRAMS - 1].to_vec();
        w.push(windows[windows.len() - 1]);
        w
    } else {
        windows
    };
    let mut terms: Vec<String> = Vec::new();
    for w in picked {
        let t: String = w.iter().collect();
        let term = format!("\"{}\"", t.replace('"', "\"\""));
        if !terms.contains(&term) {
            terms.push(term);
        }
    }
    terms.join(" AND ")
}

/// The longest run of ASCII characters in `q`. SQLite's `lower()` folds
/// only ASCII letters, so the database filters on this part (which every
/// match contains, in some case) and the whole text is checked afterwards.
fn ascii_run(q: &str) -> &str {
    let mut best = "";
    for run in q.split(|c: char| !c.is_ascii()) {
        if run.len() > best.len() {
            best = run;
        }
    }
    best
}

/// A condition that holds for every contact the query matches (and, when
/// the text is ASCII, for those only). Parameters: ?3 text (or NULL),
/// ?4 company (or NULL), ?5 `%,label,%` (or NULL).
const FILTER: &str = "(?3 IS NULL OR instr(email, ?3) > 0 OR instr(lower(first_name), ?3) > 0 \
     OR instr(lower(last_name), ?3) > 0) AND (?4 IS NULL OR company_id = ?4) \
     AND (?5 IS NULL OR (',' || labels || ',') LIKE ?5)";

impl SqliteStore {
    /// The contacts that may contain `q`, when there are at most `max` of
    /// them; None when there are more.
    fn search_candidates(&mut self, q: &str, max: usize) -> Result<Option<Vec<i64>>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT rowid FROM contacts_search WHERE contacts_search MATCH ?1 LIMIT ?2",
            )
            .map_err(db("searching contacts"))?;
        let ids = st
            .query_map(params![trigram_query(q), max as i64 + 1], |r| r.get(0))
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
        let ascii = ascii_run(text);
        // The database's filter is exact when the text is ASCII; otherwise
        // it lets through a superset and Rust decides.
        let exact = ascii.len() == text.len();
        let pattern = (!ascii.is_empty()).then_some(ascii);
        let label = q.label.map(|l| format!("%,{l},%"));
        let mut page = ContactPage::default();
        let mut found: Vec<ContactRecord> = Vec::new();
        // Few candidates: fetch those that pass the filter, in email order.
        if text.chars().count() >= 3 {
            if let Some(ids) = self.search_candidates(text, q.index_candidates)? {
                let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                // NOT INDEXED: the candidates are looked up by id and
                // sorted; walking the email index instead would visit
                // every contact after the cursor.
                let take = if exact { q.limit as i64 + 1 } else { -1 };
                let mut st = self
                    .conn
                    .prepare(&format!(
                        "SELECT {} FROM contacts NOT INDEXED WHERE id IN ({list}) AND email > ?1 \
                         AND {FILTER} ORDER BY email LIMIT ?2",
                        record_columns()
                    ))
                    .map_err(db("listing contacts"))?;
                let mut rows = st
                    .query(params![after, take, pattern, q.company, label])
                    .map_err(db("listing contacts"))?;
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
        // Otherwise walk the email order, within the scan budget; the
        // database says which rows pass its filter (the last column), so
        // only those are decoded.
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {}, {FILTER} FROM contacts WHERE email > ?1 ORDER BY email LIMIT ?2",
                record_columns()
            ))
            .map_err(db("listing contacts"))?;
        let mut rows = st
            .query(params![
                after,
                q.scan_budget as i64,
                pattern,
                q.company,
                label
            ])
            .map_err(db("listing contacts"))?;
        let mut scanned = 0;
        let mut last = None;
        while let Some(r) = rows.next().map_err(db("listing contacts"))? {
            scanned += 1;
            if scanned == q.scan_budget {
                last = Some(r.get::<_, String>(1).map_err(db("listing contacts"))?);
            }
            // NULL (a NULL column in the filter) is no match.
            let hit: Option<bool> = r.get(11).map_err(db("listing contacts"))?;
            if hit != Some(true) {
                continue;
            }
            let rec = row_to_record(r).map_err(db("listing contacts"))?;
            if q.matches(&rec.contact) {
                if found.len() == q.limit {
                    page.next = found.last().map(|c| c.contact.email.clone());
                    page.items = found;
                    return Ok(page);
                }
                found.push(rec);
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

#[cfg(test)]
mod tests {
    use super::trigram_query;

    #[test]
    fn every_distinct_trigram_once() {
        assert_eq!(trigram_query("abc"), r#""abc""#);
        assert_eq!(trigram_query("abcd"), r#""abc" AND "bcd""#);
        assert_eq!(trigram_query("aaaa"), r#""aaa""#);
        assert_eq!(trigram_query("a\"bc"), r#""a""b" AND """bc""#);
        assert_eq!(trigram_query("émil"), r#""émi" AND "mil""#);
        // A long text: its first eleven trigrams and its last.
        let long = trigram_query("abcdefghijklmnopqrstuvwxyz");
        assert_eq!(long.matches(" AND ").count(), 11, "{long}");
        assert!(
            long.starts_with(r#""abc" AND "bcd""#) && long.ends_with(r#""klm" AND "xyz""#),
            "{long}"
        );
    }
}
