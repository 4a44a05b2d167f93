//! The team's accounts, for admins: `GET|POST /api/users`,
//! `GET|PATCH /api/users/{id}`. No answer ever holds a password or hash.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use roster_core::email::normalize_email;
use roster_core::password::{check_new_password, Password, PasswordPolicy};
use roster_store::{Role, Store, User, UserRecord, UserWrite};
use utoipa::OpenApi;

use super::contacts::path_id;
use crate::auth::Admin;
use crate::error::{truncate, ApiError, ApiResult, ErrorBody, ErrorKind};
use crate::json::Json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(list).post(create))
        .route("/api/users/{id}", get(read).patch(update))
}

#[derive(OpenApi)]
#[openapi(paths(list, create, read, update))]
pub struct Doc;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct UserOut {
    id: i64,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    /// `admin` or `agent`.
    role: String,
    active: bool,
    created_at: String,
    updated_at: String,
}

impl From<UserRecord> for UserOut {
    fn from(r: UserRecord) -> Self {
        UserOut {
            id: r.user.id,
            email: r.user.email,
            first_name: r.user.first_name,
            last_name: r.user.last_name,
            role: r.user.role.as_str().to_string(),
            active: r.user.active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    email: String,
    /// At least 6 characters.
    password: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    /// `admin` or `agent` (default).
    #[serde(default)]
    role: Option<String>,
    /// Default true.
    #[serde(default)]
    active: Option<bool>,
}

/// Changes: absent fields stay; `null` clears a name.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    last_name: Option<Option<String>>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    active: Option<bool>,
    /// A new password (at least 6 characters); ends the user's sessions.
    #[serde(default)]
    password: Option<String>,
}

fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

fn role(v: &str) -> ApiResult<Role> {
    Role::parse(&v.trim().to_lowercase()).ok_or_else(|| {
        ApiError::invalid(format!(
            "field 'role': '{}' is not a role; use admin or agent",
            truncate(v)
        ))
    })
}

fn name(field: &str, v: Option<String>) -> ApiResult<Option<String>> {
    let Some(v) = v else { return Ok(None) };
    if v.contains('\0') {
        return Err(ApiError::invalid(format!(
            "field '{field}' contains a NUL character; remove it"
        )));
    }
    let t = v.trim();
    Ok((!t.is_empty()).then(|| t.to_string()))
}

fn hash(password: String) -> ApiResult<String> {
    let p = Password::new(password);
    check_new_password(&p).map_err(|e| ApiError::invalid(format!("field 'password': {e}")))?;
    PasswordPolicy::from_env()
        .hash(&p)
        .map_err(|e| ApiError::internal(e.to_string()))
}

fn active_admins(s: &mut dyn Store) -> ApiResult<usize> {
    Ok(s.users()?
        .iter()
        .filter(|u| u.user.active && u.user.role == Role::Admin)
        .count())
}

/// Every user, by email.
#[utoipa::path(get, path = "/api/users", tag = "users",
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, description = "Users", body = Vec<UserOut>),
        (status = 403, description = "Not an admin", body = ErrorBody)))]
async fn list(State(state): State<AppState>, _: Admin) -> ApiResult<axum::Json<Vec<UserOut>>> {
    let all = state.db(|s| Ok(s.users()?)).await?;
    Ok(axum::Json(all.into_iter().map(UserOut::from).collect()))
}

/// One user.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, description = "The user", body = UserOut),
        (status = 404, description = "No such user", body = ErrorBody)))]
