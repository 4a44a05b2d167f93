//! A file's columns before it is imported: for the web UI's mapping step.
//!
//! Reads the header and the rows of a (possibly truncated) file with the
//! import's own decoding, and says for each column a few sample values, how
//! many rows fill it, what it would be imported as (what `--map auto` would
//! pick), and — for a column that could hold labels — the label names it
//! holds that do not exist yet. Reads at most what it is given; every list
//! is capped, so the answer stays small whatever the file.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::decode::{self, DecodeOptions, Input};
use crate::ImportError;

/// Sample values kept per column.
const SAMPLES: usize = 3;
/// Characters kept of a sample value.
const SAMPLE_CHARS: usize = 60;
/// Distinct unknown label names kept per column.
const NEW_LABELS: usize = 100;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Preview {
    /// The encoding and delimiter the import would use.
    pub encoding: String,
    pub delimiter: String,
    /// Data rows read (blank rows not counted).
    pub rows: u64,
    /// false when the file was cut (only its beginning was sent).
    pub complete: bool,
    pub columns: Vec<ColumnPreview>,
    /// The custom fields' variable names (other targets a column may map to).
    pub custom_fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ColumnPreview {
    /// As written in the header, trimmed.
    pub name: String,
    /// The first few distinct non-empty values, shortened.
    pub samples: Vec<String>,
    /// Rows with a non-empty value in this column.
    pub filled: u64,
    /// Our column it would be imported as, or null to ignore it.
    pub suggested: Option<String>,
    /// Why it is suggested so (the format it comes from, or why it is ignored).
    pub reason: String,
    /// `:`-separated names in this column that are not existing labels.
    pub unknown_labels: Vec<String>,
}

/// What each column of the header is suggested to be (`None` = ignore),
/// and why: `--map auto`'s answer.
pub type Suggest<'a> = &'a dyn Fn(&[String]) -> Vec<(Option<String>, String)>;

/// The suggestion without `--map auto`'s table: a column named as ours (in
/// any case) is ours, anything else is ignored.
pub fn suggest_by_name(
    standard: &[&str],
    custom: &[&str],
    header: &[String],
) -> Vec<(Option<String>, String)> {
    header
        .iter()
        .map(|h| {
            let lower = h.trim().to_lowercase();
            match standard.iter().chain(custom).find(|c| **c == lower) {
                Some(c) => (Some(c.to_string()), "one of Roster's columns".to_string()),
                None => (None, "not a column Roster knows".to_string()),
            }
        })
        .collect()
}

/// What `--map auto` suggests for each column of `header`, and why: the
/// same answer the CLI's `--map auto` uses ([`crate::mapping`]).
pub fn suggest(
    standard: &[&str],
    custom: &[&str],
    header: &[String],
) -> Vec<(Option<String>, String)> {
    crate::mapping::suggest_mapping(header, standard, custom)
        .into_iter()
        .map(|s| (s.to, s.reason))
        .collect()
}

/// Previews the file at `path`. `partial`: the file is the beginning of a
/// larger one, so its last record may be cut and is not read.
/// `label_exists` answers whether a label name exists.
pub fn preview(
    path: &Path,
    decode_opts: &DecodeOptions,
    custom: &[&str],
    suggest: Suggest<'_>,
    label_exists: &dyn Fn(&str) -> bool,
    partial: bool,
) -> Result<Preview, ImportError> {
    let decoded = decode::open(Input::Path(path.to_path_buf()), decode_opts)?;
    let encoding = decoded.encoding.to_string();
    let delimiter = char::from(decoded.delimiter).to_string();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(decoded.delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(decoded.reader);
    let mut records = reader.byte_records();
    let header: Vec<String> = match records.next() {
        Some(Ok(r)) => r
            .iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_string())
            .collect(),
        Some(Err(e)) => {
            return Err(ImportError::Header(format!(
                "line 1: the header cannot be read ({e}); save the file as CSV and try again"
            )))
        }
        None => return Err(decode::DecodeError::Empty.into()),
    };
    let suggested = suggest(&header);
    let mut columns: Vec<ColumnPreview> = header
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (to, reason) = suggested.get(i).cloned().unwrap_or_default();
            ColumnPreview {
                name: name.clone(),
                samples: Vec::new(),
                filled: 0,
                suggested: to,
                reason,
                unknown_labels: Vec::new(),
            }
        })
        .collect();
    let mut new_labels: Vec<BTreeSet<String>> = vec![BTreeSet::new(); header.len()];
    let mut rows = 0u64;
    let mut pending: Option<csv::ByteRecord> = None;
    for rec in records {
        // A cut file's last record may be cut too: hold each record back
        // until the next one proves it whole.
        let Ok(rec) = rec else { break };
        if let Some(prev) = pending.replace(rec) {
            tally(
                &prev,
                &mut columns,
                &mut new_labels,
                &mut rows,
                label_exists,
            );
        }
    }
    if let Some(last) = pending {
        if !partial {
            tally(
                &last,
                &mut columns,
                &mut new_labels,
                &mut rows,
                label_exists,
            );
        }
    }
    for (c, set) in columns.iter_mut().zip(new_labels) {
        c.unknown_labels = set.into_iter().collect();
        // A password is never shown, not even as a sample.
        let secret = matches!(c.suggested.as_deref(), Some("password" | "password_hash"))
            || c.name.to_lowercase().contains("password");
        if secret {
            c.samples = c.samples.iter().map(|_| "••••••".to_string()).collect();
            c.unknown_labels.clear();
        }
    }
    Ok(Preview {
        encoding,
        delimiter,
        rows,
        complete: !partial,
        columns,
        custom_fields: custom.iter().map(|c| c.to_string()).collect(),
    })
}

