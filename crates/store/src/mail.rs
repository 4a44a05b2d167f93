//! Mailboxes and the contacts captured from the mail they receive.
//!
//! *API Boundary*: the [`Mail`] trait. The mail crate decides *which*
//! addresses of a message become contacts (no I/O); a backend only records
//! them, in one transaction per message, so that a message is captured once
//! per mailbox, a name is only set on a contact that has none, and a
//! concurrent import is never overwritten.

use crate::Result;

/// Which addresses of a received message a mailbox captures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureScope {
    /// From, Reply-To, To and Cc.
    #[default]
    All,
    /// From and Reply-To only: Cc'd strangers are not stored.
    Senders,
}

impl CaptureScope {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureScope::All => "all",
            CaptureScope::Senders => "senders",
        }
    }
    pub fn parse(s: &str) -> Option<CaptureScope> {
        match s {
            "all" => Some(CaptureScope::All),
            "senders" => Some(CaptureScope::Senders),
            _ => None,
        }
    }
}

/// A stored mailbox. Addresses are normalized (as contact emails are).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mailbox {
    pub id: i64,
    pub name: String,
    pub address: String,
    /// Sorted, without the address itself.
    pub aliases: Vec<String>,
    pub capture: CaptureScope,
}

impl Mailbox {
    /// True when `email` (normalized) is the mailbox's address or an alias.
    pub fn owns(&self, email: &str) -> bool {
        self.address == email || self.aliases.iter().any(|a| a == email)
    }
}

/// What `mailboxes add` stores; the caller has validated and normalized it.
#[derive(Debug, Clone)]
pub struct NewMailbox {
    pub name: String,
    pub address: String,
    pub aliases: Vec<String>,
    pub capture: CaptureScope,
}

/// One address a message offers as a contact, normalized, with the name
/// its display name gave (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// What became of one [`Candidate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// A new contact (source `email`), recording the mailbox and message.
    Created,
    /// An existing contact without a name got the display name.
    Named,
    /// An existing contact, left as it was.
    Existing,
    /// A user of the team: never a contact.
    User,
}

/// The result of recording one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The mailbox had already captured this message: nothing was written.
    pub duplicate: bool,
    /// One per candidate, in the order given (empty for a duplicate).
    pub fates: Vec<Fate>,
}

/// Mailboxes and capture.
pub trait Mail {
    /// Adds a mailbox; a name, address or alias already in use is a
    /// [`crate::StoreError::Conflict`].
    fn add_mailbox(&mut self, mailbox: &NewMailbox) -> Result<Mailbox>;
    /// Every mailbox, by id.
    fn mailboxes(&mut self) -> Result<Vec<Mailbox>>;
    fn mailbox_by_id(&mut self, id: i64) -> Result<Option<Mailbox>>;
    fn mailbox_by_name(&mut self, name: &str) -> Result<Option<Mailbox>>;
    /// The mailbox whose address or alias is `address` (normalized).
    fn mailbox_by_address(&mut self, address: &str) -> Result<Option<Mailbox>>;
    /// Removes a mailbox and its record of captured messages; the contacts
    /// it captured stay.
    fn remove_mailbox(&mut self, id: i64) -> Result<()>;
    /// Records message `message_id` of mailbox `mailbox_id` and its
    /// candidates, in one transaction of its own: a candidate that is a
    /// user is left alone; a new email becomes a contact (source `email`)
    /// that records the mailbox and message; an existing contact gets the
    /// candidate's name only while it has neither a first nor a last name.
    /// A message the mailbox already captured writes nothing.
    fn capture(
        &mut self,
        mailbox_id: i64,
        message_id: &str,
        candidates: &[Candidate],
    ) -> Result<Captured>;
}
