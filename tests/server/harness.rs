//! A real `roster serve` process on 127.0.0.1:0 over a fresh database
//! (SQLite or PostgreSQL, from the behaviour suite's `Env`), and a small
//! HTTP client for tests.
//!
//! `server!(name, |srv| { … })` makes `name::sqlite` and `name::postgres`,
//! each with a started server whose admin is `ADMIN` / `ADMIN_PASSWORD`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use serde_json::Value;

use crate::support::{Backend, Env};

pub const ADMIN: &str = "boss@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse";

/// A running server and what a test needs to talk to it.
pub struct Server {
    pub env: Env,
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// A bearer token of the admin.
    pub admin_token: String,
}

impl Server {
    /// Creates the admin and a token, then starts `roster serve ARGS`.
    pub fn start(env: Env, args: &[&str]) -> Server {
        let r = env.run_with_stdin(&["users", "create-admin", ADMIN], ADMIN_PASSWORD.as_bytes());
        assert_eq!(r.code, 0, "create-admin failed: {}", r.stderr);
        let admin_token = env
            .ok(&["tokens", "create", "--user", ADMIN, "--name", "tests"])
            .trim()
            .to_string();
        let (child, base) = Self::spawn(&env, args);
        Server {
            env,
            child,
            base,
            admin_token,
        }
    }

    fn spawn(env: &Env, args: &[&str]) -> (Child, String) {
        let log = std::fs::File::create(env.path("server.log")).expect("a log file");
        let data = env.path("data").display().to_string();
        let mut cmd = env.cmd();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data])
            .args(args)
            .env("ROSTER_LOG", "info,tower_http=warn")
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = cmd.spawn().expect("start roster serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("roster listening on ")
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!(
                    "roster serve did not start: {line:?}\n{}",
                    std::fs::read_to_string(env.path("server.log")).unwrap_or_default()
                )
            })
            .to_string();
        (child, base)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.env.path("server.log")).unwrap_or_default()
    }

    /// A client with no credentials.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.base, Auth::None)
    }

    /// A client with a bearer token.
    pub fn with_token(&self, token: &str) -> Client {
        Client::new(&self.base, Auth::Bearer(token.to_string()))
    }

    pub fn admin(&self) -> Client {
        self.with_token(&self.admin_token)
    }

    /// Signs in through `POST /api/session`; the client then sends the
    /// cookie, and the CSRF token on writes.
    pub fn sign_in(&self, email: &str, password: &str) -> Client {
        let mut c = self.anonymous();
        let r = c.post(
            "/api/session",
            &serde_json::json!({"email": email, "password": password}),
        );
        assert_eq!(r.status, 200, "sign-in failed: {}", r.body);
        let cookie = r
            .header("set-cookie")
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_string();
        let csrf = r.json()["csrf_token"]
            .as_str()
            .expect("a CSRF token")
            .to_string();
        c.auth = Auth::Cookie { cookie, csrf };
        c
    }

    /// Creates a user through the API (as the admin); returns its id.
    pub fn create_user(&self, email: &str, password: &str, role: &str) -> i64 {
        let r = self.admin().post(
            "/api/users",
            &serde_json::json!({"email": email, "password": password, "role": role}),
        );
        assert_eq!(r.status, 201, "creating {email}: {}", r.body);
        r.json()["id"].as_i64().expect("an id")
    }

    /// Runs `roster tokens create --user EMAIL`; returns the token.
    pub fn token_for(&self, email: &str) -> String {
        self.env
            .ok(&["tokens", "create", "--user", email])
            .trim()
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
pub enum Auth {
    None,
    Bearer(String),
    /// The session cookie (`name=value`) and its CSRF token.
    Cookie {
        cookie: String,
        csrf: String,
    },
}

/// A blocking HTTP client that never turns a status into an error.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    pub auth: Auth,
    /// Send the CSRF header on cookie writes (tests turn it off).
    pub send_csrf: bool,
}

/// An answer: status, headers, body.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The error code of an error answer.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_string()
    }
}

impl Client {
    pub fn new(base: &str, auth: Auth) -> Client {
        // A fresh connection per request: the server closes a connection
        // whose request body it did not read (a 401/403 before the body),
        // and a pooled one could be reused just as it closes.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .build()
            .into();
        Client {
            agent,
            base: base.to_string(),
            auth,
            send_csrf: true,
        }
    }

    /// Sends METHOD PATH with extra headers and an optional raw body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        let mut b = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        match &self.auth {
            Auth::None => {}
            Auth::Bearer(t) => b = b.header("authorization", format!("Bearer {t}")),
            Auth::Cookie { cookie, csrf } => {
                b = b.header("cookie", cookie.as_str());
                if self.send_csrf && !matches!(method, "GET" | "HEAD") {
                    b = b.header("x-csrf-token", csrf.as_str());
                }
            }
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let result = match body {
            Some(bytes) => self.agent.run(b.body(bytes.to_vec()).expect("a request")),
            None => self.agent.run(b.body(()).expect("a request")),
        };
        let mut res = result.unwrap_or_else(|e| panic!("{method} {path} failed: {e}"));
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let body = res
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("{method} {path}: reading the body failed: {e}"));
        Resp {
            status: res.status().as_u16(),
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, &[], None)
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.request("DELETE", path, &[], None)
    }

    fn send_json(&self, method: &str, path: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        self.request(method, path, &h, Some(body.to_string().as_bytes()))
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.send_json("POST", path, body, &[])
    }

    pub fn patch(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
        self.send_json("PATCH", path, body, headers)
    }
}

/// Starts a server for a test: with `args` for `roster serve`.
pub fn start(backend: Backend, name: &str, args: &[&str]) -> Option<Server> {
    Env::new(backend, name).map(|env| Server::start(env, args))
}

/// Runs a test body against a real server on every backend:
/// `server!(name, |srv| { … })`, or `server!(name, ["--flag", "v"], |srv| …)`.
#[macro_export]
macro_rules! server {
    ($name:ident, |$srv:ident| $body:block) => {
        $crate::server!($name, [], |$srv| $body);
    };
    ($name:ident, [$($arg:expr),*], |$srv:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body($srv: &$crate::harness::Server) $body
            #[test]
            fn sqlite() {
                let s = $crate::harness::start($crate::support::Backend::Sqlite, stringify!($name), &[$($arg),*])
                    .expect("SQLite is always there");
                body(&s);
            }
            #[test]
            fn postgres() {
                if let Some(s) = $crate::harness::start($crate::support::Backend::Postgres, stringify!($name), &[$($arg),*]) {
                    body(&s);
                }
            }
        }
    };
}
