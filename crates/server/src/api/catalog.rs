//! The catalog: `GET|POST /api/labels`, `/api/companies`, `/api/fields`.
//! Everyone signed in may read it; only admins add to it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use roster_core::field::{check_variable_name, FieldType};
use roster_store::{NewField, StoreError};
use utoipa::OpenApi;

use crate::auth::{Admin, Caller};
use crate::error::{truncate, ApiError, ApiResult, ErrorBody, ErrorKind};
use crate::json::Json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/labels", get(labels).post(add_label))
        .route("/api/companies", get(companies).post(add_company))
        .route("/api/fields", get(fields).post(add_field))
}

#[derive(OpenApi)]
#[openapi(paths(labels, add_label, companies, add_company, fields, add_field))]
pub struct Doc;

/// A label or a company.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Named {
    id: i64,
    name: String,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNamed {
    name: String,
}

/// A custom field.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Field {
    id: i64,
    /// The column name in CSV files and the key in a contact's `custom`.
    variable_name: String,
    /// The name shown to people.
    name: String,
    /// text, number, boolean, date or select.
    #[serde(rename = "type")]
    field_type: String,
    /// A select field's options.
    options: Vec<String>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldIn {
    variable_name: String,
    /// text, number, boolean, date or select.
    #[serde(rename = "type")]
    field_type: String,
    /// Required for select, refused otherwise.
    #[serde(default)]
    options: Vec<String>,
    /// Defaults to the variable name.
    #[serde(default)]
    name: Option<String>,
}

/// The rules of a label or company name, as the CLI applies them.
fn checked_name(name: &str, what: &str) -> ApiResult<String> {
    let t = name.trim();
    if t.is_empty() {
        return Err(ApiError::invalid(format!(
            "field 'name': the {what} name is empty; give a name"
        )));
    }
    if t != name {
        return Err(ApiError::invalid(format!(
            "field 'name': the {what} name '{}' has surrounding spaces, which CSV import would trim away; use '{}'",
            truncate(name),
            truncate(t)
        )));
    }
    if name.contains('\0') {
        return Err(ApiError::invalid(format!(
            "field 'name': the {what} name contains a NUL character; remove it"
        )));
    }
    Ok(t.to_string())
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(m) => ApiError::new(ErrorKind::AlreadyExists, m),
        e => e.into(),
    }
}

/// Every label, by id.
#[utoipa::path(get, path = "/api/labels", tag = "catalog",
    security(("token" = ["agent"]), ("session" = ["agent"])),
    responses((status = 200, description = "Labels", body = Vec<Named>)))]
async fn labels(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<axum::Json<Vec<Named>>> {
    let all = state.db(|s| Ok(s.labels()?)).await?;
    Ok(axum::Json(
        all.into_iter()
            .map(|l| Named {
                id: l.id,
                name: l.name,
            })
            .collect(),
    ))
}

/// Add a label (names are case-sensitive and unique; no ':').
#[utoipa::path(post, path = "/api/labels", tag = "catalog", request_body = NewNamed,
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 201, description = "Created", body = Named),
        (status = 409, description = "A label with this name exists", body = ErrorBody),
        (status = 422, description = "A bad name", body = ErrorBody)))]
async fn add_label(
    State(state): State<AppState>,
    _: Admin,
    Json(body): Json<NewNamed>,
) -> ApiResult<(StatusCode, axum::Json<Named>)> {
    let name = checked_name(&body.name, "label")?;
    if name.contains(':') {
        return Err(ApiError::invalid(
            "field 'name': a label name cannot contain ':' (it separates labels in CSV files); choose another name",
        ));
    }
    let n = name.clone();
    let id = state.db(move |s| s.add_label(&n).map_err(conflict)).await?;
    Ok((StatusCode::CREATED, axum::Json(Named { id, name })))
}

