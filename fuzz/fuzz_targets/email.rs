//! Email validation and normalization: whatever is accepted is accepted
//! again unchanged (normalization is idempotent), fits the size rules and
//! holds exactly one `@` between a local part and a domain of two or more
//! labels; case and surrounding space never make a second address; a
//! refusal is one bounded sentence.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_core::email::normalize_email;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    match normalize_email(raw) {
        Ok(email) => {
            assert_eq!(
                normalize_email(&email).as_deref(),
                Ok(email.as_str()),
                "normalizing {raw:?} twice differs"
            );
            let (local, domain) = email.rsplit_once('@').expect("an @");
            assert!(!local.is_empty() && !local.contains('@'), "{email:?}");
            assert!(
                local.len() <= 64,
                "local part of {} bytes: {email:?}",
                local.len()
            );
            assert!(domain.split('.').count() >= 2, "{email:?}");
            assert!(
                !email.chars().any(|c| c.is_whitespace() || c.is_control()),
                "{email:?}"
            );
            assert_eq!(email.trim(), email, "{email:?}");
            assert!(!email.bytes().any(|b| b.is_ascii_uppercase()), "{email:?}");
            // Case never makes a second address. (Not `to_lowercase() ==
            // email`: UTS 46 maps Cherokee small letters to the capitals,
            // so a domain's canonical form may hold those.)
            let lower = email.to_lowercase();
            assert_eq!(
                normalize_email(&lower).as_deref(),
                Ok(email.as_str()),
                "{lower:?}"
            );
            // Surrounding white space and ASCII case never make a second address.
            let padded = format!("  {} ", email.to_ascii_uppercase());
            assert_eq!(
                normalize_email(&padded).as_deref(),
                Ok(email.as_str()),
                "{padded:?}"
            );
        }
        Err(e) => {
            let m = e.to_string();
            assert!(!m.is_empty());
            assert!(m.len() <= 1024, "a message of {} bytes: {m}", m.len());
        }
    }
});
