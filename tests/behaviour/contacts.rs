//! The CSV rules, the contacts import and its outcome: one data-driven case per rule, each with a
//! fixture under tests/data/contacts, checked on the report, the exit status
//! and the exported data; then the options, one test each.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::behaviour;
use crate::support::Env;

const HEADER: &str =
    "email,first_name,last_name,company_id,labels,labels_id,plan,seats,renewal,vip,note";

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/contacts")
        .join(name)
}

/// Labels Marketing=1, Trial=2, Demo=3; company 1; fields plan (select),
/// seats (number), renewal (date), vip (boolean), note (text).
pub fn setup(env: &Env) {
    for (i, l) in ["Marketing", "Trial", "Demo"].iter().enumerate() {
        assert_eq!(env.ok(&["labels", "add", l]).trim(), (i + 1).to_string());
    }
    assert_eq!(env.ok(&["companies", "add", "Acme"]).trim(), "1");
    env.ok(&[
        "fields",
        "add",
        "plan",
        "--type",
        "select",
        "--options",
        "Free,Pro,Enterprise",
    ]);
    env.ok(&["fields", "add", "seats", "--type", "number"]);
    env.ok(&["fields", "add", "renewal", "--type", "date"]);
    env.ok(&["fields", "add", "vip", "--type", "boolean"]);
    env.ok(&["fields", "add", "note", "--type", "text", "--name", "Note"]);
}

struct Case {
    fixture: &'static str,
    args: &'static [&'static str],
    exit: i32,
    /// Keys of the JSON report that must have these values.
    report: Value,
    /// (line, column, fragment of the message) of each rejection, in order.
    errors: &'static [(u64, &'static str, &'static str)],
    /// The export after the import, without the header line.
    export: &'static str,
}

fn check(env: &Env, case: Case) {
    setup(env);
    let (code, report) = env.import("contacts", &fixture(case.fixture), case.args);
    let ctx = format!("{}: {report:#}", case.fixture);
    assert_eq!(code, case.exit, "exit status of {ctx}");
    for (k, v) in case.report.as_object().expect("an object") {
        assert_eq!(&report[k], v, "report key {k} of {ctx}");
    }
    let errors = report["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), case.errors.len(), "errors of {ctx}");
    for (e, (line, column, fragment)) in errors.iter().zip(case.errors) {
        assert_eq!(e["line"], json!(line), "{ctx}");
        assert_eq!(e["column"].as_str().unwrap_or("(row)"), *column, "{ctx}");
        let m = e["message"].as_str().unwrap_or("");
        assert!(
            m.contains(fragment),
            "message {m:?} lacks {fragment:?} in {ctx}"
        );
    }
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\n{}", case.export),
        "export after {}",
        case.fixture
    );
}

fn counts(rows: u64, created: u64, updated: u64, unchanged: u64, rejected: u64) -> Value {
    json!({"rows": rows, "created": created, "updated": updated, "unchanged": unchanged, "rejected": rejected})
}

behaviour!(every_column_with_canonical_values, |env| {
    check(env, Case {
        fixture: "basic.csv",
        args: &[],
        exit: 0,
        report: counts(2, 2, 0, 0, 0),
        errors: &[],
        export: "ann@example.com,Ann,Lee,1,Marketing:Trial,1:2,Pro,10,2025-01-31,true,first customer\n\
                 bob@example.com,Bob,,,Demo,3,,7.5,,false,\n",
    });
});

behaviour!(utf8_byte_order_mark, |env| {
    check(
        env,
        Case {
            fixture: "bom.csv",
            args: &[],
            exit: 0,
            report: json!({"created": 1, "encoding": "UTF-8", "delimiter": ","}),
            errors: &[],
            export: "zoë@example.com,Zoë,,,,,,,,,\n",
        },
    );
});

behaviour!(crlf_line_endings_keep_line_numbers, |env| {
    check(
        env,
        Case {
            fixture: "crlf.csv",
            args: &[],
            exit: 1,
            report: counts(3, 2, 0, 0, 1),
            errors: &[(4, "email", "no '@'")],
            export: "ann@example.com,Ann,Lee,,,,,,,,\nbob@example.com,Bob,,,,,,,,,\n",
        },
    );
});

