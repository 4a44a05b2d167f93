//! Mail capture's tests: the capture rules over real-world-shaped messages
//! (`tests/data/mail`), and the three doors — the pipe (`roster mail
//! deliver`), the HTTP API and the LMTP listener driven by real clients
//! (Python's smtplib.LMTP, swaks) — each on SQLite and on PostgreSQL.

#[path = "../behaviour/support.rs"]
#[allow(dead_code)]
mod support;

#[path = "../server/harness.rs"]
#[allow(dead_code)]
mod harness;

mod capture;
mod common;
mod http;
mod lmtp;
mod pipe;