/// Every company, by id.
#[utoipa::path(get, path = "/api/companies", tag = "catalog",
    security(("token" = ["agent"]), ("session" = ["agent"])),
    responses((status = 200, description = "Companies", body = Vec<Named>)))]
async fn companies(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<axum::Json<Vec<Named>>> {
    let all = state.db(|s| Ok(s.companies()?)).await?;
    Ok(axum::Json(
        all.into_iter()
            .map(|c| Named {
                id: c.id,
                name: c.name,
            })
            .collect(),
    ))
}

/// Add a company.
#[utoipa::path(post, path = "/api/companies", tag = "catalog", request_body = NewNamed,
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 201, description = "Created", body = Named),
        (status = 422, description = "A bad name", body = ErrorBody)))]
async fn add_company(
    State(state): State<AppState>,
    _: Admin,
    Json(body): Json<NewNamed>,
) -> ApiResult<(StatusCode, axum::Json<Named>)> {
    let name = checked_name(&body.name, "company")?;
    let n = name.clone();
    let id = state.db(move |s| Ok(s.add_company(&n)?)).await?;
    Ok((StatusCode::CREATED, axum::Json(Named { id, name })))
}

/// Every custom field, in creation order.
#[utoipa::path(get, path = "/api/fields", tag = "catalog",
    security(("token" = ["agent"]), ("session" = ["agent"])),
    responses((status = 200, description = "Custom fields", body = Vec<Field>)))]
async fn fields(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<axum::Json<Vec<Field>>> {
    let all = state.db(|s| Ok(s.fields()?)).await?;
    Ok(axum::Json(
        all.into_iter()
            .map(|f| Field {
                id: f.id,
                variable_name: f.variable_name,
                name: f.name,
                field_type: f.field_type.as_str().to_string(),
                options: f.options,
            })
            .collect(),
    ))
}

/// Add a custom field.
#[utoipa::path(post, path = "/api/fields", tag = "catalog", request_body = FieldIn,
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 201, description = "Created", body = Field),
        (status = 409, description = "A field with this variable name exists", body = ErrorBody),
        (status = 422, description = "A bad value", body = ErrorBody)))]
async fn add_field(
    State(state): State<AppState>,
    _: Admin,
    Json(body): Json<FieldIn>,
) -> ApiResult<(StatusCode, axum::Json<Field>)> {
    check_variable_name(&body.variable_name)
        .map_err(|m| ApiError::invalid(format!("field 'variable_name': {m}")))?;
    let field_type = FieldType::parse(&body.field_type).ok_or_else(|| {
        ApiError::invalid(format!(
            "field 'type': '{}' is not a field type; use text, number, boolean, date or select",
            truncate(&body.field_type)
        ))
    })?;
    let options: Vec<String> = body.options.iter().map(|o| o.trim().to_string()).collect();
    if options.iter().any(|o| o.is_empty()) {
        return Err(ApiError::invalid(
            "field 'options': an option is empty; remove it",
        ));
    }
    match (field_type, options.is_empty()) {
        (FieldType::Select, true) => {
            return Err(ApiError::invalid(
                "field 'options': a select field needs its options, e.g. [\"Gold\",\"Silver\"]",
            ))
        }
        (FieldType::Select, false) => {}
        (_, false) => {
            return Err(ApiError::invalid(
                "field 'options': options only apply to type select; remove them",
            ))
        }
        _ => {}
    }
    let mut unique = options.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != options.len() {
        return Err(ApiError::invalid(
            "field 'options': an option is listed twice; give each once",
        ));
    }
    let name = body
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| body.variable_name.clone());
    let new = NewField {
        variable_name: body.variable_name,
        name,
        field_type,
        options,
    };
    let out = Field {
        id: 0,
        variable_name: new.variable_name.clone(),
        name: new.name.clone(),
        field_type: field_type.as_str().to_string(),
        options: new.options.clone(),
    };
    let id = state
        .db(move |s| s.add_field(&new).map_err(conflict))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(Field { id, ..out })))
}
