//! The capture rules, table-driven over real-world-shaped messages: each
//! case delivers one fixture through `roster mail deliver --json` and
//! checks the counts and exactly which contacts (with which names) appeared.

use serde_json::Value;

use crate::behaviour;
use crate::common::{contacts, fixture, standard_setup};
use crate::support::sql_row;
use crate::support::Env;

struct Case {
    file: &'static str,
    mailbox: &'static str,
    captured: u64,
    skipped: u64,
    /// Contacts this message adds: email, first name, last name.
    new: &'static [(&'static str, &'static str, &'static str)],
    /// Some(reason fragment) for machine mail.
    machine: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        file: "utf8_encoded_words.eml",
        mailbox: "support",
        captured: 2,
        skipped: 1,
        new: &[
            ("jurgen@example.de", "Jürgen", "Groß"),
            ("zoe@example.com", "Zoë", "Maïa"),
        ],
        machine: None,
    },
    Case {
        file: "latin1_last_first.eml",
        mailbox: "support",
        captured: 2,
        skipped: 1,
        new: &[
            ("jane.doe@example.com", "Jane", "Doe"),
            ("jose@example.es", "José", "González"),
        ],
        machine: None,
    },
    Case {
        file: "shift_jis.eml",
        mailbox: "support",
        captured: 1,
        skipped: 1,
        new: &[("taro@example.jp", "山田", "太郎")],
        machine: None,
    },
    Case {
        file: "iso_2022_jp.eml",
        mailbox: "support",
        captured: 1,
        skipped: 1,
        new: &[("hanako@example.jp", "鈴木", "花子")],
        machine: None,
    },
    Case {
        file: "folded_groups.eml",
        mailbox: "support",
        captured: 3,
        skipped: 1,
        new: &[
            ("alice@example.org", "", ""),
            ("bob@example.org", "Bob", "Smith"),
            ("lead@example.org", "Project", "Lead"),
        ],
        machine: None,
    },
    Case {
        file: "missing_from.eml",
        mailbox: "support",
        captured: 1,
        skipped: 1,
        new: &[("carol@example.net", "Carol", "King")],
        machine: None,
    },
    Case {
        file: "same_address_many_headers.eml",
        mailbox: "support",
        captured: 1,
        skipped: 1,
        new: &[("dan@example.com", "Dan", "Brown")],
        machine: None,
    },
    Case {
        // support@ and HELP@ (own address and alias), agent@ (a user),
        // broken@localhost and "nobody" (invalid).
        file: "own_users_invalid.eml",
        mailbox: "support",
        captured: 2,
        skipped: 5,
        new: &[
            ("erin@example.com", "Erin", "Hall"),
            ("ok.person@example.com", "", ""),
        ],
        machine: None,
    },
    Case {
        file: "auto_reply.eml",
        mailbox: "support",
        captured: 0,
        skipped: 2,
        new: &[],
        machine: Some("Auto-Submitted"),
    },
    Case {
        file: "bounce.eml",
        mailbox: "support",
        captured: 0,
        skipped: 2,
        new: &[],
        machine: Some("delivery report"),
    },
    Case {
        file: "mailing_list.eml",
        mailbox: "support",
        captured: 0,
        skipped: 3,
        new: &[],
        machine: Some("Precedence: list"),
    },
    Case {
        file: "no_reply_sender.eml",
        mailbox: "support",
        captured: 0,
        skipped: 2,
        new: &[],
        machine: Some("no-reply"),
    },
    Case {
        // Senders only: From and Reply-To; the Cc'd strangers are not read.
        file: "with_cc.eml",
        mailbox: "sales",
        captured: 2,
        skipped: 0,
        new: &[
            ("hank.home@example.net", "Hank at", "Home"),
            ("hank@example.com", "Hank", "Hill"),
        ],
        machine: None,
    },
    Case {
        // The same message to another mailbox is another capture; this one
        // captures everyone.
        file: "with_cc.eml",
        mailbox: "support",
        captured: 2,
        skipped: 1,
        new: &[
            ("ivy@example.org", "Ivy", "Stranger"),
            ("jack@example.org", "Jack", "Stranger"),
        ],
        machine: None,
    },
    Case {
        file: "truncated.eml",
        mailbox: "support",
        captured: 1,
        skipped: 1,
        new: &[("mona@example.com", "Mona", "Cut")],
        machine: None,
    },
];

