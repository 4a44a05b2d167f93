//! Credentials: API tokens (`Authorization: Bearer TOKEN`) and session
//! cookies, roles, CSRF, and the sign-in rate limiter.
//!
//! - A token or session id is 32 random bytes from the OS; the database
//!   keeps only its SHA-256, so a stolen database holds no usable
//!   credential. Looking a credential up by its hash is the comparison;
//!   the CSRF token is compared in constant time.
//! - CSRF: a write (any method but GET, HEAD, OPTIONS) authenticated by
//!   the session cookie must carry `X-CSRF-Token`, whose value `POST
//!   /api/session` and `GET /api/session` return. It is derived from the
//!   session id (SHA-256 of a fixed prefix and the id), so it needs no
//!   storage and changes with every sign-in. A bearer token needs none: a
//!   browser never adds it on its own.
//! - Inactive users are refused with 401 whatever credential they hold.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Extensions, HeaderMap, Method};
use roster_store::{CredentialKind, NewCredential, Role, Store, StoreError, User};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "roster_session";
/// The header a cookie-authenticated write must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// API tokens start with this, so a leaked one is easy to recognise.
pub const TOKEN_PREFIX: &str = "rst_";

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Token,
    /// The session cookie; `hash` is the stored hash of its id.
    Session {
        hash: String,
    },
}

/// The authenticated caller of a request. Use it as an extractor: a route
/// that takes a `Caller` answers 401 without valid credentials, and 403 on
/// a cookie write without CSRF token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub email: String,
    pub role: Role,
    pub via: Via,
}

impl Caller {
    /// 403 unless the caller is an admin.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "this needs an admin account; ask an admin to do it or to change your role",
            ))
        }
    }
}

/// Hex of SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// 32 random bytes from the OS, as 64 hex characters.
pub fn random_secret() -> Result<String, StoreError> {
    let mut buf = [0u8; 32];
    getrandom::getrandom(&mut buf)
        .map_err(|e| StoreError::Database(format!("the OS random number generator failed: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The CSRF token that goes with a session id.
pub fn csrf_token(session_secret: &str) -> String {
    sha256_hex(format!("roster-csrf:{session_secret}").as_bytes())
}

/// Creates an API token for `user`; returns the token, which is shown once
/// and stored only as its hash.
pub fn create_token(
    store: &mut dyn Store,
    user: &User,
    name: Option<&str>,
) -> Result<String, StoreError> {
    let token = format!("{TOKEN_PREFIX}{}", random_secret()?);
    store.add_credential(&NewCredential {
        kind: CredentialKind::Token,
        hash: sha256_hex(token.as_bytes()),
        user_id: user.id,
        name: name.map(str::to_string),
        expires_at: None,
    })?;
    Ok(token)
}

/// Starts a session for `user`; returns its secret id (the cookie value).
pub fn create_session(
    store: &mut dyn Store,
    user: &User,
    hours: u64,
) -> Result<String, StoreError> {
    let secret = random_secret()?;
    let expires = roster_store::rfc3339_after(Duration::from_secs(hours * 3600));
    store.add_credential(&NewCredential {
        kind: CredentialKind::Session,
        hash: sha256_hex(secret.as_bytes()),
        user_id: user.id,
        name: None,
        expires_at: Some(expires),
    })?;
    Ok(secret)
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_from_headers<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        let (kind, secret) = if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "the Authorization header must be 'Bearer TOKEN'; create a token with `roster tokens create`",
                    )
                })?;
            (CredentialKind::Token, token.to_string())
        } else if let Some(session) = cookie_from_headers(&parts.headers, SESSION_COOKIE) {
            (CredentialKind::Session, session.to_string())
        } else {
            return Err(ApiError::unauthorized(
                "sign in first: send 'Authorization: Bearer TOKEN' or the session cookie from POST /api/session",
            ));
        };
        if kind == CredentialKind::Session && !is_safe(&parts.method) {
            let expected = csrf_token(&secret);
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            if !bool::from(given.ct_eq(expected.as_bytes())) {
                return Err(ApiError::new(
                    ErrorKind::CsrfFailed,
                    "a write with the session cookie needs the X-CSRF-Token header that GET /api/session returns",
                ));
            }
        }
        let hash = sha256_hex(secret.as_bytes());
        let lookup = hash.clone();
        let found = state
            .db(move |s| Ok(s.find_credential(kind, &lookup, &roster_store::now_rfc3339())?))
            .await?;
        let Some((_, user)) = found else {
            return Err(ApiError::unauthorized(match kind {
                CredentialKind::Token => "the API token is not valid (unknown or revoked); create a new one with `roster tokens create`",
                CredentialKind::Session => "the session has ended or is not valid; sign in again",
            }));
        };
        if !user.active {
            return Err(ApiError::unauthorized(
                "this account is deactivated; ask an admin to activate it",
            ));
        }
        Ok(Caller {
            user_id: user.id,
            email: user.email,
            role: user.role,
            via: match kind {
                CredentialKind::Token => Via::Token,
                CredentialKind::Session => Via::Session { hash },
            },
        })
    }
}

/// The client's address: the peer, or with `trust_proxy` the last address
/// of `X-Forwarded-For` (the one the proxy itself added).
pub fn client_address(
    headers: &HeaderMap,
    extensions: &Extensions,
    config: &Config,
) -> Option<IpAddr> {
    if config.trust_proxy {
        if let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
        {
            return Some(ip);
        }
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Counts failed sign-ins per account and per client address in a fixed
/// window; over the limit, sign-in answers 429 with `Retry-After` until
/// the window ends. In memory, per server process.
pub struct SignInLimiter {
    account_limit: u32,
    address_limit: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Entries kept before expired ones are swept.
const LIMITER_SWEEP_AT: usize = 10_000;

impl SignInLimiter {
    pub fn new(config: &Config) -> Self {
        SignInLimiter {
            account_limit: config.signin_account_attempts,
            address_limit: config.signin_address_attempts,
            window: Duration::from_secs(config.signin_window_secs),
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn keys(email: &str, address: Option<IpAddr>) -> [(String, bool); 2] {
        [
            (format!("account:{}", email.trim().to_lowercase()), true),
            (
                format!(
                    "address:{}",
                    address.map(|a| a.to_string()).unwrap_or_default()
                ),
                false,
            ),
        ]
    }

    /// Err(seconds to wait) when either count is at its limit.
    pub fn check(&self, email: &str, address: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, is_account) in Self::keys(email, address) {
            let limit = if is_account {
                self.account_limit
            } else {
                self.address_limit
            };
            if let Some((n, start)) = counts.get(&key) {
                let age = now.duration_since(*start);
                if age < self.window && *n >= limit {
                    return Err((self.window - age).as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    pub fn failed(&self, email: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.len() >= LIMITER_SWEEP_AT {
            let window = self.window;
            counts.retain(|_, (_, start)| now.duration_since(*start) < window);
        }
        for (key, _) in Self::keys(email, address) {
            let e = counts.entry(key).or_insert((0, now));
            if now.duration_since(e.1) >= self.window {
                *e = (0, now);
            }
            e.0 += 1;
        }
    }

    /// A successful sign-in clears the account's count (not the address's).
    pub fn succeeded(&self, email: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.remove(&format!("account:{}", email.trim().to_lowercase()));
    }
}

/// The caller, who must be an admin: 401 without credentials, 403 for an
/// agent — checked before the body is read, so an agent learns nothing
/// about the route's payload.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Admin> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_admin()?;
        Ok(Admin(caller))
    }
}
