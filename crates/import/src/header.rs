//! The header plan: which column of the file feeds which attribute.
//!
//! Every check here happens before a single row is read, so a file whose
//! header is wrong is refused before anything is written.

use std::collections::HashMap;

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
    /// Columns ignored by `--ignore-unknown-columns`, as written.
    pub ignored: Vec<String>,
    /// For each standard column, its position in the file, if present.
    pub standard_at: Vec<Option<usize>>,
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

/// Builds the plan for `header` (trimmed names). `standard` are the kind's
/// column names, `custom` the custom fields' variable names, `maps` the
/// `--map FROM=TO` renames.
pub fn plan(
    header: &[String],
    standard: &[&str],
    custom: &[&str],
    maps: &[(String, String)],
    ignore_unknown: bool,
) -> Result<Plan, ImportError> {
    let refuse = |m: String| Err(ImportError::Header(m));
    let accepted = || {
        let mut all: Vec<&str> = standard.to_vec();
        all.extend_from_slice(custom);
        all.join(", ")
    };
    for (from, to) in maps {
        if !header.iter().any(|h| h == from) {
            return refuse(format!(
                "--map '{from}={to}': the file has no column named '{from}'; its columns are: {}",
                header.join(", ")
            ));
        }
    }
    let mut columns = Vec::with_capacity(header.len());
    let mut names = Vec::with_capacity(header.len());
    let mut ignored = Vec::new();
    let mut standard_at = vec![None; standard.len()];
    let mut unknown = Vec::new();
    let mut uppercase = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut repeated = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        let name = maps
            .iter()
            .find(|(from, _)| from == raw)
            .map(|(_, to)| to.trim().to_string())
            .unwrap_or_else(|| raw.clone());
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
            let ours = standard.contains(&lower.as_str()) || custom.contains(&lower.as_str());
            if ignore_unknown && !ours {
                ignored.push(name.clone());
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
        if let Some(first) = seen.insert(name.clone(), i) {
            repeated.push(format!("'{name}' (columns {} and {})", first + 1, i + 1));
        }
        if let Column::Standard(s) = col {
            standard_at[s] = Some(i);
        }
        columns.push(col);
    }
    if let Some((i, name, lower)) = uppercase.first() {
        let more = if uppercase.len() > 1 {
            format!(
                " (and {} more: {})",
                uppercase.len() - 1,
                uppercase[1..]
                    .iter()
                    .map(|u| format!("'{}'", u.1))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        };
        return refuse(format!(
            "line 1, column {}: column names must be lowercase: rename '{name}' to '{lower}'{more}, or pass --map '{name}={lower}'",
            i + 1
        ));
    }
    if !unknown.is_empty() {
        let list: Vec<String> = unknown
            .iter()
            .map(|(i, n)| match did_you_mean(n, standard, custom) {
                Some(s) => format!("'{n}' (column {}; did you mean '{s}'?)", i + 1),
                None => format!("'{n}' (column {})", i + 1),
            })
            .collect();
        return refuse(format!(
            "line 1: unknown column{} {}; the accepted columns are: {}; rename with --map 'NAME=column', create a custom field with `roster fields add`, or pass --ignore-unknown-columns",
            if list.len() > 1 { "s" } else { "" },
            list.join(", "),
            accepted()
        ));
    }
    if !repeated.is_empty() {
        return refuse(format!(
            "line 1: repeated column{} {}; keep one of each and import again",
            if repeated.len() > 1 { "s" } else { "" },
            repeated.join(", ")
        ));
    }
    if standard_at[0].is_none() {
        return refuse(format!(
            "line 1: the header has no '{}' column, which is required; the columns are: {}; add it or use --map 'YOUR NAME={}'",
            standard[0],
            names.join(", "),
            standard[0]
        ));
    }
    Ok(Plan {
        columns,
        names,
        ignored,
        standard_at,
    })
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
        match (plan(&names(header), STD, custom, &maps, ignore), expected) {
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
        check("email,First_Name", &[], &[], true, Err("must be lowercase"));
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
}