behaviour!(quoted_commas_quotes_and_newlines, |env| {
    check(
        env,
        Case {
            fixture: "quoted_newlines.csv",
            args: &[],
            exit: 1,
            report: counts(3, 2, 0, 0, 1),
            errors: &[(7, "email", "no '@'")],
            export: "ann@example.com,\"Ann, the \"\"first\"\"\",,,,,,,,,\"line one\nline two\"\n\
                 bob@example.com,Bob,,,,,,,,,\"multi\nline\nnote\"\n",
        },
    );
});

behaviour!(windows_1252_is_detected, |env| {
    check(
        env,
        Case {
            fixture: "windows1252.csv",
            args: &[],
            exit: 0,
            report: json!({"created": 2, "encoding": "windows-1252"}),
            errors: &[],
            export: "m.mueller@example.de,Jürgen,Müller,,,,,,,,\nzoe@example.fr,Zoë,Dœuf,,,,,,,,\n",
        },
    );
});

behaviour!(windows_1252_by_flag, |env| {
    check(
        env,
        Case {
            fixture: "windows1252.csv",
            args: &["--encoding", "windows-1252"],
            exit: 0,
            report: json!({"created": 2, "encoding": "windows-1252"}),
            errors: &[],
            export: "m.mueller@example.de,Jürgen,Müller,,,,,,,,\nzoe@example.fr,Zoë,Dœuf,,,,,,,,\n",
        },
    );
});

behaviour!(utf16_le_tab_separated_as_excel_unicode_text, |env| {
    check(
        env,
        Case {
            fixture: "utf16le.csv",
            args: &[],
            exit: 0,
            report: json!({"created": 2, "encoding": "UTF-16LE", "delimiter": "\t"}),
            errors: &[],
            export: "ann@example.com,Åsa,Nyström,,,,,,,,\nwang@example.cn,芳,王,,,,,,,,\n",
        },
    );
});

behaviour!(utf16_be, |env| {
    check(
        env,
        Case {
            fixture: "utf16be.csv",
            args: &[],
            exit: 0,
            report: json!({"created": 1, "encoding": "UTF-16BE", "delimiter": ","}),
            errors: &[],
            export: "ann@example.com,Ånn,,,,,,,,,\n",
        },
    );
});

behaviour!(semicolons_as_european_excel_writes, |env| {
    check(
        env,
        Case {
            fixture: "semicolon.csv",
            args: &[],
            exit: 0,
            report: json!({"created": 2, "delimiter": ";"}),
            errors: &[],
            export:
                "ann@example.com,Ann,\"Lee, Jr.\",,,,,12.5,,,\nbob@example.com,Bob; B.,,,,,,3,,,\n",
        },
    );
});

behaviour!(uppercase_header_is_refused, |env| {
    setup(env);
    let (code, report) = env.import("contacts", &fixture("uppercase_header.csv"), &[]);
    assert_eq!(code, 2);
    let m = report["refused"].as_str().unwrap_or_default();
    assert!(
        m.contains("rename 'Email' to 'email'") && m.contains("line 1"),
        "{m}"
    );
    assert_eq!(env.export("contacts"), format!("{HEADER}\n"));
    let r = env.run(&[
        "import",
        "contacts",
        fixture("uppercase_header.csv").to_str().unwrap_or_default(),
    ]);
    assert!(r.stderr.contains("must be lowercase"), "{}", r.stderr);
});

behaviour!(unknown_column_is_refused_with_did_you_mean, |env| {
    setup(env);
    let (code, report) = env.import("contacts", &fixture("unknown_column.csv"), &[]);
    assert_eq!(code, 2);
    let m = report["refused"].as_str().unwrap_or_default();
    assert!(
        m.contains("'frist_name' (column 2; did you mean 'first_name'?)"),
        "{m}"
    );
    assert!(
        m.contains("'phone' (column 3)") && m.contains("plan, seats"),
        "{m}"
    );
    assert_eq!(env.export("contacts"), format!("{HEADER}\n"));
});

behaviour!(repeated_column_is_refused, |env| {
    setup(env);
    let (code, report) = env.import("contacts", &fixture("repeated_column.csv"), &[]);
    assert_eq!(code, 2);
    assert!(
        report["refused"]
            .as_str()
            .unwrap_or_default()
            .contains("repeated column 'first_name' (columns 2 and 3)"),
        "{report}"
    );
    assert_eq!(env.export("contacts"), format!("{HEADER}\n"));
});

