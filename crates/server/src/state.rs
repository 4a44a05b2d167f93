//! The state every handler shares: the configuration, the pool of store
//! connections, the sign-in rate limiter and the shutdown signal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use roster_store::{Store, StoreError};
use tokio::sync::{watch, Semaphore};

use crate::api::setup::SetupOffer;
use crate::auth::SignInLimiter;
use crate::config::Config;
use crate::error::{ApiError, ApiResult, ErrorKind};

/// Cheap to clone: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    db: Db,
    limiter: SignInLimiter,
    shutdown: watch::Receiver<bool>,
    setup: SetupOffer,
}

impl AppState {
    /// Opens (creating and migrating when needed) the configured database
    /// once, so a bad URL fails at start-up rather than at the first
    /// request; that connection becomes the pool's first.
    pub fn new(config: Config, shutdown: watch::Receiver<bool>) -> Result<AppState, StoreError> {
        let mut first = roster_store::open(&config.database)?;
        if !first.search_indexed() {
            tracing::warn!(
                "the PostgreSQL extension pg_trgm is not available, so contact search scans \
                 the table (slow on big tables); install it (e.g. the postgresql-contrib package) \
                 and restart to index search"
            );
        }
        let db = Db {
            url: config.database.clone(),
            idle: Arc::new(Mutex::new(vec![first])),
            closed: Arc::new(AtomicBool::new(false)),
            permits: Arc::new(Semaphore::new(config.db_connections)),
        };
        let limiter = SignInLimiter::new(&config);
        Ok(AppState {
            inner: Arc::new(Inner {
                config,
                db,
                limiter,
                shutdown,
                setup: SetupOffer::default(),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The first-run setup code on offer, if any.
    pub(crate) fn setup(&self) -> &SetupOffer {
        &self.inner.setup
    }

    pub(crate) fn limiter(&self) -> &SignInLimiter {
        &self.inner.limiter
    }

    /// Turns true when the server is asked to stop (SIGTERM): long-running
    /// work stops between batches.
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.clone()
    }

    /// Runs `f` with a store connection on the blocking pool. At most
    /// `db_connections` jobs run at once (the rest wait their turn), each
    /// with a connection of its own, reused across requests. A transaction
    /// `f` leaves open is rolled back.
    /// Closes the pool at shutdown: idle connections are dropped on a
    /// blocking thread (a synchronous PostgreSQL client must never be
    /// dropped on the async runtime), and connections in use are dropped
    /// when their job ends instead of going back.
    pub async fn close(&self) {
        self.inner.db.closed.store(true, Ordering::SeqCst);
        let idle: Vec<Box<dyn Store>> = std::mem::take(
            &mut *self
                .inner
                .db
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let _ = tokio::task::spawn_blocking(move || drop(idle)).await;
    }

    pub async fn db<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> ApiResult<T> + Send + 'static,
    {
        self.inner.db.run(f).await
    }
}

/// A bounded pool of store connections, used from blocking threads.
struct Db {
    url: String,
    idle: Arc<Mutex<Vec<Box<dyn Store>>>>,
    /// Set at shutdown: connections are no longer pooled.
    closed: Arc<AtomicBool>,
    permits: Arc<Semaphore>,
}

impl Db {
    async fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> ApiResult<T> + Send + 'static,
    {
        let permit =
            self.permits.clone().acquire_owned().await.map_err(|_| {
                ApiError::new(ErrorKind::Unavailable, "the server is shutting down")
            })?;
        let idle = self.idle.clone();
        let closed = self.closed.clone();
        let url = self.url.clone();
        let job = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let taken = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let mut store = match taken {
                Some(s) => s,
                None => roster_store::open(&url).map_err(|e| {
                    let mut err = ApiError::new(
                        ErrorKind::Unavailable,
                        format!("the database cannot be reached ({e}); try again shortly"),
                    );
                    err.retry_after = Some(5);
                    err
                })?,
            };
            let result = f(store.as_mut());
            // Only a connection that is clean goes back to the pool.
            if store.rollback().is_ok() && !closed.load(Ordering::SeqCst) {
                idle.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(store);
            }
            result
        });
        job.await
            .map_err(|e| ApiError::internal(format!("a request job failed: {e}")))?
    }
}
