//! Contacts captured from received mail: "email addresses are automatically
//! stored on every email sent to your mailbox".
//!
//! One capture function, [`capture`], over a raw message; three doors call
//! it: `roster mail deliver` (an MTA's pipe transport), the HTTP API, and
//! the LMTP listener ([`lmtp`]).
//!
//! *Architecture Invariant*: deciding which addresses of a message become
//! contacts ([`plan`]) does no I/O; the store only records the decision.

use roster_core::email::normalize_email;
use roster_store::mail::{Candidate, Fate, Mail, Mailbox, NewMailbox};
use roster_store::StoreError;

pub mod lmtp;
pub mod message;
pub mod names;
mod pool;

pub use message::{analyse, Analysis, Field};
pub use pool::{Broken, StorePool};
pub use roster_store::mail::CaptureScope;

/// Limits on a received message. Over `max_message_bytes` a message is
/// refused whole; the others bound the work of parsing its header section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_header_bytes: usize,
    pub max_header_fields: usize,
    pub max_line_bytes: usize,
}

/// 25 MiB, the message size limit of the common mail services.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_header_bytes: 1024 * 1024,
            max_header_fields: 1000,
            max_line_bytes: 16 * 1024,
        }
    }
}

/// Address patterns of senders nobody can reply to (`noreply@…`). A
/// pattern is matched, ignoring case, against the local part — or against
/// the whole address when it holds an `@` — and `*` matches any run of
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoReply {
    patterns: Vec<String>,
}

/// The patterns used unless configured otherwise.
pub const DEFAULT_NO_REPLY: &[&str] = &[
    "no-reply*",
    "noreply*",
    "no_reply*",
    "no.reply*",
    "do-not-reply*",
    "donotreply*",
    "do_not_reply*",
    "*-noreply",
    "*-no-reply",
    "*+noreply",
    "bounce",
    "bounces",
    "bounce-*",
    "bounces-*",
    "bounces+*",
    "mailer-daemon",
    "postmaster",
];

impl Default for NoReply {
    fn default() -> Self {
        NoReply::new(DEFAULT_NO_REPLY.iter().map(|s| s.to_string()))
    }
}

impl NoReply {
    pub fn new(patterns: impl IntoIterator<Item = String>) -> NoReply {
        NoReply {
            patterns: patterns
                .into_iter()
                .map(|p| p.trim().to_lowercase())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }

    /// The patterns from a comma-separated list (`ROSTER_MAIL_NO_REPLY`).
    pub fn parse_list(list: &str) -> NoReply {
        NoReply::new(list.split(',').map(str::to_string))
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The first pattern `address` matches.
    pub fn matching(&self, address: &str) -> Option<&str> {
        let address = address.to_lowercase();
        let local = address
            .rsplit_once('@')
            .map_or(address.as_str(), |(l, _)| l);
        self.patterns
            .iter()
            .find(|p| {
                let subject = if p.contains('@') { &address } else { local };
                glob(p.as_bytes(), subject.as_bytes())
            })
            .map(String::as_str)
    }
}

/// `*`-only glob match, iterative (no backtracking blow-up).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Everything capture is configured with.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub limits: Limits,
    pub no_reply: NoReply,
}

/// Why a message cannot be captured at all (exit 65 on the pipe, 554 or
/// 552 on LMTP, 422 or 413 over HTTP).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message is larger than {0} bytes (the message size limit); raise it with --max-message-bytes")]
    TooLarge(usize),
    #[error("the message cannot be read as an email: {0}")]
    Unparsable(&'static str),
    #[error("the message cannot be read as an email: {0}; raise the limit or check the sender")]
    Limit(String),
}

/// Why capture failed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The message itself: retrying cannot help.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The database: retrying later may help (exit 75, LMTP 451).
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl CaptureError {
    /// True when the MTA should try again later.
    pub fn is_temporary(&self) -> bool {
        matches!(self, CaptureError::Store(e) if !matches!(e, StoreError::NotFound(_)))
    }
}

/// Why an address was not stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub address: String,
    pub reason: String,
}