behaviour!(rows_with_the_wrong_field_count, |env| {
    check(
        env,
        Case {
            fixture: "short_row.csv",
            args: &[],
            exit: 1,
            report: counts(4, 2, 0, 0, 2),
            errors: &[
                (3, "(row)", "has 2 fields but the header has 3"),
                (4, "(row)", "has 4 fields but the header has 3"),
            ],
            export: "ann@example.com,Ann,Lee,,,,,,,,\ndee@example.com,Dee,Dunn,,,,,,,,\n",
        },
    );
});

behaviour!(invalid_emails_are_rejected, |env| {
    check(
        env,
        Case {
            fixture: "bad_email.csv",
            args: &[],
            exit: 1,
            report: counts(8, 2, 0, 0, 6),
            errors: &[
                (3, "email", "'@'"),
                (4, "email", ""),
                (5, "email", ""),
                (6, "email", "test"),
                (7, "email", ""),
                (8, "email", ""),
            ],
            export: "ann@example.com,Ann,,,,,,,,,\ngus@例え.jp,IDN,,,,,,,,,\n",
        },
    );
});

behaviour!(unknown_labels_and_ids_are_rejected, |env| {
    check(env, Case {
        fixture: "unknown_label.csv",
        args: &[],
        exit: 1,
        report: counts(4, 2, 0, 0, 2),
        errors: &[(2, "labels", "there is no label 'Nope'"), (3, "labels_id", "no label with id 99")],
        export: "carl@example.com,,,,Trial,2,,,,,\ndee@example.com,,,,Demo:Marketing:Trial,3:1:2,,,,,\n",
    });
});

behaviour!(case_variant_label_gets_a_hint, |env| {
    check(
        env,
        Case {
            fixture: "case_variant_label.csv",
            args: &[],
            exit: 1,
            report: counts(2, 0, 0, 0, 2),
            errors: &[
                (2, "labels", "did you mean 'Marketing'?"),
                (3, "labels", "did you mean 'Marketing'?"),
            ],
            export: "",
        },
    );
});

behaviour!(values_must_fit_the_field_type, |env| {
    check(
        env,
        Case {
            fixture: "bad_values.csv",
            args: &[],
            exit: 1,
            report: counts(10, 1, 0, 0, 9),
            errors: &[
                (2, "plan", "use one of: Free, Pro, Enterprise"),
                (3, "plan", "did you mean 'Pro'?"),
                (4, "seats", "format the column as Text"),
                (5, "seats", "thousands separators"),
                (6, "renewal", "not a calendar day"),
                (7, "renewal", "YYYY-MM-DD"),
                (8, "vip", "true/false"),
                (10, "company_id", "there is no company 7"),
                (11, "company_id", "not a company id"),
            ],
            export: "a8@example.com,,,,,,,-0.5,2024-02-29,true,ok\n",
        },
    );
});

behaviour!(
    a_missing_company_named_by_many_rows_rejects_each_until_it_exists,
    |env| {
        // The id is looked up once a batch, not once a row: every row naming
        // it is still rejected with its own line, and once the company exists
        // the same rows go in.
        let f = env.write(
            "missing-company.csv",
            "email,company_id\na@example.com,1\nb@example.com,1\nc@example.com,1\nd@example.com,\n",
        );
        for batch in ["1", "4"] {
            let (code, report) = env.import("contacts", &f, &["--batch-size", batch]);
            assert_eq!(code, 1, "{report}");
            assert_eq!(report["rejected"], json!(3), "{report}");
            let lines: Vec<_> = report["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| {
                    e["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("there is no company 1;"))
                })
                .map(|e| e["line"].clone())
                .collect();
            assert_eq!(lines, [json!(2), json!(3), json!(4)], "{report}");
        }
        env.ok(&["companies", "add", "Acme"]);
        let (code, report) = env.import("contacts", &f, &[]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["created"], json!(3), "{report}");
    }
);

