//! `roster mailboxes …` and `roster mail deliver` (see docs/mail.md).

use std::io::{Read, Write};

use anyhow::{anyhow, bail, Result};
use clap::{Subcommand, ValueEnum};
use roster_mail::{CaptureError, CaptureScope, Limits, MessageError, NoReply, Settings};
use roster_store::mail::Mailbox;
use roster_store::Store;

/// sysexits.h: what an MTA's pipe transport understands.
const EX_OK: i32 = 0;
const EX_DATAERR: i32 = 65;
const EX_TEMPFAIL: i32 = 75;

#[derive(Subcommand)]
pub(crate) enum MailboxesCommand {
    /// Add a mailbox; prints its id alone.
    Add {
        /// A name for people and for `mail deliver --mailbox`.
        name: String,
        /// The address mail to this mailbox is sent to.
        #[arg(long)]
        address: String,
        /// Another address of the same mailbox (repeatable).
        #[arg(long = "alias", value_name = "ADDRESS")]
        aliases: Vec<String>,
        /// Which addresses of a received message become contacts.
        #[arg(long, value_enum, default_value = "all")]
        capture: CaptureArg,
    },
    /// List the mailboxes.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a mailbox (by name or id); the contacts it captured stay.
    Remove { mailbox: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum CaptureArg {
    /// From, Reply-To, To and Cc.
    All,
    /// From and Reply-To only.
    Senders,
}

#[derive(Subcommand)]
pub(crate) enum MailCommand {
    /// Capture the contacts of one message read from standard input (for an
    /// MTA's pipe transport). Exit 0 done, 65 unreadable or oversized
    /// message, 75 temporary failure (the MTA retries).
    Deliver {
        /// The mailbox (name) that received the message.
        #[arg(long)]
        mailbox: String,
        /// The envelope sender, as the MTA knows it ('' for a bounce).
        #[arg(long)]
        sender: Option<String>,
        /// Refuse messages larger than this many bytes.
        #[arg(long, default_value_t = roster_mail::DEFAULT_MAX_MESSAGE_BYTES)]
        max_message_bytes: usize,
        /// No-reply address patterns (comma-separated, `*` wildcard); they
        /// replace the built-in list.
        #[arg(long, env = "ROSTER_MAIL_NO_REPLY", value_name = "PATTERNS")]
        no_reply: Option<String>,
        /// Print the outcome as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// The capture settings from the command line.
pub(crate) fn settings(max_message_bytes: usize, no_reply: Option<&str>) -> Settings {
    Settings {
        limits: Limits {
            max_message_bytes,
            ..Limits::default()
        },
        no_reply: no_reply.map(NoReply::parse_list).unwrap_or_default(),
    }
}

fn find(store: &mut dyn Store, key: &str) -> Result<Mailbox> {
    if let Some(m) = store.mailbox_by_name(key)? {
        return Ok(m);
    }
    if let Ok(id) = key.parse::<i64>() {
        if let Some(m) = store.mailbox_by_id(id)? {
            return Ok(m);
        }
    }
    bail!(
        "there is no mailbox named '{}'; see roster mailboxes list",
        roster_mail::clip(key, 60)
    )
}

pub(crate) fn mailboxes(
    store: &mut dyn Store,
    cmd: MailboxesCommand,
    out: &mut dyn Write,
) -> Result<i32> {
    match cmd {
        MailboxesCommand::Add {
            name,
            address,
            aliases,
            capture,
        } => {
            let scope = match capture {
                CaptureArg::All => CaptureScope::All,
                CaptureArg::Senders => CaptureScope::Senders,
            };
            let new = roster_mail::new_mailbox(&name, &address, &aliases, scope)
                .map_err(|m| anyhow!(m))?;
            let m = store.add_mailbox(&new)?;
            writeln!(out, "{}", m.id)?;
        }
        MailboxesCommand::List { json } => {
            let all = store.mailboxes()?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&all)?)?;
            } else {
                for m in all {
                    let aliases = if m.aliases.is_empty() {
                        String::new()
                    } else {
                        format!(" (aliases {})", m.aliases.join(", "))
                    };
                    writeln!(
                        out,
                        "{}\t{}\t{}{aliases}\tcapture {}",
                        m.id,
                        m.name,
                        m.address,
                        m.capture.as_str()
                    )?;
                }
            }
        }
        MailboxesCommand::Remove { mailbox } => {
            let m = find(store, &mailbox)?;
            store.remove_mailbox(m.id)?;
            writeln!(out, "removed mailbox {} ({})", m.id, m.name)?;
        }
    }
    Ok(0)
}

/// Reads at most `max + 1` bytes of standard input.
fn read_message(max: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(max as u64 + 1)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// `roster mail deliver`: never fails with the generic exit status 2, as
/// an MTA would read that as a permanent failure.
pub(crate) fn deliver(database: &str, cmd: MailCommand) -> i32 {
    let MailCommand::Deliver {
        mailbox,
        sender,
        max_message_bytes,
        no_reply,
        json,
    } = cmd;
    let settings = settings(max_message_bytes, no_reply.as_deref());
    let raw = match read_message(max_message_bytes) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: cannot read the message from standard input ({e}); the MTA will try again"
            );
            return EX_TEMPFAIL;
        }
    };
    if raw.len() > max_message_bytes {
        eprintln!("error: {}", MessageError::TooLarge(max_message_bytes));
        return EX_DATAERR;
    }
    // Check the message before the database, so a bad message is refused
    // for good even while the database is down.
    if let Err(e) = roster_mail::analyse(&raw, &settings.limits, &settings.no_reply) {
        eprintln!("error: {e}");
        return EX_DATAERR;
    }
    let mut store = match roster_store::open(database) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}; the message was not captured and the MTA will try again");
            return EX_TEMPFAIL;
        }
    };
    let mailbox = match store.mailbox_by_name(&mailbox) {
        Ok(Some(m)) => m,
        Ok(None) => {
            eprintln!(
                "error: there is no mailbox named '{}'; add it with roster mailboxes add (the MTA will try again)",
                roster_mail::clip(&mailbox, 60)
            );
            return EX_TEMPFAIL;
        }
        Err(e) => {
            eprintln!("error: {e}; the MTA will try again");
            return EX_TEMPFAIL;
        }
    };
    match roster_mail::capture(store.as_mut(), &mailbox, &raw, sender.as_deref(), &settings) {
        Ok(outcome) => {
            let mut out = std::io::stdout().lock();
            let printed = if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&outcome).unwrap_or_default()
                )
            } else {
                let what = if outcome.duplicate {
                    "already captured".to_string()
                } else if let Some(m) = &outcome.machine {
                    format!("machine mail ({m}), nothing captured")
                } else {
                    format!(
                        "captured {}, named {}, existing {}, skipped {}",
                        outcome.captured, outcome.named, outcome.existing, outcome.skipped
                    )
                };
                writeln!(out, "{}: {what}", mailbox.name)
            };
            let _ = printed;
            EX_OK
        }
        Err(CaptureError::Message(e)) => {
            eprintln!("error: {e}");
            EX_DATAERR
        }
        Err(e) => {
            eprintln!("error: {e}; the MTA will try again");
            EX_TEMPFAIL
        }
    }
}