fn deliver(env: &Env, mailbox: &str, message: &[u8]) -> Value {
    let r = env.run_with_stdin(
        &["mail", "deliver", "--mailbox", mailbox, "--json"],
        message,
    );
    assert_eq!(r.code, 0, "mail deliver failed: {}", r.stderr);
    serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON outcome ({e}): {}", r.stdout))
}

behaviour!(capture_table, |env| {
    standard_setup(env);
    for case in CASES {
        let before = contacts(env);
        let out = deliver(env, case.mailbox, &fixture(case.file));
        let what = format!("{} to {}: {out}", case.file, case.mailbox);
        assert_eq!(out["captured"], case.captured, "captured, {what}");
        assert_eq!(out["skipped"], case.skipped, "skipped, {what}");
        assert_eq!(out["duplicate"], false, "{what}");
        match case.machine {
            Some(reason) => {
                let got = out["machine"].as_str().unwrap_or_default();
                assert!(got.contains(reason), "machine reason {got:?}, {what}");
            }
            None => assert_eq!(out["machine"], Value::Null, "{what}"),
        }
        let after = contacts(env);
        let added: Vec<(String, String, String)> = after
            .iter()
            .filter(|(email, _)| !before.contains_key(*email))
            .map(|(e, (f, l))| (e.clone(), f.clone(), l.clone()))
            .collect();
        let expected: Vec<(String, String, String)> = case
            .new
            .iter()
            .map(|(e, f, l)| (e.to_string(), f.to_string(), l.to_string()))
            .collect();
        assert_eq!(added, expected, "new contacts, {what}");
        for (email, name) in &before {
            assert_eq!(after.get(email), Some(name), "{email} changed, {what}");
        }
    }
    // Never a contact: the mailboxes' own addresses and the team's.
    let all = contacts(env);
    for email in [
        "support@example.com",
        "help@example.com",
        "sales@example.com",
        "agent@example.com",
    ] {
        assert!(!all.contains_key(email), "{email} became a contact");
    }
});

behaviour!(capture_records_source_mailbox_and_message, |env| {
    standard_setup(env);
    deliver(env, "support", &fixture("utf8_encoded_words.eml"));
    let support_id = env.ok(&["mailboxes", "list", "--json"]);
    let list: Value = serde_json::from_str(&support_id).expect("JSON");
    let id = list
        .as_array()
        .and_then(|a| a.iter().find(|m| m["name"] == "support"))
        .map(|m| m["id"].as_i64().expect("an id"))
        .expect("the support mailbox");
    let row = sql_row(
        env,
        "SELECT source, captured_mailbox, captured_message FROM contacts WHERE email = 'zoe@example.com'",
    );
    assert_eq!(
        row,
        vec![
            Some("email".to_string()),
            Some(id.to_string()),
            Some("utf8-1@mail.example.com".to_string())
        ]
    );
});

behaviour!(same_message_twice_captures_once, |env| {
    standard_setup(env);
    let first = deliver(env, "support", &fixture("utf8_encoded_words.eml"));
    assert_eq!(first["captured"], 2);
    // Someone removes a captured contact's name by hand-editing … then the
    // MTA delivers the same message again (a retry): nothing happens.
    let again = deliver(env, "support", &fixture("utf8_encoded_words.eml"));
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["captured"], 0, "{again}");
    assert_eq!(contacts(env).len(), 2);
    // A message without a Message-ID is known by its bytes.
    let no_id =
        b"From: Nia Noid <nia@example.com>\r\nTo: support@example.com\r\nSubject: x\r\n\r\nhi\r\n";
    assert_eq!(deliver(env, "support", no_id)["captured"], 1);
    assert_eq!(deliver(env, "support", no_id)["duplicate"], true);
});

