//! The users import, passwords and sign-in.

use serde_json::{json, Value};

use crate::behaviour;
use crate::support::{Backend, Env};

fn verify(env: &Env, email: &str, password: &str) -> bool {
    let r = env.run_with_stdin(
        &["users", "verify", email],
        format!("{password}\n").as_bytes(),
    );
    assert!(r.code == 0 || r.code == 1, "verify failed: {}", r.stderr);
    r.code == 0
}

behaviour!(excel_users_file_imports_and_signs_in, |env| {
    let f = env.write(
        "users.csv",
        [&b"\xef\xbb\xbf"[..], b"email,first_name,last_name,password,active\r\nAnn@Example.com,Ann,Lee,s3cret-ann,true\r\nbob@example.com,Bob,,p\xc3\xa4ssw\xc3\xb6rd,TRUE\r\ncid@example.com,Cid,,cid-secret,false\r\n"].concat(),
    );
    let (code, report) = env.import("users", &f, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["created"], json!(3));
    assert!(verify(env, "ann@example.com", "s3cret-ann"));
    assert!(
        verify(env, "ANN@example.com", "s3cret-ann"),
        "emails match case-insensitively"
    );
    assert!(verify(env, "bob@example.com", "pässwörd"));
    assert!(!verify(env, "ann@example.com", "wrong"));
    assert!(
        !verify(env, "cid@example.com", "cid-secret"),
        "an inactive user cannot sign in"
    );
    assert!(!verify(env, "nobody@example.com", "whatever"));
    assert_eq!(
        env.export("users"),
        "email,first_name,last_name,active\nann@example.com,Ann,Lee,true\nbob@example.com,Bob,,true\ncid@example.com,Cid,,false\n"
    );
    // Importing the same file again changes nothing (the passwords verify).
    let (_, report) = env.import("users", &f, &[]);
    assert_eq!(report["unchanged"], json!(3), "{report}");
    let users: Value =
        serde_json::from_str(&env.ok(&["users", "list", "--json"])).unwrap_or_default();
    assert_eq!(users[0]["role"], json!("agent"));
    assert_eq!(users.as_array().map(Vec::len), Some(3));
});

behaviour!(user_rules, |env| {
    let f = env.write(
        "users.csv",
        "email,first_name,password,active,role\n\
         ann@example.com,Ann,secret1,true,admin\n\
         ben@example.com,Ben,short,true,\n\
         cid@example.com,Cid,,true,\n\
         dee@example.com,Dee,secret4,maybe,\n\
         eve@example.com,Eve,secret5,,boss\n\
         fay@example.com,Fay,ééééé,,\n\
         gus@example.com,Gus,éééééé,,\n",
    );
    let (code, report) = env.import("users", &f, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        (report["created"].clone(), report["rejected"].clone()),
        (json!(2), json!(5)),
        "{report}"
    );
    let errors: Vec<(u64, String)> = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["line"].as_u64().unwrap_or(0),
                e["column"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (3, "password".to_string()),
            (4, "password".into()),
            (5, "active".into()),
            (6, "role".into()),
            (7, "password".into())
        ]
    );
    let users: Value =
        serde_json::from_str(&env.ok(&["users", "list", "--json"])).unwrap_or_default();
    assert_eq!(users[0]["role"], json!("admin"));
    assert!(verify(env, "gus@example.com", "éééééé"));
    // An empty password keeps the existing one; --keep active never (de)activates.
    let g = env.write(
        "g.csv",
        "email,first_name,password,active\nann@example.com,Annie,,false\n",
    );
    let (_, report) = env.import("users", &g, &["--keep", "active"]);
    assert_eq!(report["updated"], json!(1), "{report}");
    assert!(verify(env, "ann@example.com", "secret1"));
    let (_, report) = env.import("users", &g, &[]);
    assert_eq!(report["updated"], json!(1), "{report}");
    assert!(!verify(env, "ann@example.com", "secret1"), "deactivated");
    let (_, report) = env.import(
        "users",
        &env.write("h.csv", "email,password\nann@example.com,newpass\n"),
        &["--on-existing", "skip"],
    );
    assert_eq!(report["unchanged"], json!(1), "{report}");
});

