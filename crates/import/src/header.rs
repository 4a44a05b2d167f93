//! The header plan: which column of the file feeds which attribute.
//!
//! Every check here happens before a single row is read, so a file whose
//! header is wrong is refused before anything is written.

use std::collections::HashMap;

use crate::mapping::{detect_format, key, suggest_mapping, Suggestion};
pub use crate::report::{IgnoredColumn, MappedColumn};
use crate::ImportError;

/// What one column of the file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// A standard column of the import's kind (its index in the kind's list).
    Standard(usize),
    /// A custom field (its index in the field list).
    Custom(usize),
    /// A column with an empty name: ignored while its cells are empty.
    Unnamed,
    /// Not ours, ignored because of `--ignore-unknown-columns`.
    Ignored,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub columns: Vec<Column>,
    /// The header's names after trimming and `--map` (what the report shows).
    pub names: Vec<String>,
    /// Columns renamed by `--map` (explicit or auto), for the report.
    pub mapped: Vec<MappedColumn>,
    /// Columns ignored (by `--map auto` or `--ignore-unknown-columns`), as
    /// written, with why.
    pub ignored: Vec<IgnoredColumn>,
    /// For each standard column, its position in the file, if present.
    pub standard_at: Vec<Option<usize>>,
    /// When the email column may hold several addresses joined by this
    /// separator (a Google Contacts export under `--map auto`): the first
    /// is the row's email.
    pub email_first_of: Option<&'static str>,
}

impl Plan {
    pub fn has(&self, standard: usize) -> bool {
        self.standard_at[standard].is_some()
    }

    /// The row's cell for a standard column ("" when the file lacks it).
    pub fn cell<'a>(&self, cells: &[&'a str], standard: usize) -> &'a str {
        self.standard_at[standard].map(|i| cells[i]).unwrap_or("")
    }
}

/// Names longer than this are cut in messages.
const MAX_ECHOED_NAME: usize = 60;
/// Lists longer than this are summarised in messages.
const MAX_LISTED: usize = 12;

/// A column name as a message quotes it: cut when long.
pub fn quoted(name: &str) -> String {
    if name.chars().count() > MAX_ECHOED_NAME {
        let cut: String = name.chars().take(MAX_ECHOED_NAME).collect();
        format!("'{cut}…'")
    } else {
        format!("'{name}'")
    }
}

/// Joins `items`, summarising past [`MAX_LISTED`] as "and N more".
pub fn summarise(items: &[String]) -> String {
    if items.len() > MAX_LISTED {
        format!(
            "{} and {} more",
            items[..MAX_LISTED].join(", "),
            items.len() - MAX_LISTED
        )
    } else {
        items.join(", ")
    }
}

/// The file's columns, for messages.
fn file_columns(header: &[String]) -> String {
    let names: Vec<String> = header.iter().map(|h| quoted(h)).collect();
    summarise(&names)
}

/// Where a column's name in the plan came from (for the repeated-column message).
#[derive(Clone)]
enum Origin {
    Header,
    Map(String),
    Auto(String),
}

