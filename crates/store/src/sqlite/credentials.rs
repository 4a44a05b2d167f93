//! Sessions and API tokens on SQLite.

use rusqlite::{params, OptionalExtension};

use super::{db, row_to_user, SqliteStore};
use crate::credentials::{CredentialKind, Credentials, NewCredential, TokenInfo};
use crate::{now_rfc3339, Result, User};

pub(super) const MIGRATION: &str = r#"
CREATE TABLE credentials (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);
CREATE INDEX credentials_user ON credentials (user_id);
"#;

impl Credentials for SqliteStore {
    fn add_credential(&mut self, c: &NewCredential) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO credentials (kind, hash, user_id, name, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![c.kind.as_str(), c.hash, c.user_id, c.name, now_rfc3339(), c.expires_at],
            )
            .map_err(db("storing a credential"))?;
        Ok(self.conn.last_insert_rowid())
    }

    fn find_credential(
        &mut self,
        kind: CredentialKind,
        hash: &str,
        now: &str,
    ) -> Result<Option<(i64, User)>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT u.id, u.email, u.first_name, u.last_name, u.password_hash, u.active, u.role, c.id \
                 FROM credentials c JOIN users u ON u.id = c.user_id \
                 WHERE c.hash = ?1 AND c.kind = ?2 AND c.revoked_at IS NULL \
                 AND (c.expires_at IS NULL OR c.expires_at > ?3)",
            )
            .map_err(db("checking a credential"))?;
        st.query_row(params![hash, kind.as_str(), now], |r| {
            Ok((r.get(7)?, row_to_user(r)?))
        })
        .optional()
        .map_err(db("checking a credential"))
    }

    fn delete_session(&mut self, hash: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "DELETE FROM credentials WHERE hash = ?1 AND kind = 'session'",
                [hash],
            )
            .map_err(db("signing out"))?;
        Ok(n > 0)
    }

    fn delete_sessions(&mut self, user_id: i64, now: &str) -> Result<u64> {
        let n = self
            .conn
            .execute(
                "DELETE FROM credentials WHERE kind = 'session' AND (user_id = ?1 OR expires_at <= ?2)",
                params![user_id, now],
            )
            .map_err(db("deleting sessions"))?;
        Ok(n as u64)
    }

    fn revoke_token(&mut self, id: i64) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE credentials SET revoked_at = ?2 WHERE id = ?1 AND kind = 'token' AND revoked_at IS NULL",
                params![id, now_rfc3339()],
            )
            .map_err(db("revoking a token"))?;
        Ok(n > 0)
    }

    fn tokens(&mut self) -> Result<Vec<TokenInfo>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT c.id, u.email, c.name, c.created_at, c.revoked_at FROM credentials c \
                 JOIN users u ON u.id = c.user_id WHERE c.kind = 'token' ORDER BY c.id",
            )
            .map_err(db("listing tokens"))?;
        let rows = st
            .query_map([], |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    user_email: r.get(1)?,
                    name: r.get(2)?,
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                })
            })
            .map_err(db("listing tokens"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("listing tokens"))
    }
}
