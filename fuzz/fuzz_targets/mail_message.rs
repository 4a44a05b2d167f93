//! Message capture's parser and planner: any bytes as a received message,
//! under small limits. Every candidate is a valid, normalized address,
//! listed once, never the mailbox's own; machine mail yields none; the
//! skipped count matches its list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_core::email::normalize_email;
use roster_fuzz::Bits;
use roster_mail::{plan, Limits, NoReply, Settings};
use roster_store::mail::{CaptureScope, Mailbox};

fuzz_target!(|data: &[u8]| {
    let (raw, mut bits) = Bits::split(data);
    let mailbox = Mailbox {
        id: 1,
        name: "support".into(),
        address: "support@example.com".into(),
        aliases: vec!["help@example.com".into()],
        capture: if bits.flag() {
            CaptureScope::Senders
        } else {
            CaptureScope::All
        },
    };
    let settings = Settings {
        limits: Limits {
            max_message_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
            max_header_fields: 64,
            max_line_bytes: 2 * 1024,
        },
        no_reply: NoReply::default(),
    };
    let envelope = match bits.take(2) {
        0 => None,
        1 => Some(""),
        2 => Some("MAILER-DAEMON@example.net"),
        _ => Some("ann@example.com"),
    };
    match plan(raw, &mailbox, envelope, &settings) {
        Ok(p) => {
            assert!(!p.message_id.is_empty());
            assert!(
                p.message_id.len() <= 1024,
                "a message id of {} bytes",
                p.message_id.len()
            );
            assert_eq!(
                p.outcome.skipped as usize,
                p.outcome.skipped_addresses.len()
            );
            if p.outcome.machine.is_some() {
                assert!(p.candidates.is_empty());
            }
            for (i, c) in p.candidates.iter().enumerate() {
                assert_eq!(normalize_email(&c.email).as_deref(), Ok(c.email.as_str()));
                assert!(!mailbox.owns(&c.email));
                assert!(
                    p.candidates[..i].iter().all(|d| d.email != c.email),
                    "{c:?} twice"
                );
                for n in [&c.first_name, &c.last_name].into_iter().flatten() {
                    assert!(!n.trim().is_empty() && n.len() <= 4096, "{n:?}");
                }
            }
            for s in &p.outcome.skipped_addresses {
                assert!(s.address.chars().count() <= 101);
            }
        }
        Err(e) => {
            let m = e.to_string();
            assert!(!m.is_empty() && m.len() <= 1024, "{m}");
        }
    }
});