async fn read(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<UserOut>> {
    let id = path_id("user", &id)?;
    let u = state.db(move |s| Ok(s.user(id)?)).await?;
    u.map(|u| axum::Json(u.into()))
        .ok_or_else(|| ApiError::not_found(format!("there is no user {id}")))
}

/// Create a user.
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = NewUser,
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses((status = 201, description = "Created", body = UserOut),
        (status = 409, description = "A user with this email exists", body = ErrorBody),
        (status = 422, description = "A bad value", body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Json(body): Json<NewUser>,
) -> ApiResult<(StatusCode, axum::Json<UserOut>)> {
    let email = normalize_email(&body.email).map_err(|e| {
        ApiError::invalid(format!(
            "field 'email': '{}': {e}",
            truncate(body.email.trim())
        ))
    })?;
    let user = User {
        id: 0,
        email: email.clone(),
        first_name: name("first_name", body.first_name)?,
        last_name: name("last_name", body.last_name)?,
        password_hash: String::new(),
        active: body.active.unwrap_or(true),
        role: body
            .role
            .as_deref()
            .map(role)
            .transpose()?
            .unwrap_or_default(),
    };
    let password = body.password;
    let rec = state
        .db(move |s| {
            let mut user = user;
            user.password_hash = hash(password)?;
            s.begin()?;
            if s.user_by_email(&email)?.is_some() {
                return Err(ApiError::new(
                    ErrorKind::AlreadyExists,
                    format!("a user with the email {email} already exists"),
                ));
            }
            s.write_users(
                None,
                &[UserWrite {
                    before: None,
                    after: user,
                }],
            )?;
            s.commit()?;
            let id = s
                .user_by_email(&email)?
                .map(|u| u.id)
                .ok_or_else(|| ApiError::internal("the new user cannot be read back"))?;
            s.user(id)?
                .ok_or_else(|| ApiError::internal("the new user cannot be read back"))
        })
        .await?;
    tracing::info!(by = %caller.email, user = %rec.user.email, "user created");
    Ok((StatusCode::CREATED, axum::Json(rec.into())))
}

/// Rename, change the role, activate or deactivate, or set a password.
/// Deactivating or setting a password ends the user's sessions; the last
/// active admin cannot be demoted or deactivated.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", request_body = UserPatch,
    params(("id" = i64, Path, description = "User id")),
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, description = "The changed user", body = UserOut),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "It would leave no active admin", body = ErrorBody),
        (status = 422, description = "A bad value", body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    Json(body): Json<UserPatch>,
) -> ApiResult<axum::Json<UserOut>> {
    let id = path_id("user", &id)?;
    let first_name = body.first_name.map(|v| name("first_name", v)).transpose()?;
    let last_name = body.last_name.map(|v| name("last_name", v)).transpose()?;
    let new_role = body.role.as_deref().map(role).transpose()?;
    let rec = state
        .db(move |s| {
            let new_hash = body.password.map(hash).transpose()?;
            s.begin()?;
            let current = s
                .user(id)?
                .ok_or_else(|| ApiError::not_found(format!("there is no user {id}")))?;
            s.load_users(&[current.user.email.as_str()])?;
            let before = current.user;
            let mut after = before.clone();
            if let Some(v) = first_name {
                after.first_name = v;
            }
            if let Some(v) = last_name {
                after.last_name = v;
            }
            if let Some(r) = new_role {
                after.role = r;
            }
            if let Some(a) = body.active {
                after.active = a;
            }
            let password_changed = new_hash.is_some();
            if let Some(h) = new_hash {
                after.password_hash = h;
            }
            let was_admin = before.active && before.role == Role::Admin;
            let is_admin = after.active && after.role == Role::Admin;
            if was_admin && !is_admin && active_admins(s)? <= 1 {
                return Err(ApiError::new(
                    ErrorKind::Conflict,
                    format!(
                        "{} is the last active admin; make another user an admin first",
                        before.email
                    ),
                ));
            }
            let ends_sessions = password_changed || (before.active && !after.active);
            if after != before {
                s.write_users(
                    None,
                    &[UserWrite {
                        before: Some(before),
                        after,
                    }],
                )?;
            }
            if ends_sessions {
                s.delete_sessions(id, &roster_store::now_rfc3339())?;
            }
            s.commit()?;
            s.user(id)?
                .ok_or_else(|| ApiError::not_found(format!("there is no user {id}")))
        })
        .await?;
    tracing::info!(by = %caller.email, user = %rec.user.email, "user changed");
    Ok(axum::Json(rec.into()))
}
