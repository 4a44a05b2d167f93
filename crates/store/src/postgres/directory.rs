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

/// Rows the walk looks at before it asks the index (when there is one).
/// A common term fills its page within them, cheaper than any index probe
/// (a GIN bitmap scan reads a trigram's whole posting list first).
const PROBE_AFTER: usize = 1_000;

/// Keeps the contacts that pass the filter: $3 text for ILIKE (or NULL),
/// $4 company (or NULL), $5 `%,label,%` (or NULL).
const FILTER: &str = "($3::text IS NULL OR email ILIKE $3 OR first_name ILIKE $3 OR last_name ILIKE $3) \
     AND ($4::bigint IS NULL OR company_id = $4) AND ($5::text IS NULL OR (',' || labels || ',') LIKE $5)";

/// One window of the walk: up to $2 contacts after $1 in email order,
/// those that pass the filter and the window's last row, each with the
/// window's size (`wn`: smaller than $2 at the end of the table).
static WALK: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH w AS (SELECT {cols} FROM contacts WHERE email > $1 ORDER BY email LIMIT $2) \
         SELECT *, (SELECT count(*) FROM w) AS wn FROM w WHERE ({FILTER}) OR email = (SELECT max(email) FROM w) ORDER BY email",
        cols = record_columns()
    )
});

/// The index probe: at most $6 contacts containing the text ($1, ILIKE
/// over the indexed expression); one row per candidate after $2 that
/// passes the filter, in email order, at most $7, each with how many
/// candidates there were (`n`; a row of NULLs and `n` when none passes).
/// `email || ''` keeps the planner from walking the email index instead of
/// sorting the few candidates.
static PROBE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH c AS MATERIALIZED (SELECT {cols} FROM contacts WHERE {SEARCH_EXPR} ILIKE $1 LIMIT $6) \
         SELECT x.*, k.n FROM (SELECT count(*) AS n FROM c) k LEFT JOIN LATERAL \
         (SELECT * FROM c WHERE email > $2 AND {FILTER} ORDER BY email || '' LIMIT $7) x ON true",
        cols = record_columns()
    )
});

impl PgStore {
    /// The page from the index when `q` has at most `index_candidates`
    /// candidates; None when it has more (the walk goes on).
    fn search_probe(
        &mut self,
        q: &ContactQuery,
        pattern: &str,
        label: &Option<String>,
        exact: bool,
    ) -> Result<Option<ContactPage>> {
        let after = q.after.clone().unwrap_or_default();
        // When the filter is not exact, Rust may drop some of what it lets
        // through: then every candidate comes back.
        let take: i64 = if exact {
            q.limit as i64 + 1
        } else {
            q.index_candidates as i64 + 1
        };
        let rows = self
            .client
            .query(
                PROBE.as_str(),
                &[
                    &pattern,
                    &after,
                    &Some(pattern),
                    &q.company,
                    label,
                    &(q.index_candidates as i64 + 1),
                    &take,
                ],
            )
            .map_err(db("searching contacts"))?;
        if let Some(first) = rows.first() {
            let n: i64 = first.get("n");
            if n as usize > q.index_candidates {
                return Ok(None);
            }
        }
        let mut found = Vec::new();
        for r in &rows {
            if r.get::<_, Option<i64>>(0).is_none() {
                break;
            }
            let rec = row_to_record(r).map_err(db("searching contacts"))?;
            if q.matches(&rec.contact) {
                found.push(rec);
                if found.len() > q.limit {
                    break;
                }
            }
        }
        let mut page = ContactPage::default();
        if found.len() > q.limit {
            found.truncate(q.limit);
            page.next = found.last().map(|c| c.contact.email.clone());
        }
        page.items = found;
        Ok(Some(page))
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
        let exact = ascii.len() == text.len();
        // Walk the email order in growing windows; the database drops rows
        // that cannot match, and returns each window's last row so the
        // walk can go on after it. A term that has not filled the page
        // within the first windows asks the index, which answers when the
        // term is rare.
        let pattern = (!ascii.is_empty()).then(|| like_pattern(ascii));
        let label = q.label.map(|l| format!("%,{l},%"));
        let mut probe = self.search_indexed && ascii.len() >= 3;
        let probe_after = PROBE_AFTER.min(q.scan_budget / 2);
        let walk = self.cached(WALK.as_str())?;
        let mut cursor = after;
        let mut scanned = 0usize;
        // Without a filter every row is a match: one window is the page.
        let filtered = !text.is_empty() || q.company.is_some() || label.is_some();
        let mut window = if filtered {
            (q.limit + 1).max(200)
        } else {
            q.limit + 1
        };
        while scanned < q.scan_budget {
            if probe && scanned >= probe_after {
                probe = false;
                let p = pattern.as_deref().unwrap_or_default();
                if let Some(page) = self.search_probe(q, p, &label, exact)? {
                    return Ok(page);
                }
            }
            let take = window.min(q.scan_budget - scanned);
            let rows = self
                .client
                .query(
                    &walk,
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
            let ended = (last.get::<_, i64>("wn") as usize) < take;
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
