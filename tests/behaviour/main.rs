//! Roster's behaviour suite: one test binary (it compiles once), every test
//! run on SQLite and on PostgreSQL.

#[allow(dead_code)]
mod support;

mod backends;
mod catalog;
mod contacts;
mod foreign;
mod model;
mod property;
mod users;
