//! Mailboxes and captured mail on SQLite.

use rusqlite::{params, OptionalExtension};

use super::{db, is_unique_violation, SqliteStore};
use crate::mail::{Candidate, CaptureScope, Captured, Fate, Mail, Mailbox, NewMailbox};
use crate::{now_rfc3339, Result, StoreError};

/// The schema of mailboxes, their addresses, the messages they captured,
/// and each captured contact's origin.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    capture TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE mailbox_addresses (
    address TEXT PRIMARY KEY,
    mailbox_id INTEGER NOT NULL,
    is_alias INTEGER NOT NULL
);
CREATE INDEX mailbox_addresses_mailbox ON mailbox_addresses (mailbox_id);
CREATE TABLE mail_messages (
    mailbox_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, message_id)
) WITHOUT ROWID;
ALTER TABLE contacts ADD COLUMN captured_mailbox INTEGER;
ALTER TABLE contacts ADD COLUMN captured_message TEXT;
"#;

impl SqliteStore {
    fn load_mailbox(&mut self, where_: &str, key: &dyn rusqlite::ToSql) -> Result<Option<Mailbox>> {
        let found: Option<(i64, String, String)> = self
            .conn
            .query_row(
                &format!("SELECT m.id, m.name, m.capture FROM mailboxes m WHERE {where_}"),
                [key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db("loading a mailbox"))?;
        let Some((id, name, capture)) = found else {
            return Ok(None);
        };
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT address, is_alias FROM mailbox_addresses WHERE mailbox_id = ?1 ORDER BY address",
            )
            .map_err(db("loading a mailbox"))?;
        let rows = st
            .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))
            .map_err(db("loading a mailbox"))?;
        let mut address = String::new();
        let mut aliases = Vec::new();
        for row in rows {
            let (a, is_alias) = row.map_err(db("loading a mailbox"))?;
            if is_alias {
                aliases.push(a);
            } else {
                address = a;
            }
        }
        Ok(Some(Mailbox {
            id,
            name,
            address,
            aliases,
            capture: CaptureScope::parse(&capture).unwrap_or_default(),
        }))
    }
}

