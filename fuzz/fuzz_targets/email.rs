//! Email validation and normalization: whatever is accepted is accepted
//! again unchanged (normalization is idempotent), fits the size rules and
//! holds exactly one `@` between a local part and a domain of two or more
//! labels; a refusal is one bounded sentence.
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
            assert_eq!(email.to_lowercase(), email, "not lowercase: {email:?}");
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
