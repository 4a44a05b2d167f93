//! `roster users …` and `roster import users`.

use std::io::Write;

use anyhow::{bail, Result};
use clap::Subcommand;
use roster_import::{Input, Options, Report};
use roster_store::Store;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(store: &mut dyn Store, cmd: UsersCommand, out: &mut dyn Write) -> Result<i32> {
    match cmd {
        UsersCommand::List { json: _ } => {
            let _ = (store, out);
            bail!("not yet")
        }
    }
}

pub fn import(
    _store: &mut dyn Store,
    _input: Input,
    _opts: &mut Options,
) -> Result<Report, roster_import::ImportError> {
    Err(roster_import::ImportError::Options(
        "users import is not built yet".into(),
    ))
}
