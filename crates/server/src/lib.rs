//! Roster's HTTP server: the JSON API under `/api` (sign-in, tokens,
//! roles, contacts, catalog, users), its OpenAPI document, and the process
//! around it (configuration, logs, graceful shutdown).
//!
//! *Architecture Invariant*: the store stays synchronous. Every handler
//! runs its store work through [`AppState::db`], on a bounded blocking pool
//! with one connection per job; the async runtime never waits on SQL.
//!
//! *API Boundary*: [`app`] (the whole router, for in-process tests) and
//! [`serve`] (the `roster serve` command).

use std::net::SocketAddr;

use axum::http::{header, HeaderName, HeaderValue};
use axum::Router;
use tokio::sync::watch;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod jobs;
pub mod json;
pub mod state;
pub mod web;

pub use auth::Caller;
pub use config::{Config, Settings};
pub use error::{ApiError, ApiResult, ErrorKind};
pub use state::AppState;

/// The Content-Security-Policy of every answer: the web UI's own scripts,
/// styles and images only; never framed.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The whole application: every route, the security headers, request logs.
pub fn app(state: AppState) -> Router {
    let headers: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    let mut router = Router::new()
        .merge(api::routes())
        .merge(web::routes())
        .fallback(not_found)
        .with_state(state);
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router.layer(TraceLayer::new_for_http())
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "there is no route {}; see GET /api/openapi.json for the API",
        error::truncate(uri.path())
    ))
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Store(#[from] roster_store::StoreError),
    #[error("{0}")]
    Io(String),
}

/// Sets up logging: JSON lines when `json`, readable text otherwise
/// (colored on a terminal); the
/// level from `ROSTER_LOG` (e.g. `info`, `roster_server=debug`), `info` by
/// default. Logs go to standard error.
pub fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ROSTER_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// `roster serve`: opens the database, listens, and serves until SIGTERM
/// or Ctrl-C; then stops accepting, lets running requests and jobs finish,
/// and returns. Prints `roster listening on http://ADDR` on standard output
/// once ready.
pub fn serve(config: Config) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(config.db_connections + 16)
        .build()
        .map_err(|e| ServeError::Io(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(run(config))
}

async fn run(config: Config) -> Result<(), ServeError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        ServeError::Io(format!(
            "cannot create the data folder '{}': {e}; create it or pass --data-dir",
            config.data_dir.display()
        ))
    })?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let listen = config.listen.clone();
    let state = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || AppState::new(config, stop_rx))
            .await
            .map_err(|e| ServeError::Io(format!("start-up failed: {e}")))??
    };
    let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
        ServeError::Io(format!(
            "cannot listen on {listen}: {e}; choose another address with --listen"
        ))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Io(format!("cannot read the listening address: {e}")))?;
    // Background listeners (LMTP) and job workers start here, with `state`.
    let setup = api::setup::offer(&state)
        .await
        .map_err(|e| ServeError::Io(e.message))?;
    if let Some(lmtp) = &config.lmtp {
        start_lmtp(lmtp, &config, state.shutdown()).await?;
    }
    let worker = {
        let jobs = jobs::WorkerConfig::new(
            &config.database,
            &config.data_dir,
            std::time::Duration::from_secs(config.keep_import_files_days.saturating_mul(86_400)),
        );
        tokio::task::spawn_blocking(move || jobs::Worker::start(jobs))
            .await
            .map_err(|e| ServeError::Io(format!("start-up failed: {e}")))??
    };
    let app = app(state.clone());
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "roster listening on http://{addr}");
        if let Some(code) = setup {
            // An unspecified address (0.0.0.0) is no place for a browser.
            let mut at = addr;
            if at.ip().is_unspecified() {
                at.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            let _ = writeln!(
                out,
                "No admin exists yet. Open this link once to create the first admin:\n  http://{at}/setup#token={code}"
            );
        }
        let _ = out.flush();
    }
    tracing::info!(%addr, database = %redact(&config.database), "listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        stop_signal().await;
        tracing::info!("stopping: finishing running requests");
        let _ = stop_tx.send(true);
    })
    .await
    .map_err(|e| ServeError::Io(format!("the server failed: {e}")))?;
    // The running import stops after its current batch and resumes later.
    let _ = tokio::task::spawn_blocking(move || worker.stop()).await;
    state.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Starts the LMTP listener (`--lmtp ADDR`) with a connection pool of its
/// own, and prints `roster LMTP listening on ADDR` on standard output. It
/// stops accepting when the server is asked to stop.
async fn start_lmtp(
    addr: &str,
    config: &Config,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        ServeError::Io(format!(
            "cannot listen for LMTP on {addr}: {e}; choose another address with --lmtp"
        ))
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| ServeError::Io(format!("cannot read the LMTP address: {e}")))?;
    let pool = std::sync::Arc::new(roster_mail::StorePool::for_url(
        &config.database,
        config.db_connections,
    ));
    let timeout = std::time::Duration::from_secs(config.lmtp_timeout_secs);
    let lmtp = std::sync::Arc::new(roster_mail::lmtp::Config {
        hostname: "roster".into(),
        settings: config.mail.clone(),
        command_timeout: timeout,
        data_timeout: timeout,
        ..roster_mail::lmtp::Config::default()
    });
    tokio::spawn(roster_mail::lmtp::serve(listener, pool, lmtp, async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                return;
            }
        }
    }));
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "roster LMTP listening on {bound}");
        let _ = out.flush();
    }
    tracing::info!(%bound, "LMTP listening");
    Ok(())
}

async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
