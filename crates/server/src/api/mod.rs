//! The JSON API under `/api`: one module per area, each exposing
//! `routes() -> Router<AppState>` and an OpenAPI fragment `Doc`, merged
//! here. Adding an area is one line in each of [`routes`] and [`openapi`].

use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;

use crate::state::AppState;

pub mod catalog;
pub mod contacts;
pub mod export;
pub mod health;
pub mod imports;
pub mod mailboxes;
pub mod preview;
pub mod session;
pub mod setup;
pub mod users;

/// Every API route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(health::routes())
        .merge(mailboxes::routes())
        .merge(session::routes())
        .merge(setup::routes())
        .merge(preview::routes())
        .merge(imports::routes())
        .merge(contacts::routes())
        .merge(catalog::routes())
        .merge(users::routes())
        .merge(export::routes())
}

/// The OpenAPI 3.1 document of every route (`GET /api/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = Doc::openapi();
    doc.merge(health::Doc::openapi());
    doc.merge(mailboxes::Doc::openapi());
    doc.merge(session::Doc::openapi());
    doc.merge(setup::Doc::openapi());
    doc.merge(preview::Doc::openapi());
    doc.merge(imports::Doc::openapi());
    doc.merge(contacts::Doc::openapi());
    doc.merge(catalog::Doc::openapi());
    doc.merge(users::Doc::openapi());
    doc.merge(export::Doc::openapi());
    utoipa::Modify::modify(&BadRequests, &mut doc);
    doc
}

/// Every operation that takes parameters or a body also answers 400 —
/// a body that is not the JSON asked for, an id or query parameter that
/// is not one — and every one that takes JSON answers 422 for an unknown
/// field or a bad value, with the same `{code, message}` as every error:
/// stated once here rather than on each route.
struct BadRequests;

impl utoipa::Modify for BadRequests {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let malformed = error_response(
            "Malformed: a body that is not what this operation takes, or a path or query \
             parameter that is not a valid value",
        );
        let invalid = error_response(
            "A field the operation does not know (`unknown_field`), or a value that breaks \
             a rule (`invalid_value`); the message names the field",
        );
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let takes_input = op.request_body.is_some()
                    || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let takes_json = op
                    .request_body
                    .as_ref()
                    .is_some_and(|b| b.content.contains_key("application/json"));
                for (status, applies, response) in [
                    ("400", takes_input, &malformed),
                    ("422", takes_json, &invalid),
                ] {
                    if applies && !op.responses.responses.contains_key(status) {
                        op.responses
                            .responses
                            .insert(status.to_string(), response.clone().into());
                    }
                }
            }
        }
    }
}

/// A response carrying the API's `{code, message}` error body.
fn error_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// The document's head: title, version and the two credentials. A route
/// states who may call it with
/// `security(("token" = ["agent"]), ("session" = ["agent"]))` — `agent`:
/// any signed-in user; `admin`: admins only; no `security`: anyone.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roster API",
        description = "People directory for a shared-inbox helpdesk: contacts, catalog, users, imports."
    ),
    modifiers(&Credentials)
)]
struct Doc;

struct Credentials;

impl utoipa::Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token from `roster tokens create`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The cookie POST /api/session sets; writes also need the X-CSRF-Token header.",
            ))),
        );
    }
}

#[cfg(test)]
mod tests {
    /// The committed copy of the document, for people and client
    /// generators. After changing a route, regenerate it with
    /// `ROSTER_UPDATE_OPENAPI=1 cargo test -p roster-server openapi`.
    #[test]
    fn openapi_document_matches_the_committed_copy() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let current = super::openapi()
            .to_pretty_json()
            .expect("the document serializes")
            + "\n";
        if std::env::var("ROSTER_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &current).expect("write docs/openapi.json");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == current,
            "docs/openapi.json differs from the routes in the code; regenerate it with \
             ROSTER_UPDATE_OPENAPI=1 cargo test -p roster-server openapi, and commit it"
        );
    }

    #[test]
    fn every_route_states_who_may_call_it() {
        let doc = serde_json::to_value(super::openapi()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let public = matches!(
                    (method.as_str(), path.as_str()),
                    ("get", "/api/health")
                        | ("get", "/api/openapi.json")
                        | ("post", "/api/session")
                        | ("post", "/api/setup")
                );
                let roles = &op["security"];
                assert!(
                    public || roles.as_array().is_some_and(|r| !r.is_empty()),
                    "{method} {path} has no security requirement: add security((\"token\" = [\"agent\"]), (\"session\" = [\"agent\"])) or [\"admin\"]"
                );
            }
        }
    }
}
