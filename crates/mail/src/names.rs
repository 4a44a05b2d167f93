//! A contact's name from a display name (already decoded by mail-parser:
//! quoted strings unquoted, RFC 2047 encoded words in their charset).

/// The most characters kept in a first or last name; a longer display name
/// is not a person's name.
const MAX_NAME_CHARS: usize = 128;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Name {
    pub first: Option<String>,
    pub last: Option<String>,
}

impl Name {
    pub fn is_empty(&self) -> bool {
        self.first.is_none() && self.last.is_none()
    }
}

fn clean(s: &str) -> Option<String> {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = s.split_whitespace().collect();
    let joined = words.join(" ");
    let trimmed = joined.trim_matches(|c: char| matches!(c, '"' | '\'' | '`') || c.is_whitespace());
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed.to_string())
    }
}

/// Splits a display name into first and last name:
/// - `Last, First` (one comma) is turned the right way round;
/// - otherwise the last word is the last name and the rest the first name;
/// - a single word is a first name;
/// - a display name that is (or holds) an address, or is absurdly long,
///   gives no name.
pub fn split_display_name(display: &str, address: &str) -> Name {
    let Some(name) = clean(display) else {
        return Name::default();
    };
    if name.contains('@') || name.eq_ignore_ascii_case(address) {
        return Name::default();
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Name::default();
    }
    if let Some((last, first)) = name.split_once(',') {
        if !first.contains(',') {
            let (first, last) = (clean(first), clean(last));
            return match (first, last) {
                (Some(f), Some(l)) => Name {
                    first: Some(f),
                    last: Some(l),
                },
                (f, l) => Name {
                    first: f.or(l),
                    last: None,
                },
            };
        }
        return Name {
            first: Some(name),
            last: None,
        };
    }
    match name.rsplit_once(' ') {
        Some((first, last)) => Name {
            first: clean(first),
            last: clean(last),
        },
        None => Name {
            first: Some(name),
            last: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(display: &str, first: Option<&str>, last: Option<&str>) {
        let got = split_display_name(display, "x@example.com");
        assert_eq!(
            (got.first.as_deref(), got.last.as_deref()),
            (first, last),
            "{display:?}"
        );
    }

    #[test]
    fn display_names() {
        check("Jane Doe", Some("Jane"), Some("Doe"));
        check("Doe, Jane", Some("Jane"), Some("Doe"));
        check("  Doe ,  Jane  ", Some("Jane"), Some("Doe"));
        check("Mary Ann Smith", Some("Mary Ann"), Some("Smith"));
        check("Cher", Some("Cher"), None);
        check("'Jane Doe'", Some("Jane"), Some("Doe"));
        check("", None, None);
        check("   ", None, None);
        check("x@example.com", None, None);
        check("jane@example.com via Support", None, None);
        check("Doe,", Some("Doe"), None);
        check("Smith, John, PhD", Some("Smith, John, PhD"), None);
        check("Jane\tDoe\r\n", Some("Jane"), Some("Doe"));
        check("山田 太郎", Some("山田"), Some("太郎"));
        check(&"a".repeat(200), None, None);
    }
}
