//! Sign-in sessions and API tokens: stored as the SHA-256 of the secret the
//! client holds, never the secret itself (the server crate makes and hashes
//! them; the store only keeps and finds hashes).

use crate::{Result, User};

/// What a credential is: a browser session (cookie) or an API token (bearer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    Session,
    Token,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::Token => "token",
        }
    }
}

/// A credential to store.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub kind: CredentialKind,
    /// Hex SHA-256 of the secret.
    pub hash: String,
    pub user_id: i64,
    /// A token's name ("deploy script"); None for sessions.
    pub name: Option<String>,
    /// RFC 3339; None never expires.
    pub expires_at: Option<String>,
}

/// An API token as `roster tokens list` shows it (no secret, no hash).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub user_email: String,
    pub name: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// Sessions and tokens.
pub trait Credentials {
    /// Stores a credential; returns its id.
    fn add_credential(&mut self, c: &NewCredential) -> Result<i64>;
    /// The live credential with this hash — not revoked, not expired at
    /// `now` — and its user (whatever the user's `active` flag: the caller
    /// refuses inactive users).
    fn find_credential(
        &mut self,
        kind: CredentialKind,
        hash: &str,
        now: &str,
    ) -> Result<Option<(i64, User)>>;
    /// Deletes a session (sign-out); true when there was one.
    fn delete_session(&mut self, hash: &str) -> Result<bool>;
    /// Deletes every session of a user (password changed, deactivated) and
    /// the expired sessions of everyone; returns how many went.
    fn delete_sessions(&mut self, user_id: i64, now: &str) -> Result<u64>;
    /// Revokes an API token; false when there is no live token with this id.
    fn revoke_token(&mut self, id: i64) -> Result<bool>;
    /// Every API token, revoked ones included, by id.
    fn tokens(&mut self) -> Result<Vec<TokenInfo>>;
}
