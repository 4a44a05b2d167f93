//! The pipe door, `roster mail deliver --mailbox NAME < message`, with each
//! exit status an MTA acts on: 0 done, 65 refused for good, 75 try later.

use crate::behaviour;
use crate::common::{contacts, fixture, standard_setup};
use crate::support::{Backend, Env};

behaviour!(pipe_exit_statuses, |env| {
    standard_setup(env);
    let deliver = |args: &[&str], message: &[u8]| {
        let mut all = vec!["mail", "deliver"];
        all.extend_from_slice(args);
        env.run_with_stdin(&all, message)
    };
    // 0: captured, with a line saying what happened.
    let r = deliver(&["--mailbox", "support"], &fixture("latin1_last_first.eml"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("captured 2"), "{}", r.stdout);
    // 0: machine mail is delivered fine (and captures nothing).
    let r = deliver(&["--mailbox", "support"], &fixture("bounce.eml"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("machine mail"), "{}", r.stdout);
    // 0: the envelope's null sender marks a bounce even without headers saying so.
    let plain = fixture("shift_jis.eml");
    let r = deliver(&["--mailbox", "support", "--sender", ""], &plain);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("machine mail"), "{}", r.stdout);
    assert!(!contacts(env).contains_key("taro@example.jp"));

    // 65: not an email; empty input; over the size limit.
    for (what, message) in [("binary", fixture("binary.eml")), ("empty", Vec::new())] {
        let r = deliver(&["--mailbox", "support"], &message);
        assert_eq!(r.code, 65, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains("cannot be read as an email"),
            "{what}: {}",
            r.stderr
        );
    }
    let r = deliver(
        &["--mailbox", "support", "--max-message-bytes", "100"],
        &fixture("utf8_encoded_words.eml"),
    );
    assert_eq!(r.code, 65, "{}", r.stderr);
    assert!(
        r.stderr.contains("larger than 100 bytes") && r.stderr.contains("--max-message-bytes"),
        "{}",
        r.stderr
    );
    // A header section past the limits is refused, not parsed.
    let mut many = String::new();
    for i in 0..1500 {
        many.push_str(&format!("X-Filler-{i}: x\r\n"));
    }
    many.push_str("From: a@example.com\r\n\r\nbody\r\n");
    let r = deliver(&["--mailbox", "support"], many.as_bytes());
    assert_eq!(r.code, 65, "{}", r.stderr);
    assert!(r.stderr.contains("header count limit"), "{}", r.stderr);
    let long = format!(
        "From: a@example.com\r\nSubject: {}\r\n\r\nbody\r\n",
        "y".repeat(40_000)
    );
    let r = deliver(&["--mailbox", "support"], long.as_bytes());
    assert_eq!(r.code, 65, "{}", r.stderr);
    assert!(r.stderr.contains("line length limit"), "{}", r.stderr);

    // 75: a mailbox that does not exist (yet) — the MTA keeps the mail.
    let r = deliver(&["--mailbox", "nope"], &fixture("missing_from.eml"));
    assert_eq!(r.code, 75, "{}", r.stderr);
    assert!(r.stderr.contains("roster mailboxes add"), "{}", r.stderr);
    assert!(!contacts(env).contains_key("carol@example.net"));
});

/// The database is down: PostgreSQL on a port nobody listens on.
#[test]
fn pipe_database_down_is_a_temporary_failure() {
    let env = Env::new(Backend::Sqlite, "pipe_db_down").expect("a scratch folder");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("its address").port()
    };
    let r = {
        use std::io::Write;
        let mut child = env
            .cmd()
            .env(
                "ROSTER_DATABASE_URL",
                format!("postgres://postgres@127.0.0.1:{port}/test"),
            )
            .args(["mail", "deliver", "--mailbox", "support"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start roster");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&fixture("utf8_encoded_words.eml"))
            .expect("feed stdin");
        child.wait_with_output().expect("run roster")
    };
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains("cannot connect to PostgreSQL") && stderr.contains("try again"),
        "{stderr}"
    );
    // A bad message is still refused for good while the database is down.
    let r = env
        .cmd()
        .env(
            "ROSTER_DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{port}/test"),
        )
        .args(["mail", "deliver", "--mailbox", "support"])
        .stdin(std::fs::File::open(env.write("bin.eml", fixture("binary.eml"))).expect("open"))
        .output()
        .expect("run roster");
    assert_eq!(r.status.code(), Some(65));
}

behaviour!(mailboxes_commands, |env| {
    standard_setup(env);
    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["mailboxes", "list", "--json"])).expect("JSON");
    assert_eq!(list[0]["name"], "support");
    assert_eq!(list[0]["address"], "support@example.com");
    assert_eq!(list[0]["aliases"], serde_json::json!(["help@example.com"]));
    assert_eq!(list[0]["capture"], "all");
    assert_eq!(list[1]["capture"], "senders");
    // An address routes to one mailbox only; names are unique.
    let r = env.run(&["mailboxes", "add", "other", "--address", "HELP@example.com"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("already belongs to mailbox 'support'"),
        "{}",
        r.stderr
    );
    let r = env.run(&["mailboxes", "add", "support", "--address", "x@example.com"]);
    assert!(
        r.code == 2 && r.stderr.contains("already exists"),
        "{}",
        r.stderr
    );
    let r = env.run(&["mailboxes", "add", "bad", "--address", "not an address"]);
    assert!(
        r.code == 2 && r.stderr.contains("not a valid address"),
        "{}",
        r.stderr
    );
    // Removing keeps the contacts it captured; its addresses are free again.
    let r = env.run_with_stdin(
        &["mail", "deliver", "--mailbox", "support"],
        &fixture("missing_from.eml"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    env.ok(&["mailboxes", "remove", "support"]);
    assert!(contacts(env).contains_key("carol@example.net"));
    env.ok(&["mailboxes", "add", "help", "--address", "help@example.com"]);
    let r = env.run(&["mailboxes", "remove", "nope"]);
    assert!(
        r.code == 2 && r.stderr.contains("no mailbox named 'nope'"),
        "{}",
        r.stderr
    );
});
