//! The PostgreSQL backend.

use crate::{Result, StoreError};

pub struct PgStore;

impl PgStore {
    pub fn open(_url: &str) -> Result<crate::sqlite::SqliteStore> {
        Err(StoreError::Url(
            "PostgreSQL support is not built yet".into(),
        ))
    }
}
