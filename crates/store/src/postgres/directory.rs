//! Single records and the contacts list on PostgreSQL. Substring search
//! uses a `pg_trgm` GIN index over email and names (`contacts_search`);
//! where the extension cannot be installed, search walks the email order
//! instead (slower on big tables, same answers).

use postgres::Client;

use super::{
    db, row_to_contact, row_to_user, PgStore, CONTACT_COLUMNS, MIGRATION_LOCK, USER_COLUMNS,
};
use crate::directory::{ContactPage, ContactQuery, ContactRecord, Directory, UserRecord};
use crate::Result;

/// The indexed text: the three searched columns in one string.
const SEARCH_EXPR: &str =
    "(email || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, ''))";

/// Creates the trigram index when it is missing (installing `pg_trgm` in
/// the `public` schema if it is not there); returns whether search is
/// indexed. Runs under the migration lock.
pub(super) fn ensure_search_index(client: &mut Client) -> Result<bool> {
    let mut tx = client.transaction().map_err(db("preparing search"))?;
    tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .map_err(db("waiting for another process's migration"))?;
    let exists = tx
        .query_opt(
            "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'contacts_search'",
            &[],
        )
        .map_err(db("preparing search"))?
        .is_some();
    if exists {
        tx.commit().map_err(db("preparing search"))?;
        return Ok(true);
    }
    let find = "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'";
    let mut schema: Option<String> = tx
        .query_opt(find, &[])
        .map_err(db("preparing search"))?
        .map(|r| r.get(0));
    if schema.is_none() {
        let mut sp = tx.transaction().map_err(db("preparing search"))?;
        if sp
            .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
            .is_ok()
        {
            sp.commit().map_err(db("preparing search"))?;
            schema = Some("public".into());
        }
        // else: dropping `sp` rolls back to the savepoint.
    }
    let Some(schema) = schema else {
        tx.commit().map_err(db("preparing search"))?;
        return Ok(false);
    };
    tx.batch_execute(&format!(
        "CREATE INDEX contacts_search ON contacts USING gin ({SEARCH_EXPR} {}.gin_trgm_ops)",
        super::quote_ident(&schema)
    ))
    .map_err(db("creating the search index"))?;
    tx.commit().map_err(db("creating the search index"))?;
    Ok(true)
}

fn record_columns() -> String {
    format!("{CONTACT_COLUMNS}, source, created_at, updated_at")
}

fn row_to_record(r: &postgres::Row) -> std::result::Result<ContactRecord, postgres::Error> {
    Ok(ContactRecord {
        contact: row_to_contact(r)?,
        source: r.try_get(8)?,
        created_at: r.try_get(9)?,
        updated_at: r.try_get(10)?,
    })
}

