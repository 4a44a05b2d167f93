//! The web UI: a no-build single-page app (plain HTML, CSS and ES modules
//! under `crates/server/assets/`) embedded in the binary at compile time and
//! served with strict security headers. The pages call the same JSON API as
//! scripts, so there is one set of rules and messages.
//!
//! *Architecture Invariant*: no inline script, style or event handler in the
//! assets; the CSP that `app` sends with every answer ([`crate::CSP`])
//! forbids them, so an injected `<script>` or `onerror=` in a contact's
//! name can never run.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    pub path: &'static str,
    pub bytes: &'static [u8],
    pub mime: &'static str,
}

macro_rules! assets {
    ($($name:literal => $mime:literal),* $(,)?) => {
        &[$(Asset {
            path: $name,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $name)),
            mime: $mime,
        }),*]
    };
}

/// Every file under `assets/` (a test checks that none is missing).
pub static ASSETS: &[Asset] = assets! {
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "icon.svg" => "image/svg+xml",
    "app.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "contacts.js" => "text/javascript; charset=utf-8",
    "imports.js" => "text/javascript; charset=utf-8",
    "admin.js" => "text/javascript; charset=utf-8",
};

/// The paths the single-page app answers with its shell (it routes them in
/// the browser). Anything else that is not an asset or the API is a 404.
const UI_PATHS: &[&str] = &[
    "/",
    "/signin",
    "/setup",
    "/contacts",
    "/contacts/{*rest}",
    "/import",
    "/imports",
    "/imports/{*rest}",
    "/users",
    "/labels",
    "/companies",
    "/fields",
    "/mailboxes",
];

/// The UI's routes: the shell, its assets. Generic over the app's state so
/// `app(state)` can merge it.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route("/assets/{*path}", get(asset));
    for path in UI_PATHS {
        router = router.route(path, get(shell));
    }
    router
}

/// An asset by its path under `assets/`.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

fn etag(asset: &Asset) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let d = Sha256::digest(a.bytes);
                let hex: String = d[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    });
    let i = ASSETS
        .iter()
        .position(|a| a.path == asset.path)
        .unwrap_or(0);
    &tags[i]
}

fn serve(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let tag = etag(asset);
    // Revalidated on every load (cheap: a 304), so an upgraded binary's UI
    // is picked up at once without stale modules mixing with new ones.
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let etag_h = (header::ETAG, HeaderValue::from_static(tag));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag))
    {
        return (StatusCode::NOT_MODIFIED, [cache, etag_h]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.mime)),
            cache,
            etag_h,
        ],
        asset.bytes,
    )
        .into_response()
}

async fn shell(headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(a) => serve(a, &headers),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn asset(
    axum::extract::Path(path): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    match find(&path) {
        Some(a) if a.path != "index.html" => serve(a, &headers),
        _ => (
            StatusCode::NOT_FOUND,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            "No such file in Roster's web interface.",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_under_assets_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "add the new file to ASSETS in web.rs");
    }

    #[test]
    fn no_inline_script_or_handler_in_the_shell() {
        let html = std::str::from_utf8(find("index.html").unwrap().bytes).unwrap();
        for bad in ["<script>", " onclick=", " onload=", " onerror=", " style="] {
            assert!(!html.contains(bad), "index.html contains {bad}");
        }
    }
}