/// What capturing one message did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// New contacts.
    pub captured: u64,
    /// Addresses not stored: the mailbox's own, users', invalid, no-reply
    /// ones, and every address of machine mail.
    pub skipped: u64,
    /// Existing contacts that got a name (they had none).
    pub named: u64,
    /// Existing contacts left as they were.
    pub existing: u64,
    /// The mailbox had captured this message before; nothing was written.
    pub duplicate: bool,
    /// Why the message counts as machine mail, when it does.
    pub machine: Option<String>,
    pub message_id: String,
    /// Each skipped address and why (addresses clipped to 100 characters).
    pub skipped_addresses: Vec<Skipped>,
}

/// What [`plan`] decided for a message: the candidates to record, and the
/// outcome so far (skips).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub message_id: String,
    pub candidates: Vec<Candidate>,
    pub outcome: Outcome,
}

/// Shortens `s` to at most `n` characters for a message ("…" when cut).
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}

/// Decides which addresses of `raw` become contacts of `mailbox`: no I/O.
/// `envelope_sender` is the SMTP reverse path when the door knows it
/// (`Some("")` is the null sender of a delivery report).
pub fn plan(
    raw: &[u8],
    mailbox: &Mailbox,
    envelope_sender: Option<&str>,
    settings: &Settings,
) -> Result<Plan, MessageError> {
    let analysis = analyse(raw, &settings.limits, &settings.no_reply)?;
    let mut outcome = Outcome {
        message_id: analysis.message_id.clone(),
        ..Outcome::default()
    };
    let mut machine = analysis.machine;
    if machine.is_none() {
        machine = match envelope_sender.map(str::trim) {
            Some("") | Some("<>") => Some("an empty return path (a delivery report)".into()),
            Some(s) => {
                let local = s.rsplit_once('@').map_or(s, |(l, _)| l).to_lowercase();
                if local == "mailer-daemon" || local == "postmaster" {
                    Some(format!("a delivery report (sent by {local})"))
                } else {
                    None
                }
            }
            None => None,
        };
    }
    let skip = |outcome: &mut Outcome, address: &str, reason: String| {
        outcome.skipped += 1;
        outcome.skipped_addresses.push(Skipped {
            address: clip(address, 100),
            reason,
        });
    };
    if let Some(reason) = machine {
        for o in &analysis.offered {
            skip(&mut outcome, &o.address, format!("machine mail: {reason}"));
        }
        outcome.machine = Some(reason);
        return Ok(Plan {
            message_id: analysis.message_id,
            candidates: Vec::new(),
            outcome,
        });
    }
    let mut candidates: Vec<Candidate> = Vec::new();
    for o in &analysis.offered {
        if mailbox.capture == CaptureScope::Senders && !o.field.is_sender() {
            continue;
        }
        let email = match normalize_email(&o.address) {
            Ok(e) => e,
            Err(e) => {
                skip(
                    &mut outcome,
                    &o.address,
                    format!("not a valid address: {e}"),
                );
                continue;
            }
        };
        if mailbox.owns(&email) {
            skip(&mut outcome, &email, "the mailbox's own address".into());
            continue;
        }
        if let Some(p) = settings.no_reply.matching(&email) {
            skip(
                &mut outcome,
                &email,
                format!("a no-reply address (pattern '{p}')"),
            );
            continue;
        }
        match candidates.iter_mut().find(|c| c.email == email) {
            Some(c) => {
                if c.first_name.is_none() && c.last_name.is_none() {
                    c.first_name = o.name.first.clone();
                    c.last_name = o.name.last.clone();
                }
            }
            None => candidates.push(Candidate {
                email,
                first_name: o.name.first.clone(),
                last_name: o.name.last.clone(),
            }),
        }
    }
    Ok(Plan {
        message_id: analysis.message_id,
        candidates,
        outcome,
    })
}

/// How often a capture that met a concurrent writer is tried again.
const CONFLICT_RETRIES: usize = 5;

/// Captures `raw`, received by `mailbox`, into `store`: the one capture
/// function behind every door.
pub fn capture(
    store: &mut dyn Mail,
    mailbox: &Mailbox,
    raw: &[u8],
    envelope_sender: Option<&str>,
    settings: &Settings,
) -> Result<Outcome, CaptureError> {
    let plan = plan(raw, mailbox, envelope_sender, settings)?;
    record(store, mailbox, plan)
}