/// Builds the plan for `header` (trimmed names). `standard` are the kind's
/// column names, `custom` the custom fields' variable names, `maps` the
/// `--map FROM=TO` renames, `auto` is `--map auto`.
pub fn plan(
    header: &[String],
    standard: &[&str],
    custom: &[&str],
    maps: &[(String, String)],
    auto: bool,
    ignore_unknown: bool,
) -> Result<Plan, ImportError> {
    let refuse = |m: String| Err(ImportError::Header(m));
    let accepted = || {
        let mut all: Vec<String> = standard.iter().map(|s| s.to_string()).collect();
        all.extend(custom.iter().map(|c| c.to_string()));
        all.join(", ")
    };
    for (from, to) in maps {
        if from.trim().is_empty() || to.trim().is_empty() {
            return refuse(format!(
                "--map '{from}={to}' has an empty side; write --map 'FILE COLUMN=column', e.g. --map 'E-mail Address=email'; the file's columns are: {}",
                file_columns(header)
            ));
        }
        if !header.iter().any(|h| h == from) {
            return refuse(format!(
                "--map '{from}={to}': the file has no column named {}; its columns are: {}",
                quoted(from),
                file_columns(header)
            ));
        }
    }
    let suggestions = suggest_mapping(header, standard, custom);
    let explicit_targets: Vec<&str> = maps.iter().map(|(_, to)| to.trim()).collect();
    let mut columns = Vec::with_capacity(header.len());
    let mut names = Vec::with_capacity(header.len());
    let mut mapped = Vec::new();
    let mut ignored = Vec::new();
    let mut standard_at = vec![None; standard.len()];
    let mut unknown = Vec::new();
    let mut uppercase = Vec::new();
    let mut seen: HashMap<String, (usize, Origin)> = HashMap::new();
    let mut repeated = Vec::new();
    let mut email_first_of = None;
    for (i, raw) in header.iter().enumerate() {
        let suggestion = &suggestions[i];
        let (name, origin) = if let Some((from, to)) = maps.iter().find(|(from, _)| from == raw) {
            let to = to.trim().to_string();
            // Google's `E-mail 1 - Value` may hold several addresses, also
            // when mapped by hand.
            if to == standard[0] && suggestion.to.as_deref() == Some(standard[0]) {
                email_first_of = suggestion.first_of;
            }
            mapped.push(MappedColumn {
                column: raw.clone(),
                to: to.clone(),
                by: format!("--map '{from}={to}'"),
            });
            let origin = Origin::Map(format!("--map '{from}={to}'"));
            (to, origin)
        } else if auto && !raw.is_empty() {
            match &suggestion.to {
                Some(t) if explicit_targets.contains(&t.as_str()) && t != raw => {
                    ignored.push(IgnoredColumn {
                        column: raw.clone(),
                        reason: format!("a --map supplies {t}"),
                    });
                    names.push(raw.clone());
                    columns.push(Column::Ignored);
                    continue;
                }
                Some(t) => {
                    if t == standard[0] {
                        email_first_of = suggestion.first_of;
                    }
                    if t != raw {
                        mapped.push(MappedColumn {
                            column: raw.clone(),
                            to: t.clone(),
                            by: format!("--map auto: {}", suggestion.reason),
                        });
                    }
                    let origin = if t == raw {
                        Origin::Header
                    } else {
                        Origin::Auto(raw.clone())
                    };
                    (t.clone(), origin)
                }
                None => {
                    ignored.push(IgnoredColumn {
                        column: raw.clone(),
                        reason: suggestion.reason.clone(),
                    });
                    names.push(raw.clone());
                    columns.push(Column::Ignored);
                    continue;
                }
            }
        } else {
            (raw.clone(), Origin::Header)
        };
        names.push(name.clone());
        if name.is_empty() {
            columns.push(Column::Unnamed);
            continue;
        }
        let col = if let Some(s) = standard.iter().position(|s| *s == name) {
            Column::Standard(s)
        } else if let Some(c) = custom.iter().position(|c| *c == name) {
            Column::Custom(c)
        } else {
            let lower = name.to_lowercase();
            // A case variant of one of our names, unless the export it comes
            // from means something else by it (Google's `Labels`).
            let ours = (standard.contains(&lower.as_str()) || custom.contains(&lower.as_str()))
                && suggestion.to.as_deref() == Some(lower.as_str());
            if ignore_unknown {
                let reason = match &suggestion.to {
                    Some(t) if matches!(origin, Origin::Header) => {
                        format!("not ours as written; --map '{name}={t}' would use it as {t}")
                    }
                    _ => suggestion.reason.clone(),
                };
                ignored.push(IgnoredColumn {
                    column: name.clone(),
                    reason,
                });
                columns.push(Column::Ignored);
                continue;
            }
            if ours {
                uppercase.push((i, name.clone(), lower));
            } else {
                unknown.push((i, name.clone()));
            }
            columns.push(Column::Ignored);
            continue;
        };
        if let Some((first, first_origin)) = seen.insert(name.clone(), (i, origin.clone())) {
            let why = |o: &Origin, col: usize| match o {
                Origin::Header => format!("column {}", col + 1),
                Origin::Map(m) => format!("{m} (column {})", col + 1),
                Origin::Auto(from) => {
                    format!("--map auto from {} (column {})", quoted(from), col + 1)
                }
            };
            repeated.push(match (&first_origin, &origin) {
                (Origin::Header, Origin::Header) => {
                    format!("{} (columns {} and {})", quoted(&name), first + 1, i + 1)
                }
                _ => format!(
                    "{} (made by {} and by {})",
                    quoted(&name),
                    why(&first_origin, first),
                    why(&origin, i)
                ),
            });
        }
        if let Column::Standard(s) = col {
            standard_at[s] = Some(i);
        }
        columns.push(col);
    }
    let auto_hint = || {
        (!auto)
            .then(|| auto_hint(header, &suggestions, standard, custom))
            .flatten()
    };
    if !uppercase.is_empty() && unknown.is_empty() {
        let (i, name, lower) = &uppercase[0];
        let more = if uppercase.len() > 1 {
            let rest: Vec<String> = uppercase[1..].iter().map(|u| quoted(&u.1)).collect();
            format!(" (and {} more: {})", uppercase.len() - 1, summarise(&rest))
        } else {
            String::new()
        };
        let auto = auto_hint().map(|h| format!("; or {h}")).unwrap_or_default();
        return refuse(format!(
            "line 1, column {}: column names must be lowercase: rename '{name}' to '{lower}'{more}, or pass --map '{name}={lower}'{auto}",
            i + 1
        ));
    }
    if !unknown.is_empty() || !uppercase.is_empty() {
        let mut all: Vec<(usize, String)> = unknown;
        all.extend(uppercase.into_iter().map(|(i, n, _)| (i, n)));
        all.sort();
        let list: Vec<String> = all
            .iter()
            .map(|(i, n)| {
                let note = match &suggestions[*i] {
                    // Renamed by a --map to a name that is not ours.
                    _ if *n != header[*i] => match did_you_mean(n, standard, custom) {
                        Some(d) => format!("; did you mean '{d}'?"),
                        None => String::new(),
                    },
                    s if s.to.is_some() => {
                        format!("; --map '{n}={}'", s.to.as_deref().unwrap_or(""))
                    }
                    s if s.reason.starts_with("not ") || s.reason.is_empty() => {
                        match did_you_mean(n, standard, custom) {
                            Some(d) => format!("; did you mean '{d}'?"),
                            None => String::new(),
                        }
                    }
                    s => format!(": {}", s.reason),
                };
                format!("{} (column {}{note})", quoted(n), i + 1)
            })
            .collect();
        let (lead, fix) = match auto_hint() {
            Some(h) => (
                format!("; {h}"),
                "otherwise rename with --map 'NAME=column'",
            ),
            None => (String::new(), "rename with --map 'NAME=column'"),
        };
        return refuse(format!(
            "line 1: unknown column{} {}{lead}; the accepted columns are: {}; {fix}, create a custom field with `roster fields add`, or pass --ignore-unknown-columns",
            if list.len() > 1 { "s" } else { "" },
            summarise(&list),
            accepted()
        ));
    }
    if !repeated.is_empty() {
        return refuse(format!(
            "line 1: repeated column{} {}; keep one of each and import again",
            if repeated.len() > 1 { "s" } else { "" },
            summarise(&repeated)
        ));
    }
    if standard_at[0].is_none() {
        let email = standard[0];
        let like = suggestions
            .iter()
            .find(|s| s.to.as_deref() == Some(email))
            .map(|s| s.column.clone())
            .or_else(|| header.iter().find(|h| key(h).contains("mail")).cloned());
        return refuse(match like {
            Some(col) => {
                let auto = auto_hint().map(|h| format!("{h}, or ")).unwrap_or_default();
                format!(
                    "line 1: the header has no '{email}' column, which is required; the addresses look to be in {}: {auto}pass --map '{col}={email}'",
                    quoted(&col)
                )
            }
            None => format!(
                "line 1: the header has no '{email}' column, which is required; the columns are: {}; add it or use --map 'YOUR NAME={email}'",
                file_columns(&names),
            ),
        });
    }
    Ok(Plan {
        columns,
        names,
        mapped,
        ignored,
        standard_at,
        email_first_of,
    })
}

