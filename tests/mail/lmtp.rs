//! The LMTP door: a real `roster serve --lmtp 127.0.0.1:0`, driven by real
//! clients — Python's smtplib.LMTP, swaks, and raw sockets for what
//! clients do wrong (stopping mid-message, going silent, pipelining).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::behaviour;
use crate::common::{contacts, fixture, standard_setup};
use crate::support::sql_execute;
use crate::support::Env;

/// A running `roster serve` with its LMTP listener.
struct Lmtp<'a> {
    env: &'a Env,
    child: Child,
    host: String,
    port: u16,
}

impl Drop for Lmtp<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl<'a> Lmtp<'a> {
    fn start(env: &'a Env, args: &[&str]) -> Lmtp<'a> {
        let log = std::fs::File::create(env.path("server.log")).expect("a log file");
        let data = env.path("data").display().to_string();
        let mut child = env
            .cmd()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data])
            .args(["--lmtp", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start roster serve");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut lmtp = None;
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                panic!(
                    "roster serve did not start:\n{}",
                    std::fs::read_to_string(env.path("server.log")).unwrap_or_default()
                );
            }
            if let Some(a) = line.trim().strip_prefix("roster LMTP listening on ") {
                lmtp = Some(a.to_string());
            }
            if line.starts_with("roster listening on ") {
                break;
            }
        }
        let addr = lmtp.expect("the LMTP address was printed");
        let (host, port) = addr.rsplit_once(':').expect("host:port");
        Lmtp {
            env,
            child,
            host: host.to_string(),
            port: port.parse().expect("a port"),
        }
    }

    fn connect(&self) -> Conn {
        let s = TcpStream::connect((self.host.as_str(), self.port)).expect("connect to LMTP");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut c = Conn {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
        };
        assert!(c.line().starts_with("220 "), "greeting");
        c
    }

    /// Runs the Python smtplib.LMTP client script; returns its JSON.
    fn python(&self, args: &[&str]) -> Value {
        let script = self.env.write("client.py", PYTHON_CLIENT);
        let out = Command::new("python3")
            .arg(&script)
            .arg(&self.host)
            .arg(self.port.to_string())
            .args(args)
            .output()
            .expect("python3 is installed (.ci/run installs it)");
        assert!(
            out.status.success(),
            "the Python client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// Runs swaks over LMTP; returns (exit status, transcript).
    fn swaks(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new("swaks")
            .args(["--protocol", "LMTP", "--server"])
            .arg(format!("{}:{}", self.host, self.port))
            .args(["--helo", "client.example.net", "--timeout", "20"])
            .args(args)
            .output()
            .expect("swaks is installed (.ci/run installs it)");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

/// A raw LMTP connection.
struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn send(&mut self, text: &[u8]) {
        self.w.write_all(text).expect("send");
    }
    /// One reply line, without CRLF ("" at the end of the connection).
    fn line(&mut self) -> String {
        let mut s = String::new();
        self.r.read_line(&mut s).expect("read a reply");
        s.trim_end().to_string()
    }
    /// One whole (possibly multi-line) reply.
    fn reply(&mut self) -> String {
        let mut all = Vec::new();
        loop {
            let l = self.line();
            let last = l.len() < 4 || l.as_bytes()[3] != b'-';
            all.push(l);
            if last {
                return all.join("\n");
            }
        }
    }
}

const PYTHON_CLIENT: &str = r#"
import json, smtplib, sys
host, port, mode, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
msg = open(path, "rb").read()
s = smtplib.LMTP(host, port)
code, _ = s.ehlo()
out = {"lhlo": code, "features": sorted(s.esmtp_features)}
if mode == "send":
    out["mail"] = s.mail("sender@example.net")[0]
    accepted, out["rcpt"] = [], {}
    for r in sys.argv[5].split(","):
        c, _ = s.rcpt(r)
        out["rcpt"][r] = c
        if c == 250:
            accepted.append(r)
    c, m = s.data(msg)
    replies = [[c, m.decode()]]
    for _ in accepted[1:]:
        c, m = s.getreply()
        replies.append([c, m.decode()])
    out["data"] = replies
elif mode == "size":
    c, m = s.mail("sender@example.net", ["SIZE=%d" % len(msg)])
    out["mail"] = [c, m.decode()]
out["noop"] = s.noop()[0]
s.quit()
print(json.dumps(out))
"#;

behaviour!(lmtp_with_python_smtplib, |env| {
    standard_setup(env);
    let srv = Lmtp::start(env, &["--max-message-bytes", "20000"]);
    // Several recipients: two mailboxes, an alias and an unknown one.
    let path = env.write("m.eml", fixture("utf8_encoded_words.eml"));
    let out = srv.python(&[
        "send",
        &path.display().to_string(),
        "support@example.com,nobody@example.com,sales@example.com,HELP@example.com",
    ]);
    assert_eq!(out["lhlo"], 250);
    for f in ["pipelining", "enhancedstatuscodes", "size"] {
        assert!(
            out["features"].as_array().unwrap().iter().any(|x| x == f),
            "{f}: {out}"
        );
    }
    assert_eq!(out["mail"], 250);
    assert_eq!(out["rcpt"]["nobody@example.com"], 550, "{out}");
    assert_eq!(out["rcpt"]["support@example.com"], 250, "{out}");
    assert_eq!(out["rcpt"]["HELP@example.com"], 250, "{out}");
    let data = out["data"]
        .as_array()
        .expect("one reply per accepted recipient");
    assert_eq!(data.len(), 3, "{out}");
    for d in data {
        assert_eq!(d[0], 250, "{out}");
    }
    assert!(data[0][1].as_str().unwrap().contains("captured 2"), "{out}");
    assert_eq!(out["noop"], 250);
    let all = contacts(env);
    assert_eq!(all["zoe@example.com"], ("Zoë".into(), "Maïa".into()));
    assert_eq!(all["jurgen@example.de"], ("Jürgen".into(), "Groß".into()));

    // SIZE over the limit is refused at MAIL.
    let big = env.write("big.eml", vec![b'x'; 30_000]);
    let out = srv.python(&["size", &big.display().to_string()]);
    assert_eq!(out["mail"][0], 552, "{out}");
    assert_eq!(out["noop"], 250, "the session goes on: {out}");

    // Dot-stuffing is undone: the message arrives byte for byte, so the
    // pipe door later sees the very same message (same digest, no
    // Message-ID) and calls it a duplicate.
    let dotted = b"From: Olga Dot <olga@example.com>\r\nTo: support@example.com\r\nSubject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n";
    let path = env.write("dots.eml", dotted);
    let out = srv.python(&["send", &path.display().to_string(), "support@example.com"]);
    assert_eq!(out["data"][0][0], 250, "{out}");
    let r = env.run_with_stdin(
        &["mail", "deliver", "--mailbox", "support", "--json"],
        dotted,
    );
    let piped: Value = serde_json::from_str(r.stdout.trim()).expect("JSON");
    assert_eq!(piped["duplicate"], true, "the LMTP copy differed: {piped}");
});

behaviour!(lmtp_with_swaks, |env| {
    standard_setup(env);
    let srv = Lmtp::start(env, &["--max-message-bytes", "20000"]);
    let path = env.write("m.eml", fixture("latin1_last_first.eml"));
    let data = format!("@{}", path.display());
    let (code, transcript) = srv.swaks(&[
        "--from",
        "sender@example.net",
        "--to",
        "support@example.com,ghost@example.com,sales@example.com",
        "--data",
        &data,
        "--pipeline",
    ]);
    assert!(transcript.contains("PIPELINING"), "{transcript}");
    assert!(
        transcript.contains("550 5.1.1 <ghost@example.com>"),
        "{transcript}"
    );
    let accepted = transcript.matches("250 2.0.0 <").count();
    assert_eq!(
        accepted, 2,
        "one reply per accepted recipient: {transcript}"
    );
    let _ = code; // swaks reports the refused recipient in its status
    let all = contacts(env);
    assert_eq!(all["jose@example.es"], ("José".into(), "González".into()));
    assert_eq!(all["jane.doe@example.com"], ("Jane".into(), "Doe".into()));

    // An oversized message (no SIZE announced) is read to its end and
    // refused with 552 for each recipient.
    let mut big = fixture("shift_jis.eml");
    for _ in 0..400 {
        big.extend_from_slice(
            b"0123456789012345678901234567890123456789012345678901234567890123456789\r\n",
        );
    }
    let path = env.write("big.eml", big);
    let data = format!("@{}", path.display());
    let (code, transcript) = srv.swaks(&[
        "--from",
        "sender@example.net",
        "--to",
        "support@example.com,sales@example.com",
        "--data",
        &data,
    ]);
    assert_ne!(code, 0, "{transcript}");
    assert_eq!(transcript.matches("552 5.3.4").count(), 2, "{transcript}");
    assert!(!contacts(env).contains_key("taro@example.jp"));
});

behaviour!(lmtp_pipelined_raw_session, |env| {
    standard_setup(env);
    let srv = Lmtp::start(env, &[]);
    let mut c = srv.connect();
    // Everything up to DATA in one write, as a pipelining client sends it.
    c.send(b"LHLO raw.example.net\r\nMAIL FROM:<p@example.net> SIZE=500\r\nRCPT TO:<support@example.com>\r\nRCPT TO:<ghost@example.com>\r\nRCPT TO:<sales@example.com>\r\nDATA\r\n");
    let lhlo = c.reply();
    assert!(
        lhlo.starts_with("250-")
            && lhlo.contains("250-PIPELINING")
            && lhlo.contains("ENHANCEDSTATUSCODES"),
        "{lhlo}"
    );
    assert!(c.reply().starts_with("250 2.1.0"));
    assert!(c.reply().starts_with("250 2.1.5"));
    assert!(c.reply().starts_with("550 5.1.1"));
    assert!(c.reply().starts_with("250 2.1.5"));
    assert!(c.reply().starts_with("354 "));
    let mut m = fixture("iso_2022_jp.eml");
    m.extend_from_slice(b".\r\nNOOP\r\nRSET\r\nHELO x\r\nQUIT\r\n");
    c.send(&m);
    assert!(c
        .reply()
        .starts_with("250 2.0.0 <support@example.com> captured 1"));
    assert!(
        c.reply()
            .starts_with("250 2.0.0 <sales@example.com> captured 0"),
        "the same sender was captured by support already"
    );
    assert!(c.reply().starts_with("250 2.0.0"), "NOOP");
    assert!(c.reply().starts_with("250 2.0.0"), "RSET");
    assert!(c.reply().starts_with("500 5.5.1"), "HELO is not LMTP");
    assert!(c.reply().starts_with("221 2.0.0"));
    assert_eq!(c.line(), "", "closed after QUIT");
    assert_eq!(
        contacts(env)["hanako@example.jp"],
        ("鈴木".into(), "花子".into())
    );

    // Out of order and malformed commands.
    let mut c = srv.connect();
    c.send(b"MAIL FROM:<a@example.net>\r\n");
    assert!(c.reply().starts_with("503 "));
    c.send(b"LHLO x\r\n");
    c.reply();
    c.send(b"RCPT TO:<support@example.com>\r\n");
    assert!(c.reply().starts_with("503 "));
    c.send(b"MAIL FROM:<a@example.net>\r\nDATA\r\n");
    assert!(c.reply().starts_with("250 "));
    assert!(
        c.reply().starts_with("503 "),
        "DATA without a valid recipient"
    );
    let long = format!("NOOP {}\r\n", "A".repeat(10_000));
    c.send(long.as_bytes());
    assert!(c.reply().starts_with("500 5.5.2"), "an overlong line");
    c.send(b"NOOP\r\n");
    assert!(c.reply().starts_with("250 "));
});

behaviour!(lmtp_clients_that_stop_or_go_silent, |env| {
    standard_setup(env);
    let srv = Lmtp::start(env, &["--lmtp-timeout-secs", "1"]);
    // A client that stops in the middle of DATA: nothing is captured.
    let mut c = srv.connect();
    c.send(b"LHLO x\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n");
    c.reply();
    c.reply();
    c.reply();
    assert!(c.reply().starts_with("354"));
    let m = fixture("missing_from.eml");
    c.send(&m[..m.len() / 2]);
    drop(c);
    // A client that goes silent mid-DATA is told 421 and disconnected.
    let mut c = srv.connect();
    c.send(b"LHLO x\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n");
    for _ in 0..4 {
        c.reply();
    }
    c.send(&m[..m.len() / 2]);
    let started = Instant::now();
    assert!(c.reply().starts_with("421 4.4.2"));
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut rest = Vec::new();
    let _ = c.r.read_to_end(&mut rest);
    assert!(rest.is_empty());
    // And one that never says anything.
    let mut c = srv.connect();
    assert!(c.reply().starts_with("421 4.4.2"));
    assert!(
        !contacts(env).contains_key("carol@example.net"),
        "half a message captured nothing"
    );
    // The listener still serves.
    let mut c = srv.connect();
    c.send(b"LHLO x\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n");
    for _ in 0..4 {
        c.reply();
    }
    let mut whole = m.clone();
    whole.extend_from_slice(b".\r\n");
    c.send(&whole);
    assert!(c.reply().starts_with("250 2.0.0"));
    assert!(contacts(env).contains_key("carol@example.net"));
});

behaviour!(lmtp_database_unavailable_is_temporary, |env| {
    standard_setup(env);
    let srv = Lmtp::start(env, &[]);
    let mut c = srv.connect();
    c.send(b"LHLO x\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<support@example.com>\r\n");
    c.reply();
    c.reply();
    assert!(c.reply().starts_with("250 2.1.5"));
    // The database breaks between RCPT and DATA, then before the next RCPT.
    sql_execute(
        env,
        "DROP TABLE mail_messages; DROP TABLE mailbox_addresses;",
    );
    c.send(b"DATA\r\n");
    assert!(c.reply().starts_with("354"));
    let mut m = fixture("shift_jis.eml");
    m.extend_from_slice(b".\r\n");
    c.send(&m);
    let r = c.reply();
    assert!(r.starts_with("451 4.3.0"), "{r}");
    c.send(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<support@example.com>\r\n");
    c.reply();
    let r = c.reply();
    assert!(r.starts_with("451 4.3.0"), "{r}");
});
