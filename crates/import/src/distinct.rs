//! Counting the distinct emails of an import's accepted rows, in bounded
//! memory, for the report's `repeated` (accepted rows whose email an earlier
//! accepted row had = accepted rows − distinct emails).
//!
//! Each email's 128-bit hash goes into one of 256 bucket files chosen by its
//! first byte (sequential appends, 16 bytes a row); at the end each bucket
//! is read back alone, sorted and counted. Memory is one bucket at a time,
//! whatever the file's size. Small imports never touch the disk. (Two
//! distinct emails share a 128-bit hash with a probability far below one in
//! 10^20 for any file that fits on a disk.)

use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// Hashes kept in memory before the buckets move to disk (4 MB).
const IN_MEMORY: usize = 1 << 18;
const BUCKETS: usize = 256;

#[derive(Default)]
pub struct DistinctCounter {
    memory: Vec<u128>,
    buckets: Option<Vec<BufWriter<File>>>,
    added: u64,
}

fn scratch_err(e: std::io::Error) -> String {
    format!("the import's scratch files in the temporary folder failed ({e}); check free space in $TMPDIR")
}

/// The 128-bit hash [`DistinctCounter::add`] takes.
pub fn hash128(email: &str) -> u128 {
    let mut a = DefaultHasher::new();
    email.hash(&mut a);
    let mut b = DefaultHasher::new();
    (0x5eed_u32, email).hash(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

impl DistinctCounter {
    /// Adds one email, as its [`hash128`].
    pub fn add(&mut self, h: u128) -> Result<(), String> {
        self.added += 1;
        match &mut self.buckets {
            Some(files) => files[(h >> 120) as usize]
                .write_all(&h.to_le_bytes())
                .map_err(scratch_err),
            None => {
                self.memory.push(h);
                if self.memory.len() >= IN_MEMORY {
                    self.spill()?;
                }
                Ok(())
            }
        }
    }

    fn spill(&mut self) -> Result<(), String> {
        let mut files = Vec::with_capacity(BUCKETS);
        for _ in 0..BUCKETS {
            files.push(BufWriter::with_capacity(
                4096,
                tempfile::tempfile().map_err(scratch_err)?,
            ));
        }
        for h in self.memory.drain(..) {
            files[(h >> 120) as usize]
                .write_all(&h.to_le_bytes())
                .map_err(scratch_err)?;
        }
        self.memory = Vec::new();
        self.buckets = Some(files);
        Ok(())
    }

    /// How many of the added emails repeat an earlier one.
    pub fn repeated(self) -> Result<u64, String> {
        let distinct = match self.buckets {
            None => count_distinct(self.memory),
            Some(files) => {
                let mut n = 0;
                for w in files {
                    let mut f = w.into_inner().map_err(|e| scratch_err(e.into_error()))?;
                    f.seek(SeekFrom::Start(0)).map_err(scratch_err)?;
                    let mut bytes = Vec::new();
                    BufReader::new(f)
                        .read_to_end(&mut bytes)
                        .map_err(scratch_err)?;
                    let hashes: Vec<u128> = bytes
                        .chunks_exact(16)
                        .map(|c| u128::from_le_bytes(c.try_into().unwrap_or([0; 16])))
                        .collect();
                    n += count_distinct(hashes);
                }
                n
            }
        };
        Ok(self.added - distinct)
    }
}

fn count_distinct(mut v: Vec<u128>) -> u64 {
    v.sort_unstable();
    v.dedup();
    v.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_repeats_in_memory_and_on_disk() {
        let mut small = DistinctCounter::default();
        for e in ["a@x.com", "b@x.com", "a@x.com", "a@x.com"] {
            small.add(hash128(e)).unwrap();
        }
        assert_eq!(small.repeated().unwrap(), 2);

        let mut big = DistinctCounter::default();
        let n = IN_MEMORY + 5000;
        for i in 0..n {
            big.add(hash128(&format!("u{}@x.com", i % (n - 700))))
                .unwrap();
        }
        assert!(big.buckets.is_some());
        assert_eq!(big.repeated().unwrap(), 700);
    }
}
