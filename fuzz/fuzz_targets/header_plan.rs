//! Header planning and mapping: the column names (one per line, after a
//! first line of `FROM=TO` maps separated by `;`), `--map auto` and
//! `--ignore-unknown-columns` from the last four bytes, against the
//! contacts and users columns. A plan that is made must be usable; a
//! refusal must be one bounded message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_fuzz::Bits;
use roster_import::header::{self, Column};
use roster_import::mapping;

const CONTACTS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "company_id",
    "labels",
    "labels_id",
];
const USERS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "password",
    "active",
    "role",
    "password_hash",
];
const CUSTOM: &[&str] = &["score", "vip", "born", "plan", "note"];

fuzz_target!(|data: &[u8]| {
    let (body, mut bits) = Bits::split(data);
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    let mut lines = text.split('\n');
    let maps: Vec<(String, String)> = lines
        .next()
        .unwrap_or("")
        .split(';')
        .filter_map(|m| m.rsplit_once('='))
        .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
        .collect();
    let names: Vec<String> = lines.map(|l| l.trim().to_string()).collect();
    if names.len() > 2000 {
        return;
    }
    let standard = if bits.flag() { USERS } else { CONTACTS };
    let custom: &[&str] = if standard == CONTACTS { CUSTOM } else { &[] };
    let auto = bits.flag();
    let ignore = bits.flag();
    match header::plan(&names, standard, custom, &maps, auto, ignore) {
        Ok(plan) => {
            assert_eq!(plan.columns.len(), names.len());
            assert_eq!(plan.names.len(), names.len());
            assert_eq!(plan.standard_at.len(), standard.len());
            let email = plan.standard_at[0].expect("a plan always has the email column");
            assert!(email < names.len());
            for (s, at) in plan.standard_at.iter().enumerate() {
                if let Some(i) = at {
                    assert_eq!(plan.columns[*i], Column::Standard(s), "{plan:?}");
                }
            }
            for (i, c) in plan.columns.iter().enumerate() {
                match c {
                    Column::Standard(s) => assert_eq!(plan.standard_at[*s], Some(i)),
                    Column::Custom(f) => assert!(*f < custom.len()),
                    Column::Unnamed => assert!(names[i].is_empty(), "{plan:?}"),
                    Column::Ignored => {}
                }
            }
        }
        Err(e) => {
            let m = e.to_string();
            assert!(!m.trim().is_empty());
            assert!(
                m.len() <= 8 * 1024,
                "a header refusal of {} bytes: {m}",
                m.len()
            );
        }
    }
    // The preview's suggestions and the format detection never panic and
    // suggest each of our columns at most once.
    let suggestions = mapping::suggest_mapping(&names, standard, custom);
    let mut targets: Vec<&str> = suggestions.iter().filter_map(|s| s.to.as_deref()).collect();
    let n = targets.len();
    targets.sort_unstable();
    targets.dedup();
    assert_eq!(
        n,
        targets.len(),
        "a column suggested twice: {suggestions:?}"
    );
    let _ = mapping::detect_format(&names, standard);
    for n in names.iter().take(50) {
        let _ = header::did_you_mean(n, standard, custom);
    }
});
