//! Contacts: `GET|POST /api/contacts`, `GET|PATCH|DELETE /api/contacts/{id}`.
//!
//! Writes follow the import's rules and messages (`roster_core`): emails
//! are normalized and validated by `normalize_email`, custom values are
//! checked and canonicalized by their field, companies and labels must
//! exist. A PATCH sent with `If-Match: ETAG` (the `ETag` of the GET) is
//! refused with 409 `edit_conflict` when the contact changed since.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use roster_core::email::normalize_email;
use roster_core::field::CustomField;
use roster_store::{Contact, ContactQuery, ContactRecord, ContactWrite, Store};
use utoipa::OpenApi;

use crate::auth::{sha256_hex, Caller};
use crate::error::{truncate, ApiError, ApiResult, ErrorBody, ErrorKind};
use crate::json::Json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/contacts", get(list).post(create))
        .route("/api/contacts/{id}", get(read).patch(update).delete(remove))
}

#[derive(OpenApi)]
#[openapi(paths(list, create, read, update, remove))]
pub struct Doc;

/// Contacts per page unless `limit` says otherwise, and the most a page
/// may hold.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// A contact as the API shows it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ContactOut {
    id: i64,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    company_id: Option<i64>,
    /// Label ids, ascending.
    labels: Vec<i64>,
    /// Custom values by variable name, in canonical form.
    #[schema(value_type = Object)]
    custom: BTreeMap<String, String>,
    /// `import`, `email` or `api`.
    source: String,
    created_at: String,
    updated_at: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ContactList {
    items: Vec<ContactOut>,
    /// Pass as `cursor` for the next page; null at the end. A page may
    /// hold fewer than `limit` contacts before the end.
    next: Option<String>,
}

/// A new contact.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    email: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    company_id: Option<i64>,
    /// Label ids.
    #[serde(default)]
    labels: Option<Vec<i64>>,
    /// Values by variable name: strings, numbers or booleans.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    custom: Option<BTreeMap<String, serde_json::Value>>,
}

/// Changes to a contact: an absent field stays as it is; `null` (or an
/// empty string) clears a name or the company; `labels` replaces the whole
/// set; `custom` sets the values it names (`null` clears one).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    /// Must be the contact's email (an email never changes).
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    company_id: Option<Option<i64>>,
    #[serde(default)]
    labels: Option<Vec<i64>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    custom: Option<BTreeMap<String, serde_json::Value>>,
}

/// Present-and-null is `Some(None)`; absent is `None` (with `default`).
fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// The contact's version for `If-Match`: changes with every write.
pub fn etag(r: &ContactRecord) -> String {
    let c = &r.contact;
    let text = format!(
        "{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}",
        c.id, r.updated_at, c.email, c.first_name, c.last_name, c.company_id, c.labels, c.custom
    );
    format!("\"{}\"", &sha256_hex(text.as_bytes())[..32])
}

