//! What a received message offers: its id, whether a machine sent it, and
//! the addresses (with display names) of its From, Reply-To, To and Cc.
//!
//! Parsing is mail-parser's (RFC 5322, RFC 2047 encoded words in any
//! charset, groups); this module only reads the parsed header fields. Only
//! the header section is parsed — capture never needs the body — after the
//! limits on its size, its number of fields and its line length are checked,
//! so a huge, binary or malformed message costs bounded work.

use mail_parser::{Address, HeaderName, HeaderValue, MessageParser};
use sha2::{Digest, Sha256};

use crate::names::{split_display_name, Name};
use crate::{Limits, MessageError, NoReply};

/// Which header field an address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    From,
    ReplyTo,
    To,
    Cc,
}

impl Field {
    pub fn is_sender(self) -> bool {
        matches!(self, Field::From | Field::ReplyTo)
    }
}

/// One address as written in the message (not yet validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub field: Field,
    pub address: String,
    pub name: Name,
}

/// The parts of a message capture looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// The Message-ID, or `sha256:` and the digest of the whole message
    /// when it has none (or an unusable one), so the same bytes delivered
    /// twice are still one message.
    pub message_id: String,
    /// Why this is machine mail (auto-reply, delivery report, no-reply
    /// sender), or None for mail a person wrote.
    pub machine: Option<String>,
    /// Addresses of From, Reply-To, To and Cc, in that order.
    pub offered: Vec<Offered>,
}

/// The end of the header section: the offset of the empty line that ends
/// it (or the whole message when there is none, as in a truncated one).
fn header_section(raw: &[u8]) -> &[u8] {
    let mut line_start = 0;
    while line_start < raw.len() {
        let rest = &raw[line_start..];
        if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return &raw[..line_start];
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => line_start += i + 1,
            None => return raw,
        }
    }
    raw
}

/// Checks the header section against the limits before it is parsed.
fn check_limits(headers: &[u8], limits: &Limits) -> Result<(), MessageError> {
    if headers.len() > limits.max_header_bytes {
        return Err(MessageError::Limit(format!(
            "its header section is larger than {} bytes (the header size limit)",
            limits.max_header_bytes
        )));
    }
    let mut fields = 0usize;
    for (i, line) in headers.split(|&b| b == b'\n').enumerate() {
        if line.len() > limits.max_line_bytes {
            return Err(MessageError::Limit(format!(
                "header line {} is longer than {} bytes (the line length limit)",
                i + 1,
                limits.max_line_bytes
            )));
        }
        if !line.is_empty() && !matches!(line[0], b' ' | b'\t') {
            fields += 1;
        }
    }
    if fields > limits.max_header_fields {
        return Err(MessageError::Limit(format!(
            "it has more than {} header fields (the header count limit)",
            limits.max_header_fields
        )));
    }
    Ok(())
}

/// Parses only the fields capture reads; the others stay raw.
fn parser() -> MessageParser {
    MessageParser::new()
        .header_address(HeaderName::From)
        .header_address(HeaderName::ReplyTo)
        .header_address(HeaderName::To)
        .header_address(HeaderName::Cc)
        .header_id(HeaderName::MessageId)
        .header_content_type(HeaderName::ContentType)
        .header_text("X-Autoreply")
        .header_text("X-Autorespond")
        .header_text("Precedence")
        .header_text(HeaderName::AutoSubmitted)
}

