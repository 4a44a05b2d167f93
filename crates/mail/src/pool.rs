//! A small pool of open stores for the listeners: the stores are blocking
//! (rusqlite, postgres), so callers run [`StorePool::run`] on a blocking
//! thread, and a connection is reused rather than opened per message.

use std::sync::Mutex;

use roster_store::{Store, StoreError};

type Opener = dyn Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync;

pub struct StorePool {
    open: Box<Opener>,
    idle: Mutex<Vec<Box<dyn Store>>>,
    max_idle: usize,
}

impl StorePool {
    /// A pool that opens stores with `open` and keeps at most `max_idle`
    /// of them between uses.
    pub fn new(
        open: impl Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync + 'static,
        max_idle: usize,
    ) -> StorePool {
        StorePool {
            open: Box::new(open),
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// A pool over the database named by `url`.
    pub fn for_url(url: &str, max_idle: usize) -> StorePool {
        let url = url.to_string();
        StorePool::new(move || roster_store::open(&url), max_idle)
    }

    /// Runs `f` with a store (blocking). A store whose work failed with a
    /// database error is dropped rather than reused: its connection may be
    /// the thing that broke.
    pub fn run<T, E: From<StoreError> + Broken>(
        &self,
        f: impl FnOnce(&mut dyn Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let taken = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
        let mut store = match taken {
            Some(s) => s,
            None => (self.open)()?,
        };
        let result = f(store.as_mut());
        if !result.as_ref().is_err_and(Broken::broken) {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < self.max_idle {
                    idle.push(store);
                }
            }
        }
        result
    }
}

/// Whether an error means the store's connection may be broken.
pub trait Broken {
    fn broken(&self) -> bool;
}

impl Broken for StoreError {
    fn broken(&self) -> bool {
        matches!(self, StoreError::Database(_) | StoreError::Url(_))
    }
}

impl Broken for crate::CaptureError {
    fn broken(&self) -> bool {
        matches!(self, crate::CaptureError::Store(e) if e.broken())
    }
}