fn tally(
    rec: &csv::ByteRecord,
    columns: &mut [ColumnPreview],
    new_labels: &mut [BTreeSet<String>],
    rows: &mut u64,
    label_exists: &dyn Fn(&str) -> bool,
) {
    if rec.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
        return;
    }
    *rows += 1;
    for (i, cell) in rec.iter().enumerate().take(columns.len()) {
        let v = String::from_utf8_lossy(cell);
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let col = &mut columns[i];
        col.filled += 1;
        if col.samples.len() < SAMPLES {
            let short: String = if v.chars().count() > SAMPLE_CHARS {
                v.chars().take(SAMPLE_CHARS - 1).chain(['…']).collect()
            } else {
                v.to_string()
            };
            if !col.samples.contains(&short) {
                col.samples.push(short);
            }
        }
        let set = &mut new_labels[i];
        if set.len() < NEW_LABELS {
            for part in v.split(':').map(str::trim).filter(|p| !p.is_empty()) {
                if set.len() >= NEW_LABELS {
                    break;
                }
                if part.chars().count() <= SAMPLE_CHARS && !label_exists(part) {
                    set.insert(part.to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: &[&str] = &[
        "email",
        "first_name",
        "last_name",
        "company_id",
        "labels",
        "labels_id",
    ];

    fn run(csv: &str, partial: bool) -> Preview {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, csv).unwrap();
        let suggest = |h: &[String]| suggest_by_name(STANDARD, &["plan"], h);
        preview(
            &path,
            &DecodeOptions::default(),
            &["plan"],
            &suggest,
            &|l| l == "Known",
            partial,
        )
        .unwrap()
    }

    #[test]
    fn columns_samples_fill_counts_and_new_labels() {
        let p = run("E-mail Address,Labels,plan,Notes\na@x.com,Known:Trial,gold,\nb@x.com,,gold,hi\n\nc@x.com,Trial:VIP,silver,\n", false);
        assert_eq!(p.rows, 3);
        assert!(p.complete);
        assert_eq!(p.encoding, "UTF-8");
        let names: Vec<_> = p.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["E-mail Address", "Labels", "plan", "Notes"]);
        assert_eq!(p.columns[0].filled, 3);
        assert_eq!(p.columns[0].samples, ["a@x.com", "b@x.com", "c@x.com"]);
        assert_eq!(p.columns[1].suggested.as_deref(), Some("labels"));
        assert_eq!(p.columns[1].unknown_labels, ["Trial", "VIP"]);
        assert_eq!(p.columns[2].samples, ["gold", "silver"]);
        assert_eq!(p.columns[2].suggested.as_deref(), Some("plan"));
        assert_eq!(p.columns[3].filled, 1);
        assert_eq!(p.columns[3].suggested, None);
    }

    #[test]
    fn an_outlook_header_is_mapped_as_map_auto_would() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outlook.csv");
        std::fs::write(
            &path,
            "First Name,Last Name,E-mail Address,Categories\nAnn,Lee,ann@x.com,VIP\n",
        )
        .unwrap();
        let suggest = |h: &[String]| suggest(STANDARD, &[], h);
        let p = preview(
            &path,
            &DecodeOptions::default(),
            &[],
            &suggest,
            &|_| false,
            false,
        )
        .unwrap();
        let to: Vec<_> = p.columns.iter().map(|c| c.suggested.as_deref()).collect();
        assert_eq!(
            to,
            [Some("first_name"), Some("last_name"), Some("email"), None]
        );
        assert!(!p.columns[3].reason.is_empty());
    }

    #[test]
    fn a_cut_file_drops_its_last_record() {
        let p = run("email,first_name\na@x.com,Ann\nb@x.com,Bo", true);
        assert_eq!(p.rows, 1);
        assert!(!p.complete);
        assert_eq!(p.columns[1].samples, ["Ann"]);
    }

    #[test]
    fn passwords_are_never_shown() {
        let p = run(
            "email,password,Old Password\na@x.com,secret1,hunter22\n",
            false,
        );
        assert_eq!(p.columns[1].samples, ["••••••"]);
        assert_eq!(p.columns[2].samples, ["••••••"]);
        assert_eq!(p.columns[1].filled, 1);
        assert!(p.columns.iter().all(|c| c
            .unknown_labels
            .iter()
            .all(|l| !l.contains("secret") && !l.contains("hunter"))));
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(500);
        let p = run(&format!("email,notes\na@x.com,{long}\n"), false);
        assert_eq!(p.columns[1].samples[0].chars().count(), SAMPLE_CHARS);
        assert!(p.columns[1].unknown_labels.is_empty());
    }
}
