//! Custom fields: their types, variable names and the
//! canonical form every value is stored and exported in.

use std::fmt;

/// The standard contact columns; a custom field's variable name
/// may never be one of these.
pub const CONTACT_COLUMNS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "company_id",
    "labels",
    "labels_id",
];

/// The type of a custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    Text,
    Number,
    Boolean,
    Date,
    Select,
}

impl FieldType {
    pub const ALL: [FieldType; 5] = [
        FieldType::Text,
        FieldType::Number,
        FieldType::Boolean,
        FieldType::Date,
        FieldType::Select,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Select => "select",
        }
    }

    pub fn parse(s: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A custom field definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomField {
    pub id: i64,
    pub variable_name: String,
    pub name: String,
    pub field_type: FieldType,
    /// The options of a `select` field, in the order they were given.
    pub options: Vec<String>,
}

impl CustomField {
    /// Checks `raw` (already trimmed, not empty) against the field's type and
    /// returns its canonical form, or one sentence saying why it does not fit.
    pub fn canonicalize(&self, raw: &str) -> Result<String, String> {
        match self.field_type {
            FieldType::Text => Ok(raw.to_string()),
            FieldType::Number => canonical_number(raw),
            FieldType::Boolean => canonical_boolean(raw).map(str::to_string),
            FieldType::Date => canonical_date(raw),
            FieldType::Select => {
                if self.options.iter().any(|o| o == raw) {
                    Ok(raw.to_string())
                } else if let Some(o) = self
                    .options
                    .iter()
                    .find(|o| o.eq_ignore_ascii_case(raw) || o.to_lowercase() == raw.to_lowercase())
                {
                    Err(format!(
                        "'{raw}' is not an option of {}; options are case-sensitive: did you mean '{o}'?",
                        self.variable_name
                    ))
                } else {
                    Err(format!(
                        "'{raw}' is not an option of {}; use one of: {}",
                        self.variable_name,
                        self.options.join(", ")
                    ))
                }
            }
        }
    }
}

/// Why a variable name cannot name a custom field, if it cannot.
pub fn check_variable_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(format!(
            "'{name}' is not a valid variable name: use a lowercase letter followed by lowercase letters, digits or '_' (e.g. plan_tier)"
        ));
    }
    if CONTACT_COLUMNS.contains(&name)
        || matches!(name, "password" | "password_hash" | "active" | "role")
    {
        return Err(format!(
            "'{name}' is a standard column name and cannot name a custom field; choose another variable name"
        ));
    }
    Ok(())
}

/// Number: optional sign, digits, optional fraction; no exponent, no
/// thousands separator. Canonical: no `+`, no leading zeros, no trailing
/// fractional zeros, no negative zero.
pub fn canonical_number(raw: &str) -> Result<String, String> {
    let bad = |hint: &str| Err(format!("'{raw}' is not a number{hint}"));
    let (negative, body) = match raw.as_bytes().first() {
        Some(b'-') => (true, &raw[1..]),
        Some(b'+') => (false, &raw[1..]),
        _ => (false, raw),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        if body.contains(['e', 'E']) && body.bytes().any(|b| b.is_ascii_digit()) {
            return bad(": exponents are not accepted (Excel writes large numbers as 1.23457E+11; format the column as Text or Number with no decimals and export again)");
        }
        if body.contains(',') || body.contains(' ') {
            return bad(
                ": write it without thousands separators, with '.' for decimals (e.g. 1234.5)",
            );
        }
        return bad(": write an optional sign, digits and an optional '.' fraction (e.g. -12.5)");
    }
    let int = int.trim_start_matches('0');
    let frac = frac.map(|f| f.trim_end_matches('0')).unwrap_or("");
    let mut out = String::with_capacity(raw.len() + 1);
    if negative && !(int.is_empty() && frac.is_empty()) {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Ok(out)
}

/// Boolean: `true/false/yes/no/1/0` in any case.
pub fn canonical_boolean(raw: &str) -> Result<&'static str, String> {
    const TRUE: [&str; 3] = ["true", "yes", "1"];
    const FALSE: [&str; 3] = ["false", "no", "0"];
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(raw)) {
        Ok("true")
    } else if FALSE.iter().any(|t| t.eq_ignore_ascii_case(raw)) {
        Ok("false")
    } else {
        Err(format!(
            "'{raw}' is not a boolean: use true/false, yes/no or 1/0"
        ))
    }
}