/// "--map auto would map …" when `--map auto` would give this header an
/// email column.
fn auto_hint(
    header: &[String],
    suggestions: &[Suggestion],
    standard: &[&str],
    custom: &[&str],
) -> Option<String> {
    if !suggestions
        .iter()
        .any(|s| s.to.as_deref() == Some(standard[0]))
    {
        return None;
    }
    let maps: Vec<String> = suggestions
        .iter()
        .filter_map(|s| match &s.to {
            Some(t) if *t != s.column => Some(format!("{} → {t}", quoted(&s.column))),
            _ => None,
        })
        .collect();
    let ignored = suggestions.iter().filter(|s| s.to.is_none()).count();
    let ours: Vec<&str> = standard.iter().chain(custom.iter()).copied().collect();
    let looks = detect_format(header, &ours)
        .map(|f| {
            let a = if f.starts_with(['A', 'E', 'I', 'O', 'U']) {
                "an"
            } else {
                "a"
            };
            format!("this looks like {a} {f} export: ")
        })
        .unwrap_or_default();
    let rest = if ignored > 0 {
        format!(
            " and ignore the other {ignored} column{}",
            if ignored == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    if maps.is_empty() {
        return Some(format!(
            "{looks}pass --map auto to ignore the {ignored} column{} Roster does not know",
            if ignored == 1 { "" } else { "s" }
        ));
    }
    Some(format!(
        "{looks}pass --map auto to map {}{rest}",
        summarise(&maps)
    ))
}

/// A close accepted name, for "did you mean".
pub fn did_you_mean<'a>(name: &str, standard: &[&'a str], custom: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase().replace([' ', '-'], "_");
    standard
        .iter()
        .chain(custom.iter())
        .map(|c| (strsim::damerau_levenshtein(&lower, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STD: &[&str] = roster_core::field::CONTACT_COLUMNS;

    fn names(s: &str) -> Vec<String> {
        s.split(',').map(|x| x.trim().to_string()).collect()
    }

    fn check(
        header: &str,
        custom: &[&str],
        maps: &[(&str, &str)],
        ignore: bool,
        expected: Result<&str, &str>,
    ) {
        let maps: Vec<(String, String)> = maps
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        match (
            plan(&names(header), STD, custom, &maps, false, ignore),
            expected,
        ) {
            (Ok(p), Ok(want)) => assert_eq!(p.names.join(","), want),
            (Err(e), Err(fragment)) => {
                let m = e.to_string();
                assert!(m.contains(fragment), "{header}: {m:?} lacks {fragment:?}")
            }
            (got, want) => panic!("{header}: got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn header_rules() {
        check("email,first_name", &[], &[], false, Ok("email,first_name"));
        check(" email , plan ", &["plan"], &[], false, Ok("email,plan"));
        check(
            "Email,first_name",
            &[],
            &[],
            false,
            Err("rename 'Email' to 'email'"),
        );
        // --ignore-unknown-columns ignores a case variant of ours too.
        check("email,First_Name", &[], &[], true, Ok("email,First_Name"));
        check(
            "email,frist_name",
            &[],
            &[],
            false,
            Err("did you mean 'first_name'?"),
        );
        check(
            "email,phone",
            &[],
            &[],
            false,
            Err("unknown column 'phone' (column 2)"),
        );
        check(
            "email,phone",
            &[],
            &[],
            false,
            Err("--ignore-unknown-columns"),
        );
        check("email,Phone", &[], &[], true, Ok("email,Phone"));
        check(
            "email,email",
            &[],
            &[],
            false,
            Err("repeated column 'email' (columns 1 and 2)"),
        );
        check("first_name", &[], &[], false, Err("no 'email' column"));
        check(
            "E-mail Address,first_name",
            &[],
            &[("E-mail Address", "email")],
            false,
            Ok("email,first_name"),
        );
        check(
            "email",
            &[],
            &[("Mail", "email")],
            false,
            Err("no column named 'Mail'"),
        );
        check(
            "email,,first_name",
            &[],
            &[],
            false,
            Ok("email,,first_name"),
        );
        check(
            "email,plam",
            &["plan"],
            &[],
            false,
            Err("did you mean 'plan'?"),
        );
    }

    fn refusal(header: &str, maps: &[(&str, &str)], auto: bool, ignore: bool) -> String {
        let maps: Vec<(String, String)> = maps
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        match plan(&names(header), STD, &[], &maps, auto, ignore) {
            Ok(p) => panic!("{header}: accepted as {:?}", p.names),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn messages() {
        // An empty side of --map is refused, listing the file's columns.
        let m = refusal("Mail,first_name", &[("Mail", "")], false, false);
        assert!(m.contains("--map 'Mail=' has an empty side"), "{m}");
        assert!(
            m.contains("the file's columns are: 'Mail', 'first_name'"),
            "{m}"
        );
        let m = refusal("Mail,first_name", &[("", "email")], false, false);
        assert!(m.contains("has an empty side"), "{m}");
        // A --map naming a column the file lacks lists the file's columns.
        let m = refusal("Mail,first_name", &[("E-mail", "email")], false, false);
        assert!(
            m.contains("no column named 'E-mail'; its columns are: 'Mail', 'first_name'"),
            "{m}"
        );
        // Two --maps creating one column say so.
        let m = refusal("A,B", &[("A", "email"), ("B", "email")], false, false);
        assert!(
            m.contains("repeated column 'email' (made by --map 'A=email' (column 1) and by --map 'B=email' (column 2))"),
            "{m}"
        );
        // A missing email names the email-like column and suggests --map auto.
        let m = refusal("first_name,E-mail 1 - Value", &[], false, true);
        assert!(
            m.contains("the addresses look to be in 'E-mail 1 - Value'"),
            "{m}"
        );
        assert!(m.contains("pass --map auto"), "{m}");
        assert!(m.contains("--map 'E-mail 1 - Value=email'"), "{m}");
        // Unknown columns: the email-like column and --map auto are named;
        // a long list is summarised.
        let wide: Vec<String> = (1..=40).map(|i| format!("Custom {i}")).collect();
        let header = format!("Given Name,Email Address,{}", wide.join(","));
        let m = refusal(&header, &[], false, false);
        assert!(m.contains("'Email Address' → email"), "{m}");
        assert!(m.contains("pass --map auto"), "{m}");
        assert!(m.contains("and 30 more"), "{m}");
        assert!(!m.contains("Custom 40"), "{m}");
        // A --map to a name that is not ours: a "did you mean", not the
        // original column's suggestion.
        let m = refusal(
            "Email,Given Name",
            &[("Given Name", "frist_name")],
            false,
            false,
        );
        assert!(
            m.contains("'frist_name' (column 2; did you mean 'first_name'?)"),
            "{m}"
        );
        // A column that is ours as written, and a --map onto it.
        let m = refusal("email,Mail", &[("Mail", "email")], true, false);
        assert!(
            m.contains("(made by column 1 and by --map 'Mail=email' (column 2))"),
            "{m}"
        );
        // No --map auto hint when it would not find an email.
        let m = refusal("email_adress_typo,phone", &[], false, false);
        assert!(!m.contains("--map auto"), "{m}");
    }

    #[test]
    fn google_labels_are_not_ours() {
        let header = "First Name,Last Name,Labels,E-mail 1 - Value";
        // Without flags: refused, and the hint is not --map 'Labels=labels'.
        let m = refusal(header, &[], false, false);
        assert!(!m.contains("--map 'Labels=labels'"), "{m}");
        assert!(
            m.contains("'Labels' (column 3: Google Contacts group labels"),
            "{m}"
        );
        assert!(
            m.contains("this looks like a Google Contacts export: pass --map auto"),
            "{m}"
        );
        // With --ignore-unknown-columns and a --map for the email: ignored,
        // with why.
        let maps = vec![("E-mail 1 - Value".to_string(), "email".to_string())];
        let p = plan(&names(header), STD, &[], &maps, false, true).expect("a plan");
        let labels = p
            .ignored
            .iter()
            .find(|c| c.column == "Labels")
            .expect("Labels ignored");
        assert!(labels.reason.contains("not Roster labels"), "{labels:?}");
        let first = p
            .ignored
            .iter()
            .find(|c| c.column == "First Name")
            .expect("ignored");
        assert!(
            first
                .reason
                .contains("--map 'First Name=first_name' would use it"),
            "{first:?}"
        );
        // A sheet's own `Labels` is a case variant of ours: the hint says so.
        let p = plan(&names("email,Labels"), STD, &[], &[], false, true).expect("a plan");
        assert!(p.ignored[0]
            .reason
            .contains("--map 'Labels=labels' would use it"));
        // --map auto maps the Google columns and ignores Labels.
        let p = plan(&names(header), STD, &[], &[], true, false).expect("a plan");
        assert_eq!(p.names, ["first_name", "last_name", "Labels", "email"]);
        assert_eq!(p.mapped.len(), 3);
        assert_eq!(p.ignored.len(), 1);
    }
}
