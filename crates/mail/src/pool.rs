//! A small pool of open stores for the LMTP listener: the stores are
//! blocking (rusqlite, postgres), so callers run [`StorePool::run`] on a
//! blocking thread. At most `size` stores are open at once (more callers
//! wait their turn), and a store is reused rather than opened per message.

use std::sync::{Condvar, Mutex, PoisonError};

use roster_store::{Store, StoreError};

type Opener = dyn Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync;

pub struct StorePool {
    open: Box<Opener>,
    state: Mutex<Slots>,
    freed: Condvar,
    size: usize,
}

struct Slots {
    idle: Vec<Box<dyn Store>>,
    /// Stores handed out or idle.
    open: usize,
}

impl StorePool {
    /// A pool that opens stores with `open`, at most `size` at once.
    pub fn new(
        open: impl Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync + 'static,
        size: usize,
    ) -> StorePool {
        StorePool {
            open: Box::new(open),
            state: Mutex::new(Slots {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            size: size.max(1),
        }
    }

    /// A pool over the database named by `url`.
    pub fn for_url(url: &str, size: usize) -> StorePool {
        let url = url.to_string();
        StorePool::new(move || roster_store::open(&url), size)
    }

    /// The most stores open at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Takes an idle store, or the right to open one.
    fn take(&self) -> Option<Box<dyn Store>> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(store) = s.idle.pop() {
                return Some(store);
            }
            if s.open < self.size {
                s.open += 1;
                return None;
            }
            s = self.freed.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Gives a store back (None: it was dropped, its slot is free).
    fn give(&self, store: Option<Box<dyn Store>>) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match store {
            Some(store) => s.idle.push(store),
            None => s.open -= 1,
        }
        self.freed.notify_one();
    }

    /// Runs `f` with a store (blocking). A store whose work failed with a
    /// database error, or that was left in a transaction, is dropped rather
    /// than reused: its connection may be the thing that broke.
    pub fn run<T, E: From<StoreError> + Broken>(
        &self,
        f: impl FnOnce(&mut dyn Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut store = match self.take() {
            Some(s) => s,
            None => match (self.open)() {
                Ok(s) => s,
                Err(e) => {
                    self.give(None);
                    return Err(e.into());
                }
            },
        };
        let result = f(store.as_mut());
        let healthy = !result.as_ref().is_err_and(Broken::broken) && store.rollback().is_ok();
        self.give(healthy.then_some(store));
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