behaviour!(repeated_emails_apply_in_order_and_are_counted, |env| {
    setup(env);
    let outcomes = env.path("outcomes.csv");
    let (code, report) = env.import(
        "contacts",
        &fixture("repeated_emails.csv"),
        &["--outcomes", outcomes.to_str().unwrap_or_default()],
    );
    assert_eq!(code, 0, "{report}");
    for (k, v) in [
        ("rows", 5),
        ("created", 2),
        ("updated", 2),
        ("unchanged", 1),
        ("repeated", 3),
    ] {
        assert_eq!(report[k], json!(v), "{k}: {report}");
    }
    assert_eq!(
        std::fs::read_to_string(&outcomes).unwrap_or_default(),
        "line,email,outcome,message\n2,ann@example.com,created,\n3,bob@example.com,created,\n\
         4,ann@example.com,updated,\n5,ann@example.com,updated,\n6,bob@example.com,unchanged,\n"
    );
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\nann@example.com,Annie,Lee,,Marketing:Trial,1:2,,2,,,\nbob@example.com,Bob,,,,,,,,,\n")
    );
});

behaviour!(empty_cells_leave_values_unchanged, |env| {
    setup(env);
    let (code, _) = env.import("contacts", &fixture("update_full.csv"), &[]);
    assert_eq!(code, 0);
    let (code, report) = env.import("contacts", &fixture("update_empty_cells.csv"), &[]);
    assert_eq!(code, 0);
    assert_eq!(
        (report["unchanged"].clone(), report["updated"].clone()),
        (json!(1), json!(1)),
        "{report}"
    );
    assert_eq!(
        env.export("contacts"),
        format!(
            "{HEADER}\nann@example.com,Ann,Leigh,1,Marketing,1,Pro,10,2025-01-31,true,keep me\n"
        )
    );
});

behaviour!(
    blank_rows_are_skipped_and_unnamed_columns_must_stay_empty,
    |env| {
        check(
            env,
            Case {
                fixture: "blank_lines.csv",
                args: &[],
                exit: 1,
                report: counts(2, 1, 0, 0, 1),
                errors: &[(6, "column 3", "has no name in the header")],
                export: "ann@example.com,Ann,Lee,,,,,,,,\n",
            },
        );
    }
);

behaviour!(foreign_exports_import_with_map_and_ignore, |env| {
    setup(env);
    let f = fixture("google_export.csv");
    let (code, report) = env.import("contacts", &f, &[]);
    assert_eq!(code, 2, "{report}");
    let (code, report) = env.import(
        "contacts",
        &f,
        &[
            "--map",
            "E-mail 1 - Value=email",
            "--map",
            "Given Name=first_name",
            "--ignore-unknown-columns",
        ],
    );
    assert_eq!(code, 0, "{report}");
    let ignored: Vec<&str> = report["ignored_columns"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["column"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ignored, ["Name", "Phone 1 - Value", "Notes"]);
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\nann@example.com,Ann,,,,,,,,,\n")
    );
});

behaviour!(export_imports_back_as_a_no_op, |env| {
    setup(env);
    for f in [
        "basic.csv",
        "quoted_newlines.csv",
        "unknown_label.csv",
        "windows1252.csv",
        "bad_values.csv",
    ] {
        env.import("contacts", &fixture(f), &[]);
    }
    let first = env.export("contacts");
    let exported = env.write("export.csv", &first);
    let (code, report) = env.import("contacts", &exported, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["unchanged"], report["rows"], "{report}");
    assert_eq!(
        report["rows"],
        json!(7),
        "seven distinct contacts: {report}"
    );
    assert_eq!(
        env.export("contacts"),
        first,
        "importing the export changes nothing"
    );
    // Into a fresh database with the same labels, companies and fields:
    // the same export, byte for byte.
    let fresh = Env::new(env.backend, "export_fresh").expect("a second database");
    setup(&fresh);
    let (code, report) = fresh.import("contacts", &exported, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["created"], json!(7), "{report}");
    assert_eq!(
        fresh.export("contacts"),
        first,
        "the export imports back whole"
    );
});

// ---- options ----

fn csv(env: &Env, name: &str, body: &str) -> PathBuf {
    env.write(name, body)
}

behaviour!(on_existing_skip_only_creates, |env| {
    setup(env);
    env.import(
        "contacts",
        &csv(env, "a.csv", "email,first_name\nann@example.com,Ann\n"),
        &[],
    );
    let f = csv(
        env,
        "b.csv",
        "email,first_name\nann@example.com,Changed\nbob@example.com,Bob\nbob@example.com,Bobby\n",
    );
    let (code, report) = env.import("contacts", &f, &["--on-existing", "skip"]);
    assert_eq!(code, 0);
    assert_eq!(report["created"], json!(1), "{report}");
    assert_eq!(report["unchanged"], json!(2), "{report}");
    assert_eq!(report["repeated"], json!(1), "{report}");
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\nann@example.com,Ann,,,,,,,,,\nbob@example.com,Bob,,,,,,,,,\n")
    );
});