fn to_out(r: ContactRecord, fields: &[CustomField]) -> ContactOut {
    let names: HashMap<i64, &str> = fields
        .iter()
        .map(|f| (f.id, f.variable_name.as_str()))
        .collect();
    let c = r.contact;
    ContactOut {
        id: c.id,
        email: c.email,
        first_name: c.first_name,
        last_name: c.last_name,
        company_id: c.company_id,
        labels: c.labels,
        custom: c
            .custom
            .into_iter()
            .filter_map(|(k, v)| names.get(&k).map(|n| (n.to_string(), v)))
            .collect(),
        source: r.source,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

fn with_etag(status: StatusCode, rec: ContactRecord, fields: &[CustomField]) -> Response {
    let tag = etag(&rec);
    let mut res = (status, axum::Json(to_out(rec, fields))).into_response();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// The email a cursor stands for (cursors are the hex of an email).
fn decode_cursor(c: &str) -> ApiResult<String> {
    let bad = || {
        ApiError::bad_request(format!(
            "cursor '{}' is not one this server gave; start again without cursor",
            truncate(c)
        ))
    };
    if !c.len().is_multiple_of(2) || c.len() > 1024 {
        return Err(bad());
    }
    let bytes = (0..c.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(c.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

fn encode_cursor(email: &str) -> String {
    email.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Parses the query string into (name, value) pairs.
pub fn query_pairs(raw: Option<&str>) -> ApiResult<Vec<(String, String)>> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_decode(s).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "the query parameter '{}' is not valid percent-encoded UTF-8",
                        truncate(k)
                    ))
                })
            };
            Ok((dec(k)?, dec(v)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                out.push(u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A number in the query string, or a 400 naming the parameter.
pub fn query_id(name: &str, value: &str) -> ApiResult<i64> {
    value.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        ApiError::bad_request(format!(
            "query parameter '{name}': '{}' is not an id; use a positive whole number",
            truncate(value)
        ))
    })
}

/// An id in the path, or a 404 saying so.
pub fn path_id(what: &str, raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        ApiError::not_found(format!(
            "there is no {what} '{}': ids are positive whole numbers",
            truncate(raw)
        ))
    })
}

/// List contacts in email byte order: `q` finds text anywhere in the
/// email, first or last name (case-insensitive); `label` and `company`
/// filter by id; `limit` (1–500, default 50); `cursor` from the previous
/// page's `next`.
#[utoipa::path(get, path = "/api/contacts", tag = "contacts",
    params(
        ("q" = Option<String>, Query, description = "Text to find in email, first or last name"),
        ("label" = Option<i64>, Query, description = "Only contacts with this label id"),
        ("company" = Option<i64>, Query, description = "Only contacts of this company id"),
        ("limit" = Option<usize>, Query, description = "Contacts per page, 1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's `next`")),
    security(("token" = ["agent"]), ("session" = ["agent"])),
    responses(
        (status = 200, description = "A page of contacts", body = ContactList),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult<axum::Json<ContactList>> {
    let mut query = ContactQuery {
        limit: DEFAULT_LIMIT,
        index_candidates: state.config().search_index_candidates,
        scan_budget: state.config().search_scan_budget,
        ..ContactQuery::default()
    };
    for (k, v) in query_pairs(raw.as_deref())? {
        match k.as_str() {
            "q" => {
                let q = v.trim().to_lowercase();
                if q.len() > 256 {
                    return Err(ApiError::bad_request(
                        "query parameter 'q' is longer than 256 bytes; search for less",
                    ));
                }
                query.q = (!q.is_empty()).then_some(q);
            }
            "label" => query.label = Some(query_id("label", &v)?),
            "company" => query.company = Some(query_id("company", &v)?),
            "limit" => {
                query.limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "query parameter 'limit': '{}' is not a number from 1 to {MAX_LIMIT}",
                            truncate(&v)
                        ))
                    })?
            }
            "cursor" => {
                if !v.is_empty() {
                    query.after = Some(decode_cursor(&v)?)
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter '{}'; use q, label, company, limit or cursor",
                    truncate(other)
                )))
            }
        }
    }
    let (page, fields) = state
        .db(move |s| Ok((s.list_contacts(&query)?, s.fields()?)))
        .await?;
    Ok(axum::Json(ContactList {
        items: page.items.into_iter().map(|r| to_out(r, &fields)).collect(),
        next: page.next.as_deref().map(encode_cursor),
    }))
}

/// One contact, with its `ETag` for `If-Match`.
#[utoipa::path(get, path = "/api/contacts/{id}", tag = "contacts",
    params(("id" = i64, Path, description = "Contact id")),
    security(("token" = ["agent"]), ("session" = ["agent"])),
    responses(
        (status = 200, description = "The contact", body = ContactOut),
        (status = 404, description = "No such contact", body = ErrorBody)))]
async fn read(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = path_id("contact", &id)?;
    let (rec, fields) = state.db(move |s| Ok((s.contact(id)?, s.fields()?))).await?;
    let rec = rec.ok_or_else(|| ApiError::not_found(format!("there is no contact {id}")))?;
    Ok(with_etag(StatusCode::OK, rec, &fields))
}

