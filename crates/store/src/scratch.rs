//! Scratch space for one import: the set of emails already seen in the file.
//!
//! Counting `repeated` rows needs to know, for every row, whether an earlier
//! row of the same file had its email. Memory must not grow with the file,
//! so the set keeps a bounded number of 128-bit hashes in memory and moves
//! them to a temporary SQLite file when that fills up. (Two distinct emails
//! share a 128-bit hash with a probability far below one in 10^20 for any
//! file that fits on a disk.)

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use rusqlite::{params, Connection};

use crate::{Result, StoreError};

/// How many hashes stay in memory before they move to disk (about 8 MB).
pub const DEFAULT_MEMORY_ENTRIES: usize = 1 << 18;

pub struct SeenSet {
    memory: HashSet<u128>,
    cap: usize,
    disk: Option<(tempfile::TempDir, Connection)>,
}

fn hash128(email: &str) -> u128 {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    email.hash(&mut a);
    let mut b = std::collections::hash_map::DefaultHasher::new();
    (0x5eed_u32, email).hash(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

fn scratch_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!(
        "the import's scratch file in the temporary folder failed ({e}); check free space in $TMPDIR"
    ))
}

impl Default for SeenSet {
    fn default() -> Self {
        Self::with_memory_entries(DEFAULT_MEMORY_ENTRIES)
    }
}

impl SeenSet {
    pub fn with_memory_entries(cap: usize) -> Self {
        SeenSet {
            memory: HashSet::new(),
            cap: cap.max(1),
            disk: None,
        }
    }

    /// Adds `email`; returns true when it was already in the set.
    pub fn check_and_insert(&mut self, email: &str) -> Result<bool> {
        let h = hash128(email);
        if self.memory.contains(&h) {
            return Ok(true);
        }
        if let Some((_, conn)) = &self.disk {
            let (hi, lo) = split(h);
            let mut st = conn
                .prepare_cached("SELECT 1 FROM seen WHERE hi = ?1 AND lo = ?2")
                .map_err(scratch_err)?;
            if st.exists(params![hi, lo]).map_err(scratch_err)? {
                return Ok(true);
            }
        }
        self.memory.insert(h);
        if self.memory.len() >= self.cap {
            self.spill()?;
        }
        Ok(false)
    }

    fn spill(&mut self) -> Result<()> {
        if self.disk.is_none() {
            let dir = tempfile::tempdir().map_err(scratch_err)?;
            let conn = Connection::open(dir.path().join("seen.db")).map_err(scratch_err)?;
            conn.execute_batch(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4000;
                 CREATE TABLE seen (hi INTEGER NOT NULL, lo INTEGER NOT NULL, PRIMARY KEY (hi, lo)) WITHOUT ROWID;",
            )
            .map_err(scratch_err)?;
            self.disk = Some((dir, conn));
        }
        let Some((_, conn)) = &mut self.disk else {
            return Ok(());
        };
        let mut sorted: Vec<u128> = self.memory.drain().collect();
        sorted.sort_unstable();
        let tx = conn.transaction().map_err(scratch_err)?;
        {
            let mut st = tx
                .prepare_cached("INSERT OR IGNORE INTO seen (hi, lo) VALUES (?1, ?2)")
                .map_err(scratch_err)?;
            for h in sorted {
                let (hi, lo) = split(h);
                st.execute(params![hi, lo]).map_err(scratch_err)?;
            }
        }
        tx.commit().map_err(scratch_err)?;
        self.memory.shrink_to(self.cap);
        Ok(())
    }
}

fn split(h: u128) -> (i64, i64) {
    ((h >> 64) as u64 as i64, h as u64 as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_across_spills() {
        let mut s = SeenSet::with_memory_entries(3);
        for i in 0..10 {
            assert!(!s.check_and_insert(&format!("u{i}@example.com")).unwrap());
        }
        assert!(s.disk.is_some());
        for i in 0..10 {
            assert!(
                s.check_and_insert(&format!("u{i}@example.com")).unwrap(),
                "{i}"
            );
        }
        assert!(!s.check_and_insert("new@example.com").unwrap());
    }
}