impl Mail for SqliteStore {
    fn add_mailbox(&mut self, m: &NewMailbox) -> Result<Mailbox> {
        let tx = self.conn.transaction().map_err(db("adding a mailbox"))?;
        match tx.execute(
            "INSERT INTO mailboxes (name, capture, created_at) VALUES (?1, ?2, ?3)",
            params![m.name, m.capture.as_str(), now_rfc3339()],
        ) {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "a mailbox named '{}' already exists; choose another name or remove it first",
                    m.name
                )))
            }
            Err(e) => return Err(db("adding a mailbox")(e)),
        }
        let id = tx.last_insert_rowid();
        let all = std::iter::once((&m.address, false)).chain(m.aliases.iter().map(|a| (a, true)));
        for (address, is_alias) in all {
            let inserted = tx
                .execute(
                    "INSERT INTO mailbox_addresses (address, mailbox_id, is_alias) VALUES (?1, ?2, ?3) ON CONFLICT (address) DO NOTHING",
                    params![address, id, is_alias],
                )
                .map_err(db("adding a mailbox"))?;
            if inserted == 0 {
                let owner: String = tx
                    .query_row(
                        "SELECT m.name FROM mailbox_addresses a JOIN mailboxes m ON m.id = a.mailbox_id WHERE a.address = ?1",
                        [address],
                        |r| r.get(0),
                    )
                    .unwrap_or_else(|_| m.name.clone());
                return Err(StoreError::Conflict(format!(
                    "the address '{address}' already belongs to mailbox '{owner}'; an address can route to one mailbox only"
                )));
            }
        }
        tx.commit().map_err(db("adding a mailbox"))?;
        self.mailbox_by_id(id)?
            .ok_or_else(|| StoreError::Database("the new mailbox vanished".into()))
    }

    fn mailboxes(&mut self) -> Result<Vec<Mailbox>> {
        let ids: Vec<i64> = {
            let mut st = self
                .conn
                .prepare_cached("SELECT id FROM mailboxes ORDER BY id")
                .map_err(db("listing mailboxes"))?;
            let rows = st
                .query_map([], |r| r.get(0))
                .map_err(db("listing mailboxes"))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(db("listing mailboxes"))?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.mailbox_by_id(id)?);
        }
        Ok(out)
    }

    fn mailbox_by_id(&mut self, id: i64) -> Result<Option<Mailbox>> {
        self.load_mailbox("m.id = ?1", &id)
    }

    fn mailbox_by_name(&mut self, name: &str) -> Result<Option<Mailbox>> {
        self.load_mailbox("m.name = ?1", &name)
    }

    fn mailbox_by_address(&mut self, address: &str) -> Result<Option<Mailbox>> {
        self.load_mailbox(
            "m.id = (SELECT mailbox_id FROM mailbox_addresses WHERE address = ?1)",
            &address,
        )
    }

    fn remove_mailbox(&mut self, id: i64) -> Result<()> {
        let tx = self.conn.transaction().map_err(db("removing a mailbox"))?;
        let n = tx
            .execute("DELETE FROM mailboxes WHERE id = ?1", [id])
            .map_err(db("removing a mailbox"))?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "there is no mailbox {id}; see roster mailboxes list"
            )));
        }
        tx.execute("DELETE FROM mailbox_addresses WHERE mailbox_id = ?1", [id])
            .map_err(db("removing a mailbox"))?;
        tx.execute("DELETE FROM mail_messages WHERE mailbox_id = ?1", [id])
            .map_err(db("removing a mailbox"))?;
        tx.commit().map_err(db("removing a mailbox"))
    }

    fn capture(
        &mut self,
        mailbox_id: i64,
        message_id: &str,
        candidates: &[Candidate],
    ) -> Result<Captured> {
        let what = "capturing a message";
        let now = now_rfc3339();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db(what))?;
        let fresh = tx
            .prepare_cached(
                "INSERT INTO mail_messages (mailbox_id, message_id, received_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            )
            .and_then(|mut st| st.execute(params![mailbox_id, message_id, now]))
            .map_err(db(what))?;
        if fresh == 0 {
            return Ok(Captured {
                duplicate: true,
                fates: Vec::new(),
            });
        }
        let mut fates = Vec::with_capacity(candidates.len());
        {
            let mut is_user = tx
                .prepare_cached("SELECT 1 FROM users WHERE email = ?1")
                .map_err(db(what))?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO contacts (email, first_name, last_name, labels, custom, source, captured_mailbox, captured_message, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, '', '', 'email', ?4, ?5, ?6, ?6) ON CONFLICT (email) DO NOTHING",
                )
                .map_err(db(what))?;
            let mut name = tx
                .prepare_cached(
                    "UPDATE contacts SET first_name = ?2, last_name = ?3, changed_by = NULL, updated_at = ?4 \
                     WHERE email = ?1 AND first_name IS NULL AND last_name IS NULL",
                )
                .map_err(db(what))?;
            for c in candidates {
                if is_user.exists([&c.email]).map_err(db(what))? {
                    fates.push(Fate::User);
                    continue;
                }
                let created = insert
                    .execute(params![
                        c.email,
                        c.first_name,
                        c.last_name,
                        mailbox_id,
                        message_id,
                        now
                    ])
                    .map_err(db(what))?;
                if created == 1 {
                    fates.push(Fate::Created);
                } else if (c.first_name.is_some() || c.last_name.is_some())
                    && name
                        .execute(params![c.email, c.first_name, c.last_name, now])
                        .map_err(db(what))?
                        == 1
                {
                    fates.push(Fate::Named);
                } else {
                    fates.push(Fate::Existing);
                }
            }
        }
        tx.commit().map_err(db(what))?;
        Ok(Captured {
            duplicate: false,
            fates,
        })
    }
}