/// `%q%` for LIKE, with the wildcards of `q` escaped.
fn like_pattern(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The longest run of ASCII characters in `q`. PostgreSQL folds the case
/// of non-ASCII letters only in some locales (not in `C`), so the database
/// is asked for the ASCII part (which any match contains in some case) and
/// the exact match is checked afterwards, the same on every locale.
fn ascii_run(q: &str) -> &str {
    let mut best = "";
    for run in q.split(|c: char| !c.is_ascii()) {
        if run.len() > best.len() {
            best = run;
        }
    }
    best
}

impl PgStore {
    fn search_candidates(&mut self, q: &str, max: usize) -> Result<Option<Vec<i64>>> {
        let rows = self
            .client
            .query(
                &format!("SELECT id FROM contacts WHERE {SEARCH_EXPR} ILIKE $1 LIMIT $2"),
                &[&like_pattern(q), &(max as i64 + 1)],
            )
            .map_err(db("searching contacts"))?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        Ok((ids.len() <= max).then_some(ids))
    }
}

impl Directory for PgStore {
    fn contact(&mut self, id: i64) -> Result<Option<ContactRecord>> {
        let row = self
            .client
            .query_opt(
                &format!("SELECT {} FROM contacts WHERE id = $1", record_columns()),
                &[&id],
            )
            .map_err(db("reading a contact"))?;
        row.as_ref()
            .map(row_to_record)
            .transpose()
            .map_err(db("reading a contact"))
    }

    fn contact_by_email(&mut self, email: &str) -> Result<Option<ContactRecord>> {
        let row = self
            .client
            .query_opt(
                &format!("SELECT {} FROM contacts WHERE email = $1", record_columns()),
                &[&email],
            )
            .map_err(db("reading a contact"))?;
        row.as_ref()
            .map(row_to_record)
            .transpose()
            .map_err(db("reading a contact"))
    }

    fn list_contacts(&mut self, q: &ContactQuery) -> Result<ContactPage> {
        let after = q.after.clone().unwrap_or_default();
        let text = q.q.as_deref().unwrap_or("");
        let mut page = ContactPage::default();
        let mut found: Vec<ContactRecord> = Vec::new();
        let ascii = ascii_run(text);
        if self.search_indexed && ascii.len() >= 3 {
            if let Some(ids) = self.search_candidates(ascii, q.index_candidates)? {
                let rows = self
                    .client
                    .query(
                        &format!(
                            "SELECT {} FROM contacts WHERE id = ANY($1) AND email > $2 ORDER BY email",
                            record_columns()
                        ),
                        &[&ids, &after],
                    )
                    .map_err(db("listing contacts"))?;
                for r in &rows {
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
        // Walk the email order in growing windows; the database drops rows
        // that cannot match, and returns each window's last row so the
        // walk can go on after it.
        let pattern = (!ascii.is_empty()).then(|| like_pattern(ascii));
        let label = q.label.map(|l| format!("%,{l},%"));
        let sql = format!(
            "WITH w AS (SELECT {cols} FROM contacts WHERE email > $1 ORDER BY email LIMIT $2) \
             SELECT * FROM w WHERE (($3::text IS NULL OR email ILIKE $3 OR first_name ILIKE $3 OR last_name ILIKE $3) \
             AND ($4::bigint IS NULL OR company_id = $4) AND ($5::text IS NULL OR (',' || labels || ',') LIKE $5)) \
             OR email = (SELECT max(email) FROM w) ORDER BY email",
            cols = record_columns()
        );
        let mut cursor = after;
        let mut scanned = 0usize;
        let mut window = (q.limit + 1).max(200);
        while scanned < q.scan_budget {
            let take = window.min(q.scan_budget - scanned);
            let rows = self
                .client
                .query(
                    &sql,
                    &[&cursor, &(take as i64), &pattern, &q.company, &label],
                )
                .map_err(db("listing contacts"))?;
            let Some(last) = rows.last() else {
                page.items = found;
                return Ok(page);
            };
            let last_email: String = last.get(1);
            for r in &rows {
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
            // A short window means the table ended.
            let ended = rows.len() < take && {
                let n: i64 = self
                    .client
                    .query_one(
                        "SELECT count(*) FROM (SELECT 1 FROM contacts WHERE email > $1 LIMIT 1) x",
                        &[&last_email],
                    )
                    .map_err(db("listing contacts"))?
                    .get(0);
                n == 0
            };
            if ended {
                page.items = found;
                return Ok(page);
            }
            cursor = last_email;
            scanned += take;
            window = (window * 4).min(q.scan_budget);
        }
        page.next = Some(cursor);
        page.items = found;
        Ok(page)
    }

    fn delete_contact(&mut self, id: i64) -> Result<bool> {
        let n = self
            .client
            .execute("DELETE FROM contacts WHERE id = $1", &[&id])
            .map_err(db("deleting a contact"))?;
        if n > 0 {
            self.client
                .execute("DELETE FROM import_changes WHERE contact_id = $1", &[&id])
                .map_err(db("deleting a contact"))?;
        }
        Ok(n > 0)
    }

    fn user(&mut self, id: i64) -> Result<Option<UserRecord>> {
        let row = self
            .client
            .query_opt(
                &format!("SELECT {USER_COLUMNS}, created_at, updated_at FROM users WHERE id = $1"),
                &[&id],
            )
            .map_err(db("reading a user"))?;
        row.map(|r| {
            Ok(UserRecord {
                user: row_to_user(&r)?,
                created_at: r.try_get(7)?,
                updated_at: r.try_get(8)?,
            })
        })
        .transpose()
        .map_err(db("reading a user"))
    }

    fn users(&mut self) -> Result<Vec<UserRecord>> {
        let rows = self
            .client
            .query(
                &format!("SELECT {USER_COLUMNS}, created_at, updated_at FROM users ORDER BY email"),
                &[],
            )
            .map_err(db("listing users"))?;
        rows.iter()
            .map(|r| {
                Ok(UserRecord {
                    user: row_to_user(r)?,
                    created_at: r.try_get(7)?,
                    updated_at: r.try_get(8)?,
                })
            })
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(db("listing users"))
    }

    fn search_indexed(&mut self) -> bool {
        self.search_indexed
    }
}
