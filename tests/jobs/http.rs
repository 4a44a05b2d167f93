//! Imports over HTTP against real `roster serve` processes on 127.0.0.1:0:
//! the whole flow against the CLI, multipart, the size limit, options,
//! cancel, the event stream, a killed server, and (PostgreSQL) two servers
//! sharing one queue.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Auth, Client, Resp};
use crate::support::{Backend, Env};
use crate::{comparable, fixture, read};

/// A `roster serve` process of a test.
pub struct Node {
    child: Child,
    pub base: String,
    log: std::path::PathBuf,
}

impl Node {
    /// `roster serve` on `env`'s database with its own data folder `data`,
    /// extra environment variables and flags.
    pub fn start(env: &Env, data: &str, vars: &[(&str, &str)], args: &[&str]) -> Node {
        let log = env.path(&format!("{data}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("a log file");
        let dir = env.path(data).display().to_string();
        let mut cmd = env.cmd();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &dir])
            .args(args)
            .env("ROSTER_LOG", "info,tower_http=warn")
            .env("ROSTER_JOB_LEASE_SECS", "3")
            .stdout(Stdio::piped())
            .stderr(file);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start roster serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let base = match line.trim().strip_prefix("roster listening on ") {
            Some(b) => b.to_string(),
            None => {
                let _ = child.kill();
                panic!("roster serve did not start: {line:?}\n{}", read(&log));
            }
        };
        Node { child, base, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, and wait for the process to end.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "roster serve did not stop on SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn client(&self, token: &str) -> Client {
        Client::new(&self.base, Auth::Bearer(token.to_string()))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Creates the admin; returns a bearer token.
pub fn admin(env: &Env) -> String {
    let r = env.run_with_stdin(
        &["users", "create-admin", "boss@example.com"],
        b"correct horse",
    );
    assert_eq!(r.code, 0, "create-admin: {}", r.stderr);
    env.ok(&["tokens", "create", "--user", "boss@example.com"])
        .trim()
        .to_string()
}

pub fn upload(c: &Client, query: &str, body: &[u8]) -> Resp {
    c.request(
        "POST",
        &format!("/api/imports?{query}"),
        &[("content-type", "text/csv")],
        Some(body),
    )
}

/// Uploads and requires 202; returns the job's id.
pub fn queue(c: &Client, query: &str, body: &[u8]) -> i64 {
    let r = upload(c, query, body);
    assert_eq!(r.status, 202, "upload: {}", r.body);
    let job = r.json();
    assert_eq!(job["status"], "queued", "{job}");
    job["id"].as_i64().expect("an id")
}

pub fn job(c: &Client, id: i64) -> Value {
    let r = c.get(&format!("/api/imports/{id}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

pub fn wait(c: &Client, id: i64, what: &str, until: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let j = job(c, id);
        if until(&j) {
            return j;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "import {id} never got to '{what}': {j}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn finished(c: &Client, id: i64) -> Value {
    wait(c, id, "finished", |j| {
        matches!(
            j["status"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        )
    })
}

fn file(c: &Client, id: i64, name: &str) -> String {
    let r = c.get(&format!("/api/imports/{id}/{name}"));
    assert_eq!(r.status, 200, "{name}: {}", r.body);
    r.body
}

/// The CLI's import of `csv` into a database of its own: (report, outcomes,
/// rejects, export).
fn cli_reference(backend: Backend, csv: &Path) -> (Value, String, String, String) {
    let cli = Env::new(backend, "cli_reference").expect("backend");
    let (rejects, outcomes) = (cli.path("rejects.csv"), cli.path("outcomes.csv"));
    let (_, report) = cli.import(
        "contacts",
        csv,
        &[
            "--rejects",
            &rejects.display().to_string(),
            "--outcomes",
            &outcomes.display().to_string(),
        ],
    );
    (
        report,
        read(&outcomes),
        read(&rejects),
        cli.export("contacts"),
    )
}

fn uploads_left(env: &Env, data: &str) -> Vec<String> {
    std::fs::read_dir(env.path(data).join("uploads"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

behaviour!(upload_runs_as_the_cli_does, |env| {
    let body = fixture(1500);
    let csv = env.write("people.csv", &body);
    let (report, outcomes, rejects, export) = cli_reference(env.backend, &csv);
    let token = admin(env);
    let node = Node::start(env, "data", &[], &[]);
    let c = node.client(&token);
    let id = queue(&c, "kind=contacts", body.as_bytes());
    let done = finished(&c, id);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(comparable(&done["report"]), comparable(&report));
    assert_eq!(done["progress"]["bytes"], body.len());
    assert_eq!(done["progress"]["total_bytes"], body.len());
    assert_eq!(done["progress"]["rows"], 1500);
    assert!(done["started_at"].is_string() && done["finished_at"].is_string());
    assert_eq!(file(&c, id, "outcomes.csv"), outcomes);
    assert_eq!(file(&c, id, "rejects.csv"), rejects);
    let errors = file(&c, id, "errors.csv");
    let mut lines = errors.lines();
    assert_eq!(lines.next(), Some("line,column,value,message"));
    assert_eq!(lines.count() as u64, report["rejected"].as_u64().unwrap());
    assert_eq!(env.export("contacts"), export);
    // The list has it, newest first; the worker's copy of the upload is
    // removed once the job has ended (right after its final status).
    let list = c.get("/api/imports").json();
    assert_eq!(list[0]["id"], id);
    let gone_by = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !uploads_left(env, "data").is_empty() && std::time::Instant::now() < gone_by {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        uploads_left(env, "data").is_empty(),
        "{:?}",
        uploads_left(env, "data")
    );
    // Undo over HTTP takes it all back.
    let r = c.request("POST", &format!("/api/imports/{id}/undo"), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(job(&c, id)["status"], "undone");
    assert_eq!(
        env.export("contacts"),
        "email,first_name,last_name,company_id,labels,labels_id\n"
    );
});

behaviour!(multipart_upload_file_field, |env| {
    let token = admin(env);
    let node = Node::start(env, "data", &[], &[]);
    let c = node.client(&token);
    let csv = "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n";
    let boundary = "XyZzY1234";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"team.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let r = c.request(
        "POST",
        "/api/imports?kind=contacts",
        &[(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )],
        Some(form.as_bytes()),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let done = finished(&c, id);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["file_name"], "team.csv");
    assert_eq!(done["report"]["created"], 2);
    assert_eq!(done["progress"]["total_bytes"], csv.len());
    // A form without the field is refused, naming it.
    let r = c.request(
        "POST",
        "/api/imports?kind=contacts",
        &[(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )],
        Some(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--{boundary}--\r\n").as_bytes()),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.json()["message"].as_str().unwrap().contains("'file'"),
        "{}",
        r.body
    );
});

behaviour!(upload_over_limit_is_413, |env| {
    let token = admin(env);
    let node = Node::start(env, "data", &[], &["--max-upload-bytes", "1000"]);
    let c = node.client(&token);
    let body = fixture(200);
    assert!(body.len() > 1000);
    let r = upload(&c, "kind=contacts", body.as_bytes());
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.code(), "payload_too_large");
    assert!(r.body.contains("--max-upload-bytes"), "{}", r.body);
    assert!(
        uploads_left(env, "data").is_empty(),
        "{:?}",
        uploads_left(env, "data")
    );
    assert_eq!(c.get("/api/imports").json(), serde_json::json!([]));
    // Multipart counts the same way.
    let form = format!(
        "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n\r\n{body}\r\n--b--\r\n"
    );
    let r = c.request(
        "POST",
        "/api/imports?kind=contacts",
        &[("content-type", "multipart/form-data; boundary=b")],
        Some(form.as_bytes()),
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        uploads_left(env, "data").is_empty(),
        "{:?}",
        uploads_left(env, "data")
    );
});

behaviour!(bad_option_is_400_naming_it, |env| {
    let token = admin(env);
    let node = Node::start(env, "data", &[], &[]);
    let c = node.client(&token);
    let body = b"email\nann@example.com\n";
    for (query, named) in [
        ("kind=contacts&on_existing=maybe", "on_existing"),
        ("kind=contacts&dry-run=1", "dry-run"),
        ("kind=contacts&dry_run=perhaps", "dry_run"),
        ("kind=contacts&delimiter=x", "delimiter"),
        ("kind=contacts&encoding=klingon", "encoding"),
        ("kind=contacts&map=nothing", "map"),
        ("kind=people", "kind"),
        ("dry_run=1", "kind"),
    ] {
        let r = upload(&c, query, body);
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert!(
            r.json()["message"].as_str().unwrap().contains(named),
            "{query}: {}",
            r.body
        );
    }
    assert_eq!(c.get("/api/imports").json(), serde_json::json!([]));
});

behaviour!(cancel_keeps_what_committed, |env| {
    let token = admin(env);
    let node = Node::start(
        env,
        "data",
        &[("ROSTER_TEST_PAUSE_AFTER_BATCHES", "2")],
        &[],
    );
    let c = node.client(&token);
    let id = queue(&c, "kind=contacts&batch_size=100", fixture(1500).as_bytes());
    wait(&c, id, "two batches committed", |j| {
        j["report"]["rows"] == 200
    });
    let r = c.request("POST", &format!("/api/imports/{id}/cancel"), &[], None);
    assert_eq!(r.status, 202, "{}", r.body);
    let done = finished(&c, id);
    assert_eq!(done["status"], "cancelled", "{done}");
    let report = &done["report"];
    assert_eq!(report["committed"], 200, "{report}");
    assert_eq!(report["rows"], 200, "{report}");
    assert!(
        report["notes"].to_string().contains("cancelled"),
        "{report}"
    );
    let stored = env.export("contacts").lines().count() as u64 - 1;
    assert_eq!(stored, report["created"].as_u64().unwrap());
    // Over: a second cancel is a conflict.
    let r = c.request("POST", &format!("/api/imports/{id}/cancel"), &[], None);
    assert_eq!(r.status, 409, "{}", r.body);
});

/// `(id, event, data)` of each event of a text/event-stream body.
fn events(body: &str) -> Vec<(i64, String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let (mut id, mut ev, mut data) = (None, String::new(), None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    ev = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = serde_json::from_str(v.trim()).ok();
                }
            }
            Some((id?, ev, data?))
        })
        .collect()
}

behaviour!(events_have_ids_and_resume, |env| {
    let token = admin(env);
    let node = Node::start(
        env,
        "data",
        &[
            ("ROSTER_TEST_PAUSE_AFTER_BATCHES", "3"),
            ("ROSTER_TEST_PAUSE_SECS", "1.5"),
        ],
        &[],
    );
    let c = node.client(&token);
    let id = queue(&c, "kind=contacts&batch_size=100", fixture(1500).as_bytes());
    let r = c.get(&format!("/api/imports/{id}/events"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let all = events(&r.body);
    assert!(all.len() >= 2, "{}", r.body);
    for w in all.windows(2) {
        assert!(w[0].0 < w[1].0, "ids must increase: {}", r.body);
    }
    let (last_id, last_event, last) = all.last().unwrap().clone();
    assert_eq!(last_event, "status");
    assert_eq!(last["status"], "succeeded");
    assert!(all[..all.len() - 1].iter().all(|e| e.1 == "progress"));
    // Reconnecting after the first event: only later ones, same ending.
    let first = all[0].0;
    let again = c.request(
        "GET",
        &format!("/api/imports/{id}/events"),
        &[("last-event-id", &first.to_string())],
        None,
    );
    let rest = events(&again.body);
    assert!(
        !rest.is_empty() && rest.iter().all(|e| e.0 > first),
        "{}",
        again.body
    );
    assert_eq!(rest.last().unwrap().0, last_id);
    // After the final event there is nothing more: the stream just ends.
    let done = c.request(
        "GET",
        &format!("/api/imports/{id}/events"),
        &[("last-event-id", &last_id.to_string())],
        None,
    );
    assert!(events(&done.body).is_empty(), "{}", done.body);
});

behaviour!(killed_server_resumes_import, |env| {
    let body = fixture(1500);
    let csv = env.write("people.csv", &body);
    let (report, outcomes, rejects, export) = cli_reference(env.backend, &csv);
    let token = admin(env);
    let mut node = Node::start(
        env,
        "data",
        &[("ROSTER_TEST_PAUSE_AFTER_BATCHES", "3")],
        &[],
    );
    let c = node.client(&token);
    let id = queue(&c, "kind=contacts&batch_size=100", body.as_bytes());
    wait(&c, id, "three batches committed", |j| {
        j["report"]["rows"] == 300
    });
    node.kill();
    let node = Node::start(env, "data", &[], &[]);
    let c = node.client(&token);
    let done = finished(&c, id);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(comparable(&done["report"]), comparable(&report));
    assert_eq!(file(&c, id, "outcomes.csv"), outcomes);
    assert_eq!(file(&c, id, "rejects.csv"), rejects);
    assert_eq!(env.export("contacts"), export);
    assert!(node.log().contains("resume=true"), "{}", node.log());
});

behaviour!(sigterm_leaves_import_to_resume, |env| {
    let body = fixture(1500);
    let csv = env.write("people.csv", &body);
    let (report, outcomes, _, export) = cli_reference(env.backend, &csv);
    let token = admin(env);
    let mut node = Node::start(
        env,
        "data",
        &[("ROSTER_TEST_PAUSE_AFTER_BATCHES", "2")],
        &[],
    );
    let c = node.client(&token);
    let id = queue(&c, "kind=contacts&batch_size=100", body.as_bytes());
    wait(&c, id, "two batches committed", |j| {
        j["report"]["rows"] == 200
    });
    let exit = node.terminate();
    let mut store = roster_store::open(&env.url).expect("open");
    let stopped = store.job(id).expect("the job");
    // Normally `interrupted`; a server that died before recording it
    // leaves `running`, which the next start settles the same way.
    assert!(
        matches!(stopped.status.as_str(), "interrupted" | "running"),
        "{exit:?}\n{}",
        node.log()
    );
    assert_eq!(stopped.checkpoint.expect("a checkpoint").rows, 200);
    let node = Node::start(env, "data", &[], &[]);
    let c = node.client(&token);
    let done = finished(&c, id);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(comparable(&done["report"]), comparable(&report));
    assert_eq!(file(&c, id, "outcomes.csv"), outcomes);
    assert_eq!(env.export("contacts"), export);
});

#[test]
fn two_postgres_servers_share_the_queue_and_take_over_a_dead_ones_job() {
    let Some(env) = Env::new(Backend::Postgres, "two_servers") else {
        return;
    };
    let token = admin(&env);
    // Three jobs, two servers: each job runs once.
    let a = Node::start(&env, "a", &[], &[]);
    let b = Node::start(&env, "b", &[], &[]);
    let ids: Vec<i64> = (0..3)
        .map(|n| {
            let mut s = String::from("email,first_name\n");
            for i in 0..400 {
                s.push_str(&format!("p{n}x{i}@example.com,P{i}\n"));
            }
            let via = if n % 2 == 0 { &a } else { &b };
            queue(
                &via.client(&token),
                "kind=contacts&batch_size=50",
                s.as_bytes(),
            )
        })
        .collect();
    let c = a.client(&token);
    for id in &ids {
        let done = finished(&c, *id);
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["report"]["created"], 400, "{done}");
        let outcomes = file(&b.client(&token), *id, "outcomes.csv");
        assert_eq!(outcomes.lines().count(), 401, "each row once");
    }
    let logs = a.log() + &b.log();
    for id in &ids {
        let runs = logs
            .matches(&format!("import started import={id} "))
            .count();
        assert_eq!(runs, 1, "import {id} ran {runs} times:\n{logs}");
    }
    assert_eq!(env.export("contacts").lines().count(), 1 + 1200);
    drop(b);

    // A job whose server dies is finished by the other one.
    let body = fixture(1500);
    let csv = env.write("people.csv", &body);
    let (report, outcomes, _, _) = cli_reference(Backend::Postgres, &csv);
    drop(a);
    let mut a = Node::start(&env, "a", &[("ROSTER_TEST_PAUSE_AFTER_BATCHES", "2")], &[]);
    let ca = a.client(&token);
    let before = env.export("contacts");
    let id = queue(&ca, "kind=contacts&batch_size=100", body.as_bytes());
    wait(&ca, id, "two batches committed", |j| {
        j["report"]["rows"] == 200
    });
    let b = Node::start(&env, "b", &[], &[]);
    a.kill();
    let cb = b.client(&token);
    let done = finished(&cb, id);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(comparable(&done["report"]), comparable(&report));
    assert_eq!(file(&cb, id, "outcomes.csv"), outcomes);
    assert!(
        b.log().contains(&format!(
            "import started import={id} kind=contacts resume=true"
        )),
        "{}",
        b.log()
    );
    assert_ne!(env.export("contacts"), before);
}

behaviour!(result_files_are_formula_safe_on_request, |env| {
    let token = admin(env);
    let node = Node::start(env, "data", &[], &[]);
    let c = node.client(&token);
    let body = "email,first_name\n=cmd|' /C calc'!A0,@x\nann@example.com,-Ann\n";
    let id = queue(&c, "kind=contacts", body.as_bytes());
    let done = finished(&c, id);
    assert_eq!(done["report"]["rejected"], 1, "{done}");
    // By default the files hold the values exactly as written (rejects.csv
    // is meant to be fixed and imported again).
    assert_eq!(
        file(&c, id, "rejects.csv"),
        "email,first_name\n=cmd|' /C calc'!A0,@x\n"
    );
    assert_eq!(
        file(&c, id, "rejects.csv?formula_safe=true"),
        "email,first_name\n'=cmd|' /C calc'!A0,'@x\n"
    );
    let errors = file(&c, id, "errors.csv?formula_safe=true");
    let mut lines = errors.lines();
    assert_eq!(lines.next(), Some("line,column,value,message"));
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("2,email,'=cmd|' /C calc'!A0,")),
        "{errors}"
    );
    assert!(file(&c, id, "errors.csv").contains("\n2,email,=cmd|' /C calc'!A0,"));
    let outcomes = file(&c, id, "outcomes.csv?formula_safe=1");
    assert!(
        outcomes.contains("\n2,'=cmd|' /C calc'!A0,rejected,"),
        "{outcomes}"
    );
    assert!(
        outcomes.contains("\n3,ann@example.com,created,"),
        "{outcomes}"
    );
    let r = c.get(&format!("/api/imports/{id}/errors.csv?formula_safe=maybe"));
    assert_eq!(r.status, 400, "{}", r.body);
});
