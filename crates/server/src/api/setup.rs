//! First run: `POST /api/setup` creates the first admin with the one-time
//! code `roster serve` printed on its console (as the link
//! `http://ADDR/setup#token=CODE`) when the database had no admin.
//!
//! The code is kept only as its hash, in memory; it works once, and not at
//! all once any admin exists (one made with `roster users create-admin`
//! included). It travels in the link's fragment, which browsers never send
//! to a server or put in a `Referer`.

use std::sync::{Mutex, PoisonError};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use roster_core::email::normalize_email;
use roster_core::password::{check_new_password, Password, PasswordPolicy};
use roster_store::{Role, Store, StoreError, User, UserWrite};
use utoipa::OpenApi;

use crate::auth::{random_secret, sha256_hex};
use crate::error::{truncate, ApiError, ApiResult, ErrorBody, ErrorKind};
use crate::json::Json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/setup", post(setup))
}

#[derive(OpenApi)]
#[openapi(paths(setup))]
pub struct Doc;

/// The one-time setup code's hash, while one is on offer.
#[derive(Default)]
pub struct SetupOffer(Mutex<Option<String>>);

impl SetupOffer {
    fn take(&self, hash: &str) -> bool {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let ok = slot
            .as_deref()
            .is_some_and(|h| constant_time_eq(h.as_bytes(), hash.as_bytes()));
        if ok {
            *slot = None;
        }
        ok
    }
    fn put_back(&self, hash: String) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(hash);
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn has_admin(store: &mut dyn Store) -> Result<bool, StoreError> {
    let mut found = false;
    store.each_user(&mut |u| {
        found |= u.role == Role::Admin;
        Ok(())
    })?;
    Ok(found)
}

/// When the database has no admin, puts a new one-time code on offer and
/// returns it (for the console link); otherwise None.
pub async fn offer(state: &AppState) -> ApiResult<Option<String>> {
    if state.db(|s| Ok(has_admin(s)?)).await? {
        return Ok(None);
    }
    let code = random_secret()?;
    state.setup().put_back(sha256_hex(code.as_bytes()));
    Ok(Some(code))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupForm {
    /// The code from the link `roster serve` printed.
    token: String,
    email: String,
    /// At least 6 characters.
    password: String,
    first_name: Option<String>,
    last_name: Option<String>,
}

/// The admin that was created.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SetupDone {
    id: i64,
    email: String,
    role: String,
}

const USED: &str = "this setup link was already used or is not the current one; sign in, or create an admin with `roster users create-admin EMAIL`";

/// Creates the first admin with the one-time code; sign in afterwards with
/// `POST /api/session`.
#[utoipa::path(post, path = "/api/setup", tag = "session", request_body = SetupForm,
    responses(
        (status = 201, description = "The first admin was created", body = SetupDone),
        (status = 403, description = "The code is wrong or was used, or an admin exists", body = ErrorBody),
        (status = 422, description = "The email or password breaks a rule", body = ErrorBody)))]
async fn setup(
    State(state): State<AppState>,
    Json(form): Json<SetupForm>,
) -> ApiResult<(StatusCode, axum::Json<SetupDone>)> {
    let hash = sha256_hex(form.token.as_bytes());
    if !state.setup().take(&hash) {
        return Err(ApiError::forbidden(USED));
    }
    let result = state.db(move |s| create_admin(s, form)).await;
    match result {
        // A wrong email or password leaves the link usable.
        Err(e) if e.kind == ErrorKind::InvalidValue => {
            state.setup().put_back(hash);
            Err(e)
        }
        Err(e) => Err(e),
        Ok(done) => {
            tracing::info!(user = %done.email, "first admin created with the setup link");
            Ok((StatusCode::CREATED, axum::Json(done)))
        }
    }
}

fn create_admin(s: &mut dyn Store, form: SetupForm) -> ApiResult<SetupDone> {
    if has_admin(s)? {
        return Err(ApiError::forbidden(
            "an admin exists already, so this setup link no longer works; sign in instead",
        ));
    }
    let email = normalize_email(&form.email)
        .map_err(|e| ApiError::invalid(format!("email: '{}' {e}", truncate(form.email.trim()))))?;
    let password = Password::new(form.password);
    check_new_password(&password).map_err(|e| ApiError::invalid(format!("password: {e}")))?;
    let hash = PasswordPolicy::from_env()
        .hash(&password)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let clean = |v: Option<String>| v.map(|x| x.trim().to_string()).filter(|x| !x.is_empty());
    let user = User {
        id: 0,
        email: email.clone(),
        first_name: clean(form.first_name),
        last_name: clean(form.last_name),
        password_hash: hash,
        active: true,
        role: Role::Admin,
    };
    s.begin()?;
    if s.user_by_email(&email)?.is_some() {
        return Err(ApiError::invalid(format!(
            "email: a user with the email {email} exists already; use another address"
        )));
    }
    s.write_users(
        None,
        &[UserWrite {
            before: None,
            after: user,
        }],
    )?;
    s.commit()?;
    let id = s.user_by_email(&email)?.map(|u| u.id).unwrap_or_default();
    Ok(SetupDone {
        id,
        email,
        role: "admin".into(),
    })
}