behaviour!(names_from_imports_are_kept, |env| {
    standard_setup(env);
    let csv = env.write(
        "people.csv",
        "email,first_name,last_name\nkim@example.com,,\nlee@example.com,Lee,Original\n",
    );
    let (code, report) = env.import("contacts", &csv, &[]);
    assert_eq!(code, 0, "{report}");
    let out = deliver(env, "support", &fixture("names_for_imported.eml"));
    assert_eq!(
        (&out["captured"], &out["named"], &out["existing"]),
        (&Value::from(0), &Value::from(1), &Value::from(1)),
        "{out}"
    );
    let all = contacts(env);
    assert_eq!(
        all["kim@example.com"],
        ("Kim".into(), "Changed".into()),
        "kim had no name: capture gives one"
    );
    assert_eq!(
        all["lee@example.com"],
        ("Lee".into(), "Original".into()),
        "lee's imported name stays"
    );
    // An import that runs later may still set names: capture never locks them.
    let csv = env.write(
        "fix.csv",
        "email,first_name,last_name\nkim@example.com,Kimberly,Changed\n",
    );
    let (code, report) = env.import("contacts", &csv, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(contacts(env)["kim@example.com"].0, "Kimberly");
    // And capture does not overwrite that either.
    let again = fixture("names_for_imported.eml");
    let again = String::from_utf8(again)
        .unwrap()
        .replace("names-1@", "names-2@");
    let out = deliver(env, "support", again.as_bytes());
    assert_eq!(out["named"], 0, "{out}");
    assert_eq!(contacts(env)["kim@example.com"].0, "Kimberly");
});

behaviour!(capture_makes_undo_of_an_import_ask_for_force, |env| {
    standard_setup(env);
    let csv = env.write("people.csv", "email,first_name\nkim@example.com,\n");
    let (code, report) = env.import("contacts", &csv, &[]);
    assert_eq!(code, 0, "{report}");
    let id = report["id"].as_i64().expect("an import id").to_string();
    deliver(env, "support", &fixture("names_for_imported.eml"));
    let r = env.run(&["imports", "undo", &id]);
    assert_eq!(
        r.code, 2,
        "a captured name changed the imported contact: {}",
        r.stdout
    );
    assert!(r.stderr.contains("kim@example.com"), "{}", r.stderr);
});

behaviour!(capture_during_an_import, |env| {
    standard_setup(env);
    // 3,000 imported contacts with names; meanwhile 60 messages from 60 of
    // them (other display names) and 60 people the file does not have.
    let mut csv = String::from("email,first_name,last_name\n");
    for i in 0..3000 {
        csv.push_str(&format!("person{i}@example.com,First{i},Last{i}\n"));
    }
    let file = env.write("people.csv", csv);
    let import = env
        .cmd()
        .args([
            "import",
            "contacts",
            &file.display().to_string(),
            "--json",
            "--batch-size",
            "100",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the import");
    for i in 0..60 {
        let n = i * 50;
        let m = format!(
            "From: Mail Name{i} <person{n}@example.com>\r\nTo: support@example.com\r\nCc: New Person{i} <new{i}@example.org>\r\nMessage-ID: <conc-{i}@example.com>\r\n\r\nhi\r\n"
        );
        let out = deliver(env, "support", m.as_bytes());
        assert_eq!(out["duplicate"], false, "{out}");
    }
    let done = import.wait_with_output().expect("the import ran");
    let report: Value = serde_json::from_slice(&done.stdout).expect("a JSON report");
    assert_eq!(done.status.code(), Some(0), "{report}");
    assert_eq!(report["rejected"], 0, "{report}");
    let all = contacts(env);
    for i in 0..3000 {
        let email = format!("person{i}@example.com");
        assert_eq!(
            all.get(&email),
            Some(&(format!("First{i}"), format!("Last{i}"))),
            "{email}: the import's name is the one kept"
        );
    }
    for i in 0..60 {
        assert_eq!(
            all.get(&format!("new{i}@example.org")),
            Some(&("New".to_string(), format!("Person{i}"))),
        );
    }
    assert_eq!(all.len(), 3060);
});
