//! `GET /api/health` and `GET /api/openapi.json`: no credentials needed.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/openapi.json", get(openapi_json))
}

#[derive(OpenApi)]
#[openapi(paths(health, openapi_json))]
pub struct Doc;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// 200 once the server is ready (its database opened and migrated).
#[utoipa::path(get, path = "/api/health", tag = "server",
    responses((status = 200, description = "The server is ready", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "server",
    responses((status = 200, description = "The OpenAPI 3.1 document of every route")))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(super::openapi())
}