/// Date: a real calendar day written `YYYY-MM-DD`.
pub fn canonical_date(raw: &str) -> Result<String, String> {
    let b = raw.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(format!(
            "'{raw}' is not a date: write it as YYYY-MM-DD (e.g. 2024-03-31)"
        ));
    }
    let num = |s: &str| s.parse::<u32>().unwrap_or(0);
    let (y, m, d) = (num(&raw[0..4]), num(&raw[5..7]), num(&raw[8..10]));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if y == 0 || d == 0 || d > days {
        return Err(format!(
            "'{raw}' is not a calendar day: check the month and day (YYYY-MM-DD)"
        ));
    }
    Ok(raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(t: FieldType, options: &[&str]) -> CustomField {
        CustomField {
            id: 1,
            variable_name: "f".into(),
            name: "F".into(),
            field_type: t,
            options: options.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn check(t: FieldType, options: &[&str], raw: &str, expected: Result<&str, &str>) {
        let got = field(t, options).canonicalize(raw);
        match (&got, expected) {
            (Ok(g), Ok(e)) => assert_eq!(g, e, "{t} {raw:?}"),
            (Err(g), Err(fragment)) => {
                assert!(
                    g.contains(fragment),
                    "{t} {raw:?}: {g:?} lacks {fragment:?}"
                )
            }
            _ => panic!("{t} {raw:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn numbers() {
        use FieldType::Number as N;
        for (raw, exp) in [
            ("0", Ok("0")),
            ("007", Ok("7")),
            ("+12", Ok("12")),
            ("-12.50", Ok("-12.5")),
            ("1.000", Ok("1")),
            ("-0", Ok("0")),
            ("-0.00", Ok("0")),
            ("0.5", Ok("0.5")),
            ("00.250", Ok("0.25")),
            (
                "123456789012345678901234567890",
                Ok("123456789012345678901234567890"),
            ),
            ("1.23457E+11", Err("exponents are not accepted")),
            ("1e5", Err("exponents")),
            ("1,234", Err("thousands separators")),
            ("1 234", Err("thousands separators")),
            ("abc", Err("not a number")),
            (".5", Err("not a number")),
            ("5.", Err("not a number")),
            ("-", Err("not a number")),
            ("--1", Err("not a number")),
        ] {
            check(N, &[], raw, exp);
        }
    }

    #[test]
    fn booleans() {
        for (raw, exp) in [
            ("TRUE", Ok("true")),
            ("Yes", Ok("true")),
            ("1", Ok("true")),
            ("false", Ok("false")),
            ("NO", Ok("false")),
            ("0", Ok("false")),
            ("y", Err("not a boolean")),
            ("2", Err("not a boolean")),
        ] {
            check(FieldType::Boolean, &[], raw, exp);
        }
    }

    #[test]
    fn dates() {
        for (raw, exp) in [
            ("2024-02-29", Ok("2024-02-29")),
            ("2023-02-29", Err("not a calendar day")),
            ("1900-02-29", Err("not a calendar day")),
            ("2000-02-29", Ok("2000-02-29")),
            ("2024-04-31", Err("not a calendar day")),
            ("2024-13-01", Err("not a calendar day")),
            ("2024-1-01", Err("YYYY-MM-DD")),
            ("01/02/2024", Err("YYYY-MM-DD")),
            ("2024-01-01T00:00", Err("YYYY-MM-DD")),
        ] {
            check(FieldType::Date, &[], raw, exp);
        }
    }

    #[test]
    fn selects_and_text() {
        let opts = ["Gold", "Silver"];
        check(FieldType::Select, &opts, "Gold", Ok("Gold"));
        check(FieldType::Select, &opts, "gold", Err("did you mean 'Gold'"));
        check(
            FieldType::Select,
            &opts,
            "Bronze",
            Err("use one of: Gold, Silver"),
        );
        check(
            FieldType::Text,
            &[],
            "anything, really",
            Ok("anything, really"),
        );
    }

    #[test]
    fn variable_names() {
        assert!(check_variable_name("plan_tier2").is_ok());
        assert!(check_variable_name("Plan").is_err());
        assert!(check_variable_name("2plan").is_err());
        assert!(check_variable_name("").is_err());
        assert!(check_variable_name("email")
            .unwrap_err()
            .contains("standard column"));
        assert!(check_variable_name("labels_id").is_err());
    }
}