/// A name as stored: trimmed; empty is none.
fn name_value(field: &str, v: Option<String>) -> ApiResult<Option<String>> {
    let Some(v) = v else { return Ok(None) };
    if v.contains('\0') {
        return Err(ApiError::invalid(format!(
            "field '{field}' contains a NUL character; remove it"
        )));
    }
    let t = v.trim();
    Ok((!t.is_empty()).then(|| t.to_string()))
}

fn check_email(raw: &str) -> ApiResult<String> {
    normalize_email(raw)
        .map_err(|e| ApiError::invalid(format!("field 'email': '{}': {e}", truncate(raw.trim()))))
}

/// Checks company and labels against the catalog, as the import does.
fn check_refs(s: &mut dyn Store, company: Option<i64>, labels: &[i64]) -> ApiResult<()> {
    if let Some(id) = company {
        if !s.company_exists(id)? {
            return Err(ApiError::invalid(format!(
                "field 'company_id': there is no company {id}; create it with POST /api/companies or fix the id"
            )));
        }
    }
    if !labels.is_empty() {
        let known: Vec<i64> = s.labels()?.into_iter().map(|l| l.id).collect();
        if let Some(id) = labels.iter().find(|id| !known.contains(id)) {
            return Err(ApiError::invalid(format!(
                "field 'labels': there is no label with id {id}; see GET /api/labels"
            )));
        }
    }
    Ok(())
}