/// The text of a header field, whatever form the parser gave it.
fn text_of(v: &HeaderValue<'_>) -> Option<String> {
    match v {
        HeaderValue::Text(t) => Some(t.to_string()),
        HeaderValue::TextList(l) => Some(l.join(" ")),
        HeaderValue::Empty => Some(String::new()),
        _ => None,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Reads what capture needs from a raw message.
pub fn analyse(raw: &[u8], limits: &Limits, no_reply: &NoReply) -> Result<Analysis, MessageError> {
    if raw.len() > limits.max_message_bytes {
        return Err(MessageError::TooLarge(limits.max_message_bytes));
    }
    let headers = header_section(raw);
    check_limits(headers, limits)?;
    let message = parser()
        .parse_headers(headers)
        .ok_or(MessageError::Unparsable("it has no header fields"))?;
    let fields = message.headers();
    if fields.is_empty() {
        return Err(MessageError::Unparsable("it has no header fields"));
    }
    if fields
        .iter()
        .all(|h| matches!(h.name, HeaderName::Other(_)))
    {
        return Err(MessageError::Unparsable(
            "it has none of the header fields of an email (From, To, Date, Message-ID…)",
        ));
    }

    let message_id = match message.message_id() {
        Some(id) if !id.is_empty() && id.len() <= 250 && !id.chars().any(|c| c.is_control()) => {
            id.to_string()
        }
        Some(id) if !id.is_empty() => sha256_hex(id.as_bytes()),
        _ => sha256_hex(raw),
    };

    let mut offered = Vec::new();
    for h in fields {
        let field = match h.name {
            HeaderName::From => Field::From,
            HeaderName::ReplyTo => Field::ReplyTo,
            HeaderName::To => Field::To,
            HeaderName::Cc => Field::Cc,
            _ => continue,
        };
        if let HeaderValue::Address(a) = &h.value {
            push_addresses(&mut offered, field, a);
        }
    }
    // From, Reply-To, To, Cc: the order a reader sees them in.
    offered.sort_by_key(|o| o.field as u8);

    let machine = machine_reason(&message, &offered, no_reply);
    Ok(Analysis {
        message_id,
        machine,
        offered,
    })
}

fn push_addresses(out: &mut Vec<Offered>, field: Field, a: &Address<'_>) {
    for addr in a.iter() {
        let Some(address) = addr.address.as_deref() else {
            continue;
        };
        let address = address.trim();
        if address.is_empty() {
            continue;
        }
        out.push(Offered {
            field,
            address: address.to_string(),
            name: addr
                .name
                .as_deref()
                .map(|n| split_display_name(n, address))
                .unwrap_or_default(),
        });
    }
}

/// Why a machine sent this message, if one did.
fn machine_reason(
    message: &mail_parser::Message<'_>,
    offered: &[Offered],
    no_reply: &NoReply,
) -> Option<String> {
    for h in message.headers() {
        let name = h.name.as_str();
        let value = || {
            text_of(&h.value)
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        };
        if name.eq_ignore_ascii_case("Auto-Submitted") {
            let v = value();
            let keyword = v.split(';').next().unwrap_or("").trim().to_string();
            if keyword != "no" {
                return Some(format!("Auto-Submitted: {}", crate::clip(&keyword, 40)));
            }
        } else if name.eq_ignore_ascii_case("X-Autoreply")
            || name.eq_ignore_ascii_case("X-Autorespond")
        {
            return Some(format!("{name} header"));
        } else if name.eq_ignore_ascii_case("Precedence") {
            let v = value();
            if matches!(v.as_str(), "bulk" | "junk" | "list") {
                return Some(format!("Precedence: {v}"));
            }
        } else if h.name == HeaderName::ReturnPath {
            let raw = message
                .raw_message()
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            let empty = String::from_utf8_lossy(raw)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                == "<>";
            if empty {
                return Some("an empty return path (a delivery report)".into());
            }
        } else if h.name == HeaderName::ContentType {
            if let Some(ct) = h.value.as_content_type() {
                if ct.c_type.eq_ignore_ascii_case("multipart")
                    && ct
                        .c_subtype
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case("report"))
                {
                    return Some("a delivery report (multipart/report)".into());
                }
            }
        }
    }
    for o in offered.iter().filter(|o| o.field == Field::From) {
        let local = o
            .address
            .rsplit_once('@')
            .map_or(o.address.as_str(), |(l, _)| l)
            .to_lowercase();
        if local == "mailer-daemon" || local == "postmaster" {
            return Some(format!("a delivery report (sent by {local})"));
        }
        if let Some(p) = no_reply.matching(&o.address) {
            return Some(format!("a no-reply sender (pattern '{p}')"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_section_ends_at_the_first_empty_line() {
        assert_eq!(header_section(b"A: b\r\n\r\nbody"), b"A: b\r\n");
        assert_eq!(header_section(b"A: b\n\nbody\n\n"), b"A: b\n");
        assert_eq!(header_section(b"A: b\r\nC: d"), b"A: b\r\nC: d");
        assert_eq!(header_section(b"\r\nbody"), b"");
    }

    #[test]
    fn limits_are_checked() {
        let limits = Limits {
            max_header_fields: 2,
            max_line_bytes: 10,
            ..Limits::default()
        };
        assert!(check_limits(b"A: b\nC: d\n  e\n", &limits).is_ok());
        assert!(check_limits(b"A: b\nC: d\nE: f\n", &limits).is_err());
        assert!(check_limits(b"A: bbbbbbbbbbbbbbb\n", &limits).is_err());
    }
}