behaviour!(keep_protects_columns_of_existing_contacts, |env| {
    setup(env);
    env.import(
        "contacts",
        &csv(
            env,
            "a.csv",
            "email,first_name,labels,plan\nann@example.com,Ann,Marketing,Free\n",
        ),
        &[],
    );
    let f = csv(env, "b.csv", "email,first_name,labels,plan\nann@example.com,Annie,Trial,Pro\nbob@example.com,Bob,Trial,Pro\n");
    let (code, report) = env.import("contacts", &f, &["--keep", "labels", "--keep", "plan"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\nann@example.com,Annie,,,Marketing,1,Free,,,,\nbob@example.com,Bob,,,Trial,2,Pro,,,,\n")
    );
    let (code, report) = env.import("contacts", &f, &["--keep", "phone"]);
    assert_eq!(code, 2);
    assert!(
        report["refused"]
            .as_str()
            .unwrap_or_default()
            .contains("--keep 'phone'"),
        "{report}"
    );
});

behaviour!(labels_are_added_or_replaced, |env| {
    setup(env);
    env.import(
        "contacts",
        &csv(
            env,
            "a.csv",
            "email,labels\nann@example.com,Marketing:Demo\n",
        ),
        &[],
    );
    env.import(
        "contacts",
        &csv(env, "b.csv", "email,labels\nann@example.com,Trial\n"),
        &[],
    );
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\nann@example.com,,,,Demo:Marketing:Trial,3:1:2,,,,,\n")
    );
    let (_, report) = env.import(
        "contacts",
        &csv(env, "c.csv", "email,labels\nann@example.com,Trial\n"),
        &["--replace-labels"],
    );
    assert_eq!(report["updated"], json!(1), "{report}");
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\nann@example.com,,,,Trial,2,,,,,\n")
    );
    let (_, report) = env.import(
        "contacts",
        &csv(env, "d.csv", "email,labels\nann@example.com,\n"),
        &["--replace-labels"],
    );
    assert_eq!(
        report["unchanged"],
        json!(1),
        "an empty labels cell leaves labels alone: {report}"
    );
});

behaviour!(create_labels_creates_missing_names_never_ids, |env| {
    setup(env);
    let f = csv(env, "a.csv", "email,labels,labels_id\nann@example.com,New One:Marketing,\nbob@example.com,new one,\ncarl@example.com,,42\n");
    let (code, report) = env.import("contacts", &f, &["--create-labels"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["created"], json!(1), "{report}");
    // 'new one' is a case variant of the 'New One' the first row created:
    // never created, the exact name is named.
    assert_eq!(report["errors"][0]["line"], json!(3), "{report}");
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("write 'New One'")),
        "{report}"
    );
    assert_eq!(report["errors"][1]["line"], json!(4), "{report}");
    assert_eq!(report["created_labels"], json!(["New One"]), "{report}");
    let labels: Value =
        serde_json::from_str(&env.ok(&["labels", "list", "--json"])).unwrap_or_default();
    let names: Vec<&str> = labels
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert_eq!(names, ["Marketing", "Trial", "Demo", "New One"]);
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\nann@example.com,,,,Marketing:New One,1:4,,,,,\n")
    );
});

behaviour!(atomic_writes_nothing_when_a_row_is_rejected, |env| {
    setup(env);
    let f = csv(
        env,
        "a.csv",
        "email,first_name\nann@example.com,Ann\nbad,X\nbob@example.com,Bob\n",
    );
    let (code, report) = env.import("contacts", &f, &["--atomic", "--batch-size", "1"]);
    assert_ne!(code, 0, "{report}");
    assert_eq!(
        (
            report["rejected"].clone(),
            report["created"].clone(),
            report["committed"].clone()
        ),
        (json!(1), json!(0), json!(0)),
        "{report}"
    );
    assert_eq!(env.export("contacts"), format!("{HEADER}\n"));
    let good = csv(
        env,
        "b.csv",
        "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n",
    );
    let (code, report) = env.import("contacts", &good, &["--atomic", "--batch-size", "1"]);
    assert_eq!((code, report["created"].clone()), (0, json!(2)), "{report}");
});