/// Applies `custom` values (by variable name) to `into`, checked and
/// canonicalized by each field's type; `null` removes a value.
fn apply_custom(
    fields: &[CustomField],
    custom: &BTreeMap<String, serde_json::Value>,
    into: &mut BTreeMap<i64, String>,
) -> ApiResult<()> {
    for (name, value) in custom {
        let Some(f) = fields.iter().find(|f| &f.variable_name == name) else {
            let known: Vec<&str> = fields.iter().map(|f| f.variable_name.as_str()).collect();
            return Err(ApiError::invalid(format!(
                "field 'custom.{}': there is no custom field with that variable name; known: {}",
                truncate(name),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let raw = match value {
            serde_json::Value::Null => {
                into.remove(&f.id);
                continue;
            }
            serde_json::Value::String(s) => s.trim().to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => {
                return Err(ApiError::invalid(format!(
                    "field 'custom.{name}': give a string, number, boolean or null"
                )))
            }
        };
        if raw.is_empty() {
            into.remove(&f.id);
            continue;
        }
        if raw.contains('\0') {
            return Err(ApiError::invalid(format!(
                "field 'custom.{name}' contains a NUL character; remove it"
            )));
        }
        let v = f
            .canonicalize(&raw)
            .map_err(|m| ApiError::invalid(format!("field 'custom.{name}': {m}")))?;
        into.insert(f.id, v);
    }
    Ok(())
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Create a contact (`source` = `api`).
#[utoipa::path(post, path = "/api/contacts", tag = "contacts", request_body = NewContact,
    security(("token" = ["agent"]), ("session" = ["agent"])),
    responses(
        (status = 201, description = "Created", body = ContactOut),
        (status = 409, description = "A contact with this email exists", body = ErrorBody),
        (status = 422, description = "A value breaks a rule", body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    _caller: Caller,
    Json(body): Json<NewContact>,
) -> ApiResult<Response> {
    let email = check_email(&body.email)?;
    let first_name = name_value("first_name", body.first_name)?;
    let last_name = name_value("last_name", body.last_name)?;
    let labels = sorted(body.labels.unwrap_or_default());
    let (rec, fields) = state
        .db(move |s| {
            let fields = s.fields()?;
            let mut custom = BTreeMap::new();
            if let Some(c) = &body.custom {
                apply_custom(&fields, c, &mut custom)?;
            }
            check_refs(s, body.company_id, &labels)?;
            s.begin()?;
            if let Some(existing) = s.contact_by_email(&email)? {
                return Err(ApiError::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "a contact with the email {email} already exists (id {}); change it with PATCH /api/contacts/{}",
                        existing.contact.id, existing.contact.id
                    ),
                ));
            }
            let after = Contact {
                id: 0,
                email: email.clone(),
                first_name,
                last_name,
                company_id: body.company_id,
                labels,
                custom,
                changed_by: None,
            };
            s.write_contacts(None, &[ContactWrite { before: None, after }])?;
            s.commit()?;
            let rec = s
                .contact_by_email(&email)?
                .ok_or_else(|| ApiError::internal("the new contact cannot be read back"))?;
            Ok((rec, fields))
        })
        .await?;
    Ok(with_etag(StatusCode::CREATED, rec, &fields))
}

/// Change a contact. Send `If-Match` with the `ETag` you read so a change
/// made since by someone else is never overwritten (409 `edit_conflict`).
#[utoipa::path(patch, path = "/api/contacts/{id}", tag = "contacts", request_body = ContactPatch,
    params(("id" = i64, Path, description = "Contact id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the contact as you read it")),
    security(("token" = ["agent"]), ("session" = ["agent"])),
    responses(
        (status = 200, description = "The changed contact", body = ContactOut),
        (status = 404, description = "No such contact", body = ErrorBody),
        (status = 409, description = "The contact changed since you read it", body = ErrorBody),
        (status = 422, description = "A value breaks a rule", body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<ContactPatch>,
) -> ApiResult<Response> {
    let id = path_id("contact", &id)?;
    let if_match = headers
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or("").trim().to_string());
    let first_name = body
        .first_name
        .map(|v| name_value("first_name", v))
        .transpose()?;
    let last_name = body
        .last_name
        .map(|v| name_value("last_name", v))
        .transpose()?;
    let email = body.email.as_deref().map(check_email).transpose()?;
    let (rec, fields) = state
        .db(move |s| {
            let fields = s.fields()?;
            let labels = body.labels.map(sorted);
            check_refs(
                s,
                body.company_id.flatten(),
                labels.as_deref().unwrap_or_default(),
            )?;
            s.begin()?;
            let missing = || ApiError::not_found(format!("there is no contact {id}"));
            let current = s.contact(id)?.ok_or_else(missing)?;
            // Lock the row (PostgreSQL) and read it again under the lock.
            s.load_contacts(&[current.contact.email.as_str()])?;
            let current = s.contact(id)?.ok_or_else(missing)?;
            if let Some(tag) = &if_match {
                if tag != "*" && *tag != etag(&current) {
                    return Err(ApiError::new(
                        ErrorKind::EditConflict,
                        format!(
                            "contact {id} changed since you read it (updated at {}); read it again, reapply your change and retry",
                            current.updated_at
                        ),
                    ));
                }
            }
            if let Some(e) = &email {
                if *e != current.contact.email {
                    return Err(ApiError::invalid(
                        "field 'email': a contact's email cannot change; create a contact with the new email and delete this one",
                    ));
                }
            }
            let mut after = current.contact.clone();
            if let Some(v) = first_name {
                after.first_name = v;
            }
            if let Some(v) = last_name {
                after.last_name = v;
            }
            if let Some(v) = body.company_id {
                after.company_id = v;
            }
            if let Some(v) = labels {
                after.labels = v;
            }
            if let Some(c) = &body.custom {
                apply_custom(&fields, c, &mut after.custom)?;
            }
            if !after.same_data(&current.contact) {
                s.write_contacts(
                    None,
                    &[ContactWrite {
                        before: Some(current.contact.clone()),
                        after,
                    }],
                )?;
            }
            s.commit()?;
            Ok((s.contact(id)?.ok_or_else(missing)?, fields))
        })
        .await?;
    Ok(with_etag(StatusCode::OK, rec, &fields))
}

/// Delete a contact.
#[utoipa::path(delete, path = "/api/contacts/{id}", tag = "contacts",
    params(("id" = i64, Path, description = "Contact id")),
    security(("token" = ["agent"]), ("session" = ["agent"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such contact", body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = path_id("contact", &id)?;
    let gone = state.db(move |s| Ok(s.delete_contact(id)?)).await?;
    if gone {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("there is no contact {id}")))
    }
}
