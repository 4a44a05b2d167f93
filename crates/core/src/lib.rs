//! Roster's domain: the types and rules every other crate shares.
//!
//! *Architecture Invariant*: nothing in this crate does I/O. Validation is a
//! pure function of its input, so the import pipeline, the server and the
//! tests all get the same answer.

pub mod email;
pub mod field;
pub mod password;
pub mod spreadsheet;