behaviour!(dry_run_reports_and_writes_nothing, |env| {
    setup(env);
    env.import(
        "contacts",
        &csv(env, "a.csv", "email,first_name\nann@example.com,Ann\n"),
        &[],
    );
    let f = csv(env, "b.csv", "email,first_name,labels\nann@example.com,Annie,\nann@example.com,Annie,\nbob@example.com,Bob,Brand New\nbad,,\n");
    let outcomes = env.path("o.csv");
    let (code, report) = env.import(
        "contacts",
        &f,
        &[
            "--dry-run",
            "--create-labels",
            "--batch-size",
            "1",
            "--outcomes",
            outcomes.to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["dry_run"], json!(true));
    assert!(
        report.get("id").is_none(),
        "a dry run is not recorded: {report}"
    );
    for (k, v) in [
        ("created", 1),
        ("updated", 1),
        ("unchanged", 1),
        ("rejected", 1),
        ("repeated", 1),
    ] {
        assert_eq!(report[k], json!(v), "{k}: {report}");
    }
    assert_eq!(
        std::fs::read_to_string(&outcomes).unwrap_or_default(),
        "line,email,outcome,message\n2,ann@example.com,updated,\n3,ann@example.com,unchanged,\n4,bob@example.com,created,\n5,bad,rejected,\"the email has no '@'; write it as mailbox@domain, e.g. 'jane@example.com'\"\n"
    );
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\nann@example.com,Ann,,,,,,,,,\n")
    );
    assert_eq!(
        env.ok(&["labels", "list"]).lines().count(),
        3,
        "no label was created"
    );
});

