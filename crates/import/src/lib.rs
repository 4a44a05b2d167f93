//! Roster's import pipeline.
pub mod decode;
