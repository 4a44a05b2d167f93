//! Foreign exports (`--map auto`, `--ignore-unknown-columns`), the header
//! and value messages that point at the fix, and email normalization.
//!
//! Each recognised format has a fixture under tests/data/foreign built from
//! its documented header (see the source cited in
//! crates/import/src/mapping.rs) plus a few rows.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::behaviour;
use crate::support::Env;

const HEADER: &str = "email,first_name,last_name,company_id,labels,labels_id";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/foreign")
        .join(name)
}

/// The report's ignored column `name`, or a panic naming what was ignored.
fn ignored<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["ignored_columns"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["column"] == name))
        .unwrap_or_else(|| panic!("{name} is not among the ignored columns of {report:#}"))
}

struct Format {
    fixture: &'static str,
    exit: i32,
    created: u64,
    /// "Column=target" for every mapped column, in header order.
    mapped: &'static [&'static str],
    /// (column, fragment of the reason) of some ignored columns.
    ignored: &'static [(&'static str, &'static str)],
    /// How many columns were ignored in all.
    ignored_count: usize,
    export: &'static str,
}

fn check(env: &Env, f: Format) {
    let (code, report) = env.import("contacts", &fixture(f.fixture), &["--map", "auto"]);
    let ctx = format!("{}: {report:#}", f.fixture);
    assert_eq!(code, f.exit, "exit status of {ctx}");
    assert_eq!(report["created"], json!(f.created), "{ctx}");
    let mapped: Vec<String> = report["mapped_columns"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    format!(
                        "{}={}",
                        m["column"].as_str().unwrap_or(""),
                        m["to"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(mapped, f.mapped, "{ctx}");
    for (column, fragment) in f.ignored {
        let reason = ignored(&report, column)["reason"].as_str().unwrap_or("");
        assert!(
            reason.contains(fragment),
            "{column}: {reason:?} lacks {fragment:?}"
        );
    }
    assert_eq!(
        report["ignored_columns"].as_array().map_or(0, Vec::len),
        f.ignored_count,
        "{ctx}"
    );
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\n{}", f.export),
        "{ctx}"
    );
}

const SECOND: &str = "another email address";
const COMPANY: &str = "a company name";

behaviour!(google_contacts_export, |env| {
    check(
        env,
        Format {
            fixture: "google.csv",
            exit: 1, // the third row has no email
            created: 2,
            mapped: &[
                "First Name=first_name",
                "Last Name=last_name",
                "E-mail 1 - Value=email",
            ],
            ignored: &[
                ("Labels", "Google Contacts group labels"),
                ("E-mail 2 - Value", SECOND),
                ("E-mail 1 - Label", "type or label"),
                ("Organization Name", COMPANY),
                ("Phone 1 - Value", "not a column Roster knows"),
            ],
            ignored_count: 31,
            export: "grace@navy.example.com,Grace,Hopper,,,\njoerg@example.de,Jörg,Müller,,,\n",
        },
    );
});

behaviour!(google_contacts_legacy_export, |env| {
    check(
        env,
        Format {
            fixture: "google_legacy.csv",
            exit: 0,
            created: 2,
            mapped: &[
                "Given Name=first_name",
                "Family Name=last_name",
                "E-mail 1 - Value=email",
            ],
            ignored: &[
                ("Name", "'Given Name' already supplies first_name"),
                ("Group Membership", "Google Contacts group labels"),
                ("E-mail 2 - Value", SECOND),
            ],
            ignored_count: 30,
            export: "ada@example.com,Ada,Lovelace,,,\nalan@example.com,Alan,Turing,,,\n",
        },
    );
});

behaviour!(outlook_desktop_export, |env| {
    check(
        env,
        Format {
            fixture: "outlook.csv",
            exit: 0,
            created: 2,
            mapped: &[
                "First Name=first_name",
                "Last Name=last_name",
                "E-mail Address=email",
            ],
            ignored: &[
                ("E-mail Display Name", "type or label"),
                ("E-mail 2 Address", SECOND),
                ("Company", COMPANY),
                ("Categories", "tags in that tool's own format"),
            ],
            ignored_count: 89,
            export:
                "linus@example.com,Linus,Torvalds,,,\nmargaret@example.com,Margaret,Hamilton,,,\n",
        },
    );
});

behaviour!(outlook_com_export, |env| {
    check(
        env,
        Format {
            fixture: "outlook_com.csv",
            exit: 0,
            created: 2,
            mapped: &["First Name=first_name", "Last Name=last_name", "E-mail Address=email"],
            ignored: &[("E-mail 2 Address", SECOND), ("Company", COMPANY)],
            ignored_count: 58,
            export: "dorothy@example.com,Dorothy,Vaughan,,,\nkatherine@example.com,Katherine,Johnson,,,\n",
        },
    );
});

behaviour!(hubspot_export, |env| {
    check(
        env,
        Format {
            fixture: "hubspot.csv",
            exit: 0,
            created: 2,
            mapped: &[
                "First Name=first_name",
                "Last Name=last_name",
                "Email=email",
            ],
            ignored: &[
                ("Record ID", "HubSpot's own record id"),
                ("Associated Company", COMPANY),
                ("Contact owner", "not a column Roster knows"),
            ],
            ignored_count: 7,
            export: "camille@example.com,Camille,Durand,,,\njohn@example.com,John,Smith,,,\n",
        },
    );
});

behaviour!(mailchimp_export, |env| {
    check(
        env,
        Format {
            fixture: "mailchimp.csv",
            exit: 0,
            created: 2,
            mapped: &[
                "Email Address=email",
                "First Name=first_name",
                "Last Name=last_name",
            ],
            ignored: &[
                ("TAGS", "tags in that tool's own format"),
                ("MEMBER_RATING", "not a column"),
            ],
            ignored_count: 20,
            export: "ann@example.com,Ann,Lee,,,\nbo@example.com,Bo,,,,\n",
        },
    );
});

behaviour!(zendesk_export, |env| {
    check(
        env,
        Format {
            fixture: "zendesk.csv",
            exit: 0,
            created: 2,
            mapped: &["name=first_name"],
            ignored: &[
                ("organization", COMPANY),
                ("tags", "tags"),
                ("external_id", "not a column"),
            ],
            ignored_count: 8,
            export: "li@example.com,Li,,,,\nmaryann@example.com,Mary Ann Smith,,,,\n",
        },
    );
});

behaviour!(intercom_export, |env| {
    check(
        env,
        Format {
            fixture: "intercom.csv",
            exit: 0,
            created: 2,
            mapped: &["name=first_name"],
            ignored: &[("user_id", "Intercom's own user id")],
            ignored_count: 2,
            export: "pat@example.com,Pat Doe,,,,\nsam@example.com,Sam,,,,\n",
        },
    );
});

behaviour!(freshdesk_export, |env| {
    check(
        env,
        Format {
            fixture: "freshdesk.csv",
            exit: 0,
            created: 2,
            mapped: &["Full name=first_name", "Email=email"],
            ignored: &[
                ("Company", COMPANY),
                ("Tags", "tags"),
                ("Title", "not a column"),
            ],
            ignored_count: 9,
            export: "ines@example.com,Ines,,,,\nravi@example.com,Ravi Kumar,,,,\n",
        },
    );
});

behaviour!(zammad_export, |env| {
    check(
        env,
        Format {
            fixture: "zammad.csv",
            exit: 0,
            created: 2,
            mapped: &["firstname=first_name", "lastname=last_name"],
            ignored: &[("login", "not a column"), ("active", "not a column")],
            ignored_count: 3,
            export: "jdoe@example.com,John,Doe,,,\nmmore@example.net,Madeline,Moore,,,\n",
        },
    );
});

behaviour!(chatwoot_export, |env| {
    check(
        env,
        Format {
            fixture: "chatwoot.csv",
            exit: 0,
            created: 2,
            mapped: &["name=first_name"],
            ignored: &[
                ("id", "Chatwoot's own contact id"),
                ("phone_number", "not a column"),
            ],
            ignored_count: 2,
            export: "cuzzell0@example.org,Clarice Uzzell,,,,\nqneve5@example.org,Quinn Neve,,,,\n",
        },
    );
});

behaviour!(common_synonyms, |env| {
    check(
        env,
        Format {
            fixture: "synonyms.csv",
            exit: 0,
            created: 1,
            mapped: &[
                "Given Name=first_name",
                "Surname=last_name",
                "E-mail Address=email",
            ],
            ignored: &[("Phone", "not a column")],
            ignored_count: 1,
            export: "tove@example.fi,Tove,Jansson,,,\n",
        },
    );
});

behaviour!(dry_run_shows_the_mapping_before_writing, |env| {
    let f = fixture("google.csv");
    let (code, report) = env.import("contacts", &f, &["--map", "auto", "--dry-run"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["dry_run"], json!(true));
    assert_eq!(report["created"], json!(2));
    assert_eq!(report["mapped_columns"][2]["column"], "E-mail 1 - Value");
    assert_eq!(report["mapped_columns"][2]["to"], "email");
    ignored(&report, "Labels");
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\n"),
        "a dry run writes nothing"
    );
    // The text report lists them too.
    let text = env.run(&[
        "import",
        "contacts",
        &f.display().to_string(),
        "--map",
        "auto",
        "--dry-run",
    ]);
    assert!(
        text.stdout.contains("column 'E-mail 1 - Value' → email"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("'Labels': Google Contacts group labels"),
        "{}",
        text.stdout
    );
});

behaviour!(
    ignore_unknown_columns_takes_case_variants_and_explains,
    |env| {
        let f = fixture("google.csv");
        let (code, report) = env.import(
            "contacts",
            &f,
            &[
                "--map",
                "E-mail 1 - Value=email",
                "--ignore-unknown-columns",
            ],
        );
        assert_eq!(code, 1, "{report}");
        assert_eq!(report["created"], json!(2));
        // Google's `Labels` is a case variant of ours: ignored, and the report
        // does not suggest --map 'Labels=labels'.
        let labels = ignored(&report, "Labels")["reason"].as_str().unwrap_or("");
        assert!(labels.contains("not Roster labels"), "{labels}");
        assert!(!labels.contains("--map"), "{labels}");
        let first = ignored(&report, "First Name")["reason"]
            .as_str()
            .unwrap_or("");
        assert!(
            first.contains("--map 'First Name=first_name' would use it"),
            "{first}"
        );
        assert_eq!(
            report["mapped_columns"],
            json!([{"column": "E-mail 1 - Value", "to": "email", "by": "--map 'E-mail 1 - Value=email'"}])
        );
        // A sheet's own `Labels` is ours written differently: the hint names the --map.
        let sheet = env.write("sheet.csv", "email,Labels\nx@example.com,Marketing\n");
        let (code, report) = env.import("contacts", &sheet, &["--ignore-unknown-columns"]);
        assert_eq!(code, 0, "{report}");
        let labels = ignored(&report, "Labels")["reason"].as_str().unwrap_or("");
        assert!(
            labels.contains("--map 'Labels=labels' would use it"),
            "{labels}"
        );
    }
);

/// The sentence a refused import prints.
fn refused(env: &Env, file: &std::path::Path, args: &[&str]) -> String {
    let (code, report) = env.import("contacts", file, args);
    assert_eq!(code, 2, "{report}");
    report["refused"].as_str().unwrap_or_default().to_string()
}

behaviour!(header_messages_point_at_the_fix, |env| {
    // Unknown columns of a known export: named, summarised, --map auto offered.
    let m = refused(env, &fixture("outlook.csv"), &[]);
    assert!(m.contains("this looks like an Outlook export"), "{m}");
    assert!(m.contains("pass --map auto"), "{m}");
    assert!(m.contains("'E-mail Address' → email"), "{m}");
    assert!(m.contains(" more"), "a long list is summarised: {m}");
    assert!(
        !m.contains("Web Page"),
        "the 92nd column is not listed: {m}"
    );
    // A missing email names the email-like column.
    let m = refused(env, &fixture("google.csv"), &["--ignore-unknown-columns"]);
    assert!(m.contains("no 'email' column"), "{m}");
    assert!(m.contains("look to be in 'E-mail 1 - Value'"), "{m}");
    assert!(m.contains("--map auto"), "{m}");
    let f = env.write("a.csv", "Mail,first_name\nann@example.com,Ann\n");
    // An empty side of --map.
    let m = refused(env, &f, &["--map", "Mail="]);
    assert!(m.contains("has an empty side"), "{m}");
    assert!(
        m.contains("the file's columns are: 'Mail', 'first_name'"),
        "{m}"
    );
    let m = refused(env, &f, &["--map", "=email"]);
    assert!(m.contains("has an empty side"), "{m}");
    // A --map naming a column the file lacks.
    let m = refused(env, &f, &["--map", "E-mail=email"]);
    assert!(
        m.contains("no column named 'E-mail'; its columns are: 'Mail', 'first_name'"),
        "{m}"
    );
    // Two --maps creating one column.
    let m = refused(
        env,
        &f,
        &["--map", "Mail=email", "--map", "first_name=email"],
    );
    assert!(
        m.contains("repeated column 'email' (made by --map 'Mail=email' (column 1) and by --map 'first_name=email' (column 2))"),
        "{m}"
    );
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\n"),
        "nothing written"
    );
});

behaviour!(value_messages_point_at_the_fix, |env| {
    env.ok(&["labels", "add", "Marketing"]);
    env.ok(&["labels", "add", "Trial"]);
    env.ok(&["companies", "add", "Acme"]);
    let f = env.write(
        "v.csv",
        "email,labels,company_id\na@example.com,\"Marketing,Trial\",\nb@example.com,,1.23457E+11\nc@example.com,Marketing:Trial,1\n",
    );
    let (code, report) = env.import("contacts", &f, &[]);
    assert_eq!(code, 1, "{report}");
    let errors = report["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 2, "{report}");
    assert_eq!(errors[0]["column"], "labels");
    let m = errors[0]["message"].as_str().unwrap_or("");
    assert!(
        m.contains("labels are separated by ':', not ',': write 'Marketing:Trial'"),
        "{m}"
    );
    assert_eq!(errors[1]["column"], "company_id");
    let m = errors[1]["message"].as_str().unwrap_or("");
    assert!(
        m.contains("Excel writes long numbers as 1.23457E+11"),
        "{m}"
    );
    assert_eq!(report["created"], json!(1));
    // Not even --create-labels makes "Marketing,Trial" a label.
    let (code, report) = env.import("contacts", &f, &["--create-labels"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["errors"][0]["column"], "labels", "{report}");
    assert_eq!(
        env.ok(&["labels", "list"]).lines().count(),
        2,
        "no label was created"
    );
});

behaviour!(two_spellings_of_an_email_are_one_contact, |env| {
    let f = env.write(
        "spellings.csv",
        "email,first_name\n\
         jörg@bücher.de,One\n\
         JO\u{308}RG@XN--BCHER-KVA.DE,Two\n\
         jörg@ＢÜＣＨＥＲ。de,Three\n\
         user@ＥＸＡＭＰＬＥ。com,Four\n\
         user@example.com,Five\n",
    );
    let (code, report) = env.import("contacts", &f, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["created"], json!(2), "{report}");
    assert_eq!(report["repeated"], json!(3), "{report}");
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\njörg@bücher.de,Three,,,,\nuser@example.com,Five,,,,\n")
    );
});

behaviour!(
    a_character_that_normalizes_into_a_forbidden_one_is_rejected,
    |env| {
        // U+037E GREEK QUESTION MARK is NFC-equivalent to ';', which no address
        // may hold; U+212B ANGSTROM SIGN becomes 'Å', which is fine.
        let f = env.write(
        "nfc.csv",
        "email\nsemi\u{37E}colon@example.com\n\u{212B}ngstr\u{F6}m@example.com\nmix@example.com1\n",
    );
        let (code, report) = env.import("contacts", &f, &[]);
        assert_eq!(code, 1, "{report}");
        let errors = report["errors"].as_array().cloned().unwrap_or_default();
        assert_eq!(errors.len(), 2, "{report}");
        assert_eq!(errors[0]["line"], json!(2));
        assert!(
            errors[0]["message"]
                .as_str()
                .unwrap_or("")
                .contains("the character ';'"),
            "{report}"
        );
        assert_eq!(errors[1]["line"], json!(4));
        assert!(
            errors[1]["message"]
                .as_str()
                .unwrap_or("")
                .contains("does not end with a letter"),
            "{report}"
        );
        assert_eq!(
            env.export("contacts"),
            format!("{HEADER}\nångström@example.com,,,,,\n")
        );
    }
);

/// The repository stands alone: every relative link in the README and the
/// user guide points at a file that exists, and none of them points outside
/// the repository.
#[test]
fn guide_links_resolve() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let root = root.canonicalize().expect("the repository");
    for page in pages {
        let text = std::fs::read_to_string(&page).expect("a page");
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')').unwrap_or(rest.len())];
            if target.contains("://") || target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap_or(target);
            // Resolved on disk, so `../` cannot climb out unnoticed.
            let resolved = page.parent().expect("a folder").join(file).canonicalize();
            assert!(
                resolved.is_ok_and(|r| r.starts_with(&root)),
                "{} links to {target}, which is not a file of this repository",
                page.display()
            );
        }
    }
}