behaviour!(rejects_file_holds_the_original_rows, |env| {
    setup(env);
    let f = csv(env, "a.csv", "Email Address,first_name,labels\nann@example.com,Ann,\n\" bad \",\"Quoted, name\",\nbob@example.com,Bob,Nope\n");
    let rejects = env.path("rejects.csv");
    let (code, _) = env.import(
        "contacts",
        &f,
        &[
            "--map",
            "Email Address=email",
            "--rejects",
            rejects.to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap_or_default(),
        "Email Address,first_name,labels\n bad ,\"Quoted, name\",\nbob@example.com,Bob,Nope\n",
        "the original header and values (quoted where CSV needs it)"
    );
});

behaviour!(standard_input_imports, |env| {
    setup(env);
    let r = env.run_with_stdin(
        &["import", "contacts", "-", "--json"],
        "email,first_name,last_name,labels\nann@example.com,\"Ann, \"\"A.\"\"\",Lee,Trial\nzoë@example.com,Zoë,\"two\nlines\",\n"
            .as_bytes(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(r.stdout.trim()).unwrap_or_default();
    assert_eq!(report["created"], json!(2));
    assert_eq!(report["kind"], json!("contacts"));
    assert!(report["id"].as_i64().is_some(), "{report}");
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\nann@example.com,\"Ann, \"\"A.\"\"\",Lee,,Trial,2,,,,,\nzoë@example.com,Zoë,\"two\nlines\",,,,,,,,\n"),
        "the rows read from standard input"
    );
});

behaviour!(human_report_and_exit_codes, |env| {
    setup(env);
    let f = csv(
        env,
        "a.csv",
        "email,first_name\nann@example.com,Ann\nbad,X\n",
    );
    let r = env.run(&["import", "contacts", f.to_str().unwrap_or_default()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("created 1") && r.stdout.contains("line 3, column email"),
        "{}",
        r.stdout
    );
    let r = env.run(&["import", "contacts", "no-such-file.csv"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no-such-file.csv"), "{}", r.stderr);
});

behaviour!(invalid_utf8_is_refused_naming_line_and_flag, |env| {
    setup(env);
    // UTF-8 text ("Zoë") with one stray byte: not windows-1252, not UTF-8.
    let f = env.write(
        "bad.csv",
        b"email,first_name\nann@example.com,Zo\xc3\xab\nbob@example.com,B\xffb\n",
    );
    let (code, report) = env.import("contacts", &f, &[]);
    assert_eq!(code, 2, "{report}");
    let m = report["refused"].as_str().unwrap_or_default();
    assert!(
        m.contains("line 3") && m.contains("--encoding windows-1252"),
        "{m}"
    );
    assert_eq!(env.export("contacts"), format!("{HEADER}\n"));
});

behaviour!(undo_deletes_created_and_restores_updated, |env| {
    setup(env);
    env.import(
        "contacts",
        &csv(env, "a.csv", "email,first_name\nann@example.com,Ann\n"),
        &[],
    );
    let (_, report) = env.import(
        "contacts",
        &csv(
            env,
            "b.csv",
            "email,first_name,labels\nann@example.com,Annie,Trial\nbob@example.com,Bob,\n",
        ),
        &[],
    );
    let id = report["id"].as_i64().unwrap_or_default().to_string();
    let list = env.ok(&["imports", "list", "--json"]);
    assert!(list.contains("\"status\":\"succeeded\""), "{list}");
    env.ok(&["imports", "undo", &id]);
    assert_eq!(
        env.export("contacts"),
        format!("{HEADER}\nann@example.com,Ann,,,,,,,,,\n")
    );
    let r = env.run(&["imports", "undo", &id]);
    assert_eq!(r.code, 2, "a second undo is refused");
});

behaviour!(
    undo_refuses_when_a_later_import_changed_the_contact,
    |env| {
        setup(env);
        let (_, first) = env.import(
            "contacts",
            &csv(env, "a.csv", "email,first_name\nann@example.com,Ann\n"),
            &[],
        );
        env.import(
            "contacts",
            &csv(env, "b.csv", "email,first_name\nann@example.com,Annie\n"),
            &[],
        );
        let id = first["id"].as_i64().unwrap_or_default().to_string();
        let r = env.run(&["imports", "undo", &id]);
        assert_eq!(r.code, 2);
        assert!(
            r.stderr.contains("ann@example.com") && r.stderr.contains("--force"),
            "{}",
            r.stderr
        );
        env.ok(&["imports", "undo", &id, "--force"]);
        assert_eq!(env.export("contacts"), format!("{HEADER}\n"));
    }
);

behaviour!(a_killed_import_leaves_whole_batches_and_converges, |env| {
    setup(env);
    let (rows, batch, commits) = (5_000, 250, 4);
    let mut body = String::from("email,first_name,labels,seats\n");
    for i in 0..rows {
        body.push_str(&format!("user{i}@example.com,Name{i},Trial:Demo,{i}\n"));
    }
    let f = env.write("big.csv", &body);
    let path = f.to_str().unwrap_or_default();
    // Paused after exactly `commits` committed batches (one batch per
    // transaction on both backends), then killed.
    let batch_arg = batch.to_string();
    let mut child = env
        .cmd()
        .args(["import", "contacts", path, "--batch-size", &batch_arg])
        .env("ROSTER_TEST_COMMIT_ROWS", &batch_arg)
        .env("ROSTER_TEST_PAUSE", format!("commit:{commits}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    crate::support::wait_for_pause(&mut child, &format!("commit {commits}"));
    child.kill().expect("kill the import");
    let status = child.wait().expect("wait");
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "died from SIGKILL: {status}");
    }
    // What was committed is whole batches from the start of the file,
    // every row complete.
    let partial = env.export("contacts");
    let mut committed: Vec<usize> = partial
        .lines()
        .skip(1)
        .map(|line| {
            let i: usize = line
                .trim_start_matches("user")
                .split('@')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a row of the file: {line}"));
            assert_eq!(
                line,
                format!("user{i}@example.com,Name{i},,,Demo:Trial,3:2,,{i},,,"),
                "a half-written row"
            );
            i
        })
        .collect();
    committed.sort_unstable();
    assert!(
        !committed.is_empty() && committed.len() < rows,
        "0 < committed ({}) < all ({rows})",
        committed.len()
    );
    assert_eq!(
        committed,
        (0..commits * batch).collect::<Vec<_>>(),
        "exactly the first {commits} batches of {batch} rows"
    );
    let (code, report) = env.import("contacts", &f, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["unchanged"], json!(commits * batch), "{report}");
    assert_eq!(report["created"], json!(rows - commits * batch), "{report}");
    let reference = Env::new(env.backend, "killed_reference").expect("a second database");
    setup(&reference);
    reference.import("contacts", &f, &[]);
    assert_eq!(
        env.export("contacts"),
        reference.export("contacts"),
        "importing again converges"
    );
});

behaviour!(the_readme_example_imports_as_shown, |env| {
    // What examples/demo.sh (the README's first command) does, on the debug binary.
    env.ok(&["companies", "add", "Acme Inc."]);
    env.ok(&["companies", "add", "Globex"]);
    env.ok(&["labels", "add", "Marketing"]);
    env.ok(&[
        "fields",
        "add",
        "plan",
        "--type",
        "select",
        "--options",
        "Free,Pro,Enterprise",
        "--name",
        "Plan",
    ]);
    env.ok(&[
        "fields", "add", "seats", "--type", "number", "--name", "Seats",
    ]);
    env.ok(&[
        "fields",
        "add",
        "renewal",
        "--type",
        "date",
        "--name",
        "Renewal date",
    ]);
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/contacts.csv");
    let (code, report) = env.import("contacts", &example, &["--create-labels"]);
    assert_eq!(code, 1, "{report}");
    for (k, v) in [
        ("rows", 8),
        ("created", 4),
        ("updated", 1),
        ("rejected", 3),
        ("repeated", 1),
    ] {
        assert_eq!(report[k], json!(v), "{k}: {report}");
    }
    assert_eq!(
        env.export("contacts"),
        "email,first_name,last_name,company_id,labels,labels_id,plan,seats,renewal\n\
         ann.lee@example.com,Ann,Lee,1,Demo:Marketing:Trial,5:1:2,Pro,12,2025-03-31\n\
         bob@example.org,Bob,\"Smith, Jr.\",,VIP,3,Enterprise,250,\n\
         chloé.martin@exemple.fr,Chloé,Martin,2,Newsletter,4,Free,,\n\
         dimitri@пример.рф,Дмитрий,Иванов,,,,Pro,3,2025-12-01\n",
        "the README's contacts, as the README shows them"
    );
});

/// Cells a spreadsheet would run as formulas, as an attacker would write
/// them in a file or a message: `(file, default export, --formula-safe)`.
pub const FORMULA_FILE: &str = "email,first_name,last_name,labels,note,seats\n\
ann@example.com,=1+2,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",-Risky,@SUM(A1),-5\n\
bob@example.com,Bob,+Lee,,plain,7\n";
pub const FORMULA_EXPORT: &str = "email,first_name,last_name,company_id,labels,labels_id,plan,seats,renewal,vip,note\n\
ann@example.com,=1+2,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",,-Risky,4,,-5,,,@SUM(A1)\n\
bob@example.com,Bob,+Lee,,,,,7,,,plain\n";
pub const FORMULA_SAFE_EXPORT: &str = "email,first_name,last_name,company_id,labels,labels_id,plan,seats,renewal,vip,note\n\
ann@example.com,'=1+2,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",,'-Risky,4,,'-5,,,'@SUM(A1)\n\
bob@example.com,Bob,'+Lee,,,,,7,,,plain\n";

behaviour!(
    export_is_exact_by_default_and_formula_safe_on_request,
    |env| {
        setup(env);
        assert_eq!(env.ok(&["labels", "add", "--", "-Risky"]).trim(), "4");
        let f = env.write("formulas.csv", FORMULA_FILE);
        let (code, report) = env.import("contacts", &f, &[]);
        assert_eq!(code, 0, "{report}");
        // The default is the exact round trip: the values as they were written,
        // and importing the export back changes nothing.
        assert_eq!(env.export("contacts"), FORMULA_EXPORT);
        let back = env.write("back.csv", FORMULA_EXPORT);
        let (code, report) = env.import("contacts", &back, &[]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["unchanged"], 2, "{report}");
        // For a spreadsheet: every cell starting with = + - @ gets a leading '.
        assert_eq!(
            env.ok(&["export", "contacts", "--formula-safe"]),
            FORMULA_SAFE_EXPORT
        );
        let users = env.write(
        "users.csv",
        "email,first_name,last_name,password\n=x@example.com,@Ann,-Lee,secret-pass\nann@example.com,=A1,Lee,secret-pass\n",
    );
        let (code, report) = env.import("users", &users, &[]);
        // '=' is an ordinary character of an address's local part.
        assert_eq!(code, 0, "{report}");
        assert_eq!(
            env.ok(&["export", "users", "--formula-safe"]),
            "email,first_name,last_name,active\n'=x@example.com,'@Ann,'-Lee,true\nann@example.com,'=A1,Lee,true\n"
        );
        assert_eq!(
            env.export("users"),
            "email,first_name,last_name,active\n=x@example.com,@Ann,-Lee,true\nann@example.com,=A1,Lee,true\n"
        );
    }
);