behaviour!(
    password_hash_from_another_system_is_upgraded_at_first_sign_in,
    |env| {
        let bcrypt = bcrypt::hash("hunter22", 4).expect("bcrypt");
        let f = env.write(
        "users.csv",
        format!("email,first_name,password_hash\nold@example.com,Old,{bcrypt}\nbad@example.com,Bad,$md5$abc\nbad2@example.com,Bad,{}\n", &bcrypt[..20]),
    );
        let (code, report) = env.import("users", &f, &[]);
        assert_eq!(code, 1, "{report}");
        assert_eq!(
            (report["created"].clone(), report["rejected"].clone()),
            (json!(1), json!(2)),
            "{report}"
        );
        assert!(
            !report.to_string().contains(&bcrypt[7..]),
            "the hash is not echoed: {report}"
        );
        assert!(!verify(env, "old@example.com", "hunter2"));
        assert!(verify(env, "old@example.com", "hunter22"));
        assert!(
            verify(env, "old@example.com", "hunter22"),
            "still signs in after the upgrade"
        );
        if env.backend == Backend::Sqlite {
            let hash = stored_hash(env, "old@example.com");
            assert!(
                hash.starts_with("$argon2id$"),
                "upgraded to Argon2id: {hash}"
            );
        }
    }
);

fn stored_hash(env: &Env, email: &str) -> String {
    let c = rusqlite::Connection::open(env.path("roster.db")).expect("open");
    c.query_row(
        "SELECT password_hash FROM users WHERE email = ?1",
        [email],
        |r| r.get(0),
    )
    .expect("user")
}

behaviour!(clear_text_passwords_never_appear_anywhere, |env| {
    let passwords = [
        "Tr0ub4dor&3",
        "correct horse battery",
        "pässwörd-ünïcode",
        "short",
    ];
    let f = env.write(
        "users.csv",
        format!(
            "email,first_name,password,active\nann@example.com,Ann,{},true\nbob@example.com,Bob,{},maybe\ncid@example.com,Cid,{},true\nbad-email,Dee,{},true\n",
            passwords[0], passwords[1], passwords[2], passwords[3]
        ),
    );
    let rejects = env.path("rejects.csv");
    let outcomes = env.path("outcomes.csv");
    let mut outputs = Vec::new();
    for json in [true, false] {
        let mut args = vec![
            "import",
            "users",
            f.to_str().unwrap_or_default(),
            "--rejects",
            rejects.to_str().unwrap_or_default(),
            "--outcomes",
            outcomes.to_str().unwrap_or_default(),
        ];
        if json {
            args.push("--json");
        }
        let r = env.run(&args);
        assert_eq!(r.code, 1, "{}", r.stderr);
        outputs.push(r.stdout);
        outputs.push(r.stderr);
        outputs.push(std::fs::read_to_string(&rejects).unwrap_or_default());
        outputs.push(std::fs::read_to_string(&outcomes).unwrap_or_default());
    }
    let dry = env.run(&[
        "import",
        "users",
        f.to_str().unwrap_or_default(),
        "--dry-run",
        "--json",
    ]);
    outputs.extend([dry.stdout, dry.stderr]);
    for cmd in [
        &["users", "list", "--json"][..],
        &["export", "users"],
        &["imports", "list", "--json"],
    ] {
        outputs.push(env.ok(cmd));
    }
    if env.backend == Backend::Sqlite {
        for name in ["roster.db", "roster.db-wal"] {
            outputs.push(
                String::from_utf8_lossy(&std::fs::read(env.path(name)).unwrap_or_default())
                    .into_owned(),
            );
        }
    }
    assert!(
        outputs[2].contains("bob@example.com,Bob,,maybe"),
        "the rejected row is there, its password emptied: {}",
        outputs[2]
    );
    assert!(
        outputs[0].contains("password cells of rejected rows were emptied"),
        "{}",
        outputs[0]
    );
    for p in passwords {
        for (i, o) in outputs.iter().enumerate() {
            assert!(!o.contains(p), "password {p:?} leaked into output {i}: {o}");
        }
    }
});

behaviour!(create_admin_reads_the_password_from_stdin, |env| {
    let r = env.run_with_stdin(
        &["users", "create-admin", "Boss@Example.com"],
        b"admin-pass\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "1");
    assert!(verify(env, "boss@example.com", "admin-pass"));
    let users: Value =
        serde_json::from_str(&env.ok(&["users", "list", "--json"])).unwrap_or_default();
    assert_eq!(users[0]["role"], json!("admin"));
    let r = env.run_with_stdin(&["users", "create-admin", "x@example.com"], b"12345\n");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("at least 6 characters"), "{}", r.stderr);
});

#[test]
fn production_uses_production_argon2_parameters() {
    let env = Env::new(Backend::Sqlite, "prod_params").expect("sqlite");
    let mut c = env.cmd();
    c.env_remove("ROSTER_INSECURE_FAST_HASH")
        .args(["users", "create-admin", "boss@example.com"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), b"admin-pass\n")
        .expect("write");
    assert!(child.wait().expect("wait").success());
    let hash = stored_hash(&env, "boss@example.com");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}
