//! Companies, labels and fields, as scripts use them.

use serde_json::{json, Value};

use crate::behaviour;

behaviour!(add_prints_the_id_alone_and_list_json, |env| {
    assert_eq!(env.ok(&["companies", "add", "Acme Inc."]), "1\n");
    assert_eq!(env.ok(&["companies", "add", "Globex"]), "2\n");
    assert_eq!(env.ok(&["labels", "add", "Marketing"]), "1\n");
    assert_eq!(
        env.ok(&["labels", "add", "marketing"]),
        "2\n",
        "label names are case-sensitive"
    );
    let r = env.run(&["labels", "add", "Marketing"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    assert_eq!(
        env.ok(&[
            "fields",
            "add",
            "plan",
            "--type",
            "select",
            "--options",
            "Free,Pro",
            "--name",
            "Plan tier"
        ]),
        "1\n"
    );
    assert_eq!(
        env.ok(&["fields", "add", "seats", "--type", "number"]),
        "2\n"
    );
    let companies: Value =
        serde_json::from_str(&env.ok(&["companies", "list", "--json"])).unwrap_or_default();
    assert_eq!(
        companies,
        json!([{"id": 1, "name": "Acme Inc."}, {"id": 2, "name": "Globex"}])
    );
    let labels: Value =
        serde_json::from_str(&env.ok(&["labels", "list", "--json"])).unwrap_or_default();
    assert_eq!(
        labels,
        json!([{"id": 1, "name": "Marketing"}, {"id": 2, "name": "marketing"}])
    );
    let fields: Value =
        serde_json::from_str(&env.ok(&["fields", "list", "--json"])).unwrap_or_default();
    assert_eq!(
        fields,
        json!([
            {"id": 1, "name": "Plan tier", "variable_name": "plan", "type": "select", "options": ["Free", "Pro"]},
            {"id": 2, "name": "seats", "variable_name": "seats", "type": "number", "options": []}
        ])
    );
});

behaviour!(bad_catalog_input_is_refused_clearly, |env| {
    for (args, fragment) in [
        (
            &["fields", "add", "Plan", "--type", "text"][..],
            "not a valid variable name",
        ),
        (
            &["fields", "add", "email", "--type", "text"][..],
            "standard column",
        ),
        (
            &["fields", "add", "plan", "--type", "select"][..],
            "needs its options",
        ),
        (
            &["fields", "add", "n", "--type", "number", "--options", "a"][..],
            "only applies to --type select",
        ),
        (&["labels", "add", "a:b"][..], "cannot contain ':'"),
        (&["labels", "add", " padded "][..], "surrounding spaces"),
        (&["companies", "add", ""][..], "empty"),
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.contains(fragment), "{args:?}: {}", r.stderr);
    }
    env.ok(&["fields", "add", "plan", "--type", "text"]);
    let r = env.run(&["fields", "add", "plan", "--type", "text"]);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
});

#[test]
fn a_new_database_is_created_where_asked() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .current_dir(dir.path())
        .env_remove("ROSTER_DATABASE_URL")
        .args(["init"])
        .output()
        .expect("run");
    assert!(r.status.success());
    assert!(
        dir.path().join("roster.db").exists(),
        "sqlite://roster.db in the working directory is the default"
    );
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .current_dir(dir.path())
        .args(["--database", "sqlite://other.db", "init"])
        .output()
        .expect("run");
    assert!(r.status.success());
    assert!(dir.path().join("other.db").exists());
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["--database", "mysql://x/y", "init"])
        .output()
        .expect("run");
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("unknown scheme"));
}