/// Records a [`plan`] in the store.
pub fn record(
    store: &mut dyn Mail,
    mailbox: &Mailbox,
    plan: Plan,
) -> Result<Outcome, CaptureError> {
    let mut outcome = plan.outcome;
    if outcome.machine.is_some() {
        return Ok(outcome);
    }
    let mut attempt = 0;
    let captured = loop {
        match store.capture(mailbox.id, &plan.message_id, &plan.candidates) {
            Err(StoreError::Conflict(_)) if attempt < CONFLICT_RETRIES => attempt += 1,
            other => break other?,
        }
    };
    if captured.duplicate {
        outcome.duplicate = true;
        return Ok(outcome);
    }
    for (c, fate) in plan.candidates.iter().zip(captured.fates) {
        match fate {
            Fate::Created => outcome.captured += 1,
            Fate::Named => outcome.named += 1,
            Fate::Existing => outcome.existing += 1,
            Fate::User => {
                outcome.skipped += 1;
                outcome.skipped_addresses.push(Skipped {
                    address: clip(&c.email, 100),
                    reason: "a user of the team".into(),
                });
            }
        }
    }
    Ok(outcome)
}

/// Checks and normalizes what `mailboxes add` (or `POST /api/mailboxes`)
/// was given.
pub fn new_mailbox(
    name: &str,
    address: &str,
    aliases: &[String],
    capture: CaptureScope,
) -> Result<NewMailbox, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err("the mailbox name is empty; give a name such as 'support'".into());
    }
    if trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control) {
        return Err(format!(
            "the mailbox name '{}' must be at most 100 characters without control characters; choose another",
            clip(trimmed, 40)
        ));
    }
    let check = |a: &str, what: &str| {
        normalize_email(a).map_err(|e| {
            format!(
                "the mailbox {what} '{}' is not a valid address: {e}",
                clip(a.trim(), 100)
            )
        })
    };
    let address = check(address, "address")?;
    let mut all = Vec::new();
    for a in aliases {
        let a = check(a, "alias")?;
        if a != address && !all.contains(&a) {
            all.push(a);
        }
    }
    all.sort();
    Ok(NewMailbox {
        name: trimmed.to_string(),
        address,
        aliases: all,
        capture,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob(b"no-reply*", b"no-reply"));
        assert!(glob(b"no-reply*", b"no-reply-billing"));
        assert!(!glob(b"no-reply*", b"ano-reply"));
        assert!(glob(b"*-noreply", b"github-noreply"));
        assert!(glob(b"*", b""));
        assert!(glob(b"a*b*c", b"aXXbYYc"));
        assert!(!glob(b"a*b*c", b"aXXbYY"));
        assert!(glob(&[b'*'; 40], &[b'a'; 1000]));
    }

    #[test]
    fn no_reply_patterns() {
        let n = NoReply::default();
        assert!(n.matching("NoReply@github.com").is_some());
        assert!(n.matching("notifications-noreply@linkedin.com").is_some());
        assert!(n.matching("bounces+123@mail.example.com").is_some());
        assert!(n.matching("jane@example.com").is_none());
        assert!(n.matching("noreplyjane@example.com").is_some());
        let custom = NoReply::parse_list("alerts@*.example.com, robot");
        assert!(custom.matching("alerts@eu.example.com").is_some());
        assert!(custom.matching("robot@x.org").is_some());
        assert!(custom.matching("noreply@x.org").is_none());
    }

    #[test]
    fn mailbox_input() {
        let m = new_mailbox(
            " support ",
            "Support@Example.com",
            &["help@example.com".into(), "SUPPORT@example.com".into()],
            CaptureScope::All,
        )
        .unwrap();
        assert_eq!(m.name, "support");
        assert_eq!(m.address, "support@example.com");
        assert_eq!(m.aliases, vec!["help@example.com".to_string()]);
        assert!(new_mailbox("", "a@example.com", &[], CaptureScope::All).is_err());
        assert!(new_mailbox("x", "not an address", &[], CaptureScope::All).is_err());
    }
}
