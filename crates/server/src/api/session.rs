//! Sign-in and sign-out: `POST|GET|DELETE /api/session`.

use axum::extract::State;
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use roster_core::password::{Password, PasswordPolicy};
use roster_store::User;
use utoipa::OpenApi;

use crate::auth::{self, Caller, Via, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorKind};
use crate::json::Json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/session", post(sign_in).get(current).delete(sign_out))
}

#[derive(OpenApi)]
#[openapi(paths(sign_in, current, sign_out))]
pub struct Doc;

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    email: String,
    password: String,
}

/// The signed-in user.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionUser {
    id: i64,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    /// `admin` or `agent`.
    role: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    user: SessionUser,
    /// Send it as `X-CSRF-Token` with every write made with the session
    /// cookie. Absent when the caller used a bearer token.
    csrf_token: Option<String>,
}

impl From<&User> for SessionUser {
    fn from(u: &User) -> Self {
        SessionUser {
            id: u.id,
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            role: u.role.as_str().to_string(),
        }
    }
}

fn secure(headers: &HeaderMap, state: &AppState) -> bool {
    state.config().cookie_secure
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

fn set_cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("roster_session=; Path=/"))
}

/// Sign in with email and password; sets the session cookie. Failed
/// attempts are limited per account and per client address (429 with
/// `Retry-After`).
#[utoipa::path(post, path = "/api/session", tag = "session", request_body = SignIn,
    responses(
        (status = 200, description = "Signed in; the cookie is set", body = SessionInfo),
        (status = 401, description = "Wrong email or password, or an inactive account", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody)))]
async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Json(form): Json<SignIn>,
) -> ApiResult<Response> {
    let address = auth::client_address(&headers, &extensions, state.config());
    let secure = secure(&headers, &state);
    if let Err(wait) = state.limiter().check(&form.email, address) {
        let mut e = ApiError::new(
            ErrorKind::RateLimited,
            format!(
                "too many failed sign-ins for this account or address; try again in {wait} seconds"
            ),
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    let hours = state.config().session_hours;
    let email = form.email.clone();
    let outcome = state
        .db(move |s| {
            let password = Password::new(form.password);
            let Some(user) =
                roster_store::auth::sign_in(s, PasswordPolicy::from_env(), &form.email, &password)?
            else {
                return Ok(None);
            };
            let secret = auth::create_session(s, &user, hours)?;
            Ok(Some((user, secret)))
        })
        .await?;
    let Some((user, secret)) = outcome else {
        state.limiter().failed(&email, address);
        return Err(ApiError::unauthorized(
            "the email or password is wrong, or the account is deactivated",
        ));
    };
    state.limiter().succeeded(&email);
    tracing::info!(user = %user.email, "signed in");
    let body = SessionInfo {
        user: SessionUser::from(&user),
        csrf_token: Some(auth::csrf_token(&secret)),
    };
    let mut res = axum::Json(body).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&secret, hours * 3600, secure),
    );
    Ok(res)
}

/// Who is signed in, and the CSRF token for cookie writes.
#[utoipa::path(get, path = "/api/session", tag = "session",
    security(("token" = ["agent"]), ("session" = ["agent"])),
    responses(
        (status = 200, description = "The caller", body = SessionInfo),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn current(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<axum::Json<SessionInfo>> {
    let id = caller.user_id;
    let email = caller.email.clone();
    let user = state
        .db(move |s| {
            s.user_by_email(&email)?
                .filter(|u| u.id == id)
                .ok_or_else(|| {
                    ApiError::unauthorized("the account no longer exists; sign in again")
                })
        })
        .await?;
    let csrf_token = match caller.via {
        Via::Session { .. } => {
            auth::cookie_from_headers(&headers, SESSION_COOKIE).map(auth::csrf_token)
        }
        Via::Token => None,
    };
    Ok(axum::Json(SessionInfo {
        user: SessionUser::from(&user),
        csrf_token,
    }))
}

/// Sign out: ends the session and clears the cookie. With a bearer token
/// it does nothing (revoke tokens with `roster tokens revoke`).
#[utoipa::path(delete, path = "/api/session", tag = "session",
    security(("token" = ["agent"]), ("session" = ["agent"])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Via::Session { hash } = caller.via {
        state.db(move |s| Ok(s.delete_session(&hash)?)).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie("", 0, secure(&headers, &state)),
    );
    Ok(res)
}
