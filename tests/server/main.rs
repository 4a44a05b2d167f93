//! The HTTP server's tests: each runs a real `roster serve` on 127.0.0.1:0
//! over SQLite and over PostgreSQL, and talks to it over HTTP.

#[path = "../behaviour/support.rs"]
#[allow(dead_code)]
mod support;

#[allow(dead_code)]
mod harness;

mod contacts;
mod export;
mod routes;
mod session;
mod web;
