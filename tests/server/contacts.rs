//! Contacts over HTTP: search, filters and pages against a simple model;
//! writes with the import's rules; 409 on a concurrent edit; bad input.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::harness::{Client, Server};
use crate::server;

/// A contact as the model knows it.
#[derive(Clone, Debug)]
struct Model {
    email: String,
    first: String,
    last: String,
    company: Option<i64>,
    labels: Vec<i64>,
}

impl Model {
    fn matches(&self, q: Option<&str>, label: Option<i64>, company: Option<i64>) -> bool {
        let q_ok = q.is_none_or(|q| {
            let q = q.to_lowercase();
            self.email.contains(&q)
                || self.first.to_lowercase().contains(&q)
                || self.last.to_lowercase().contains(&q)
        });
        q_ok && label.is_none_or(|l| self.labels.contains(&l))
            && company.is_none_or(|c| self.company == Some(c))
    }
}

const FIRST: &[&str] = &[
    "Ann", "Bob", "ÉLODIE", "Zoë", "Mary-Jo", "Kim", "Ōta", "Lee", "Anna", "Jo",
];
const LAST: &[&str] = &[
    "Smith", "O'Neil", "Müller", "Nguyen", "Bäcker", "Li", "Annan", "Jones",
];
const DOMAINS: &[&str] = &["example.com", "acme.io", "mail.example.org", "bücher.de"];

/// `n` contacts in a CSV file, imported with the CLI (the search index
/// must follow imports), and their model.
fn seed(srv: &Server, n: usize) -> (Vec<Model>, Vec<i64>, Vec<i64>) {
    let admin = srv.admin();
    let labels: Vec<i64> = ["VIP", "Trial", "vip"]
        .iter()
        .map(|name| {
            admin.post("/api/labels", &json!({"name": name})).json()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let companies: Vec<i64> = ["Acme", "Globex"]
        .iter()
        .map(|name| {
            admin.post("/api/companies", &json!({"name": name})).json()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let mut state: u64 = 42;
    let mut rnd = |m: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % m
    };
    let mut models = Vec::new();
    let mut csv = String::from("email,first_name,last_name,company_id,labels_id\n");
    for i in 0..n {
        let first = FIRST[rnd(FIRST.len())].to_string();
        let last = LAST[rnd(LAST.len())].to_string();
        let local = match rnd(4) {
            0 => format!("{}.{}{i}", first.to_lowercase(), rnd(100)),
            1 => format!("x{i}_{}", rnd(1000)),
            2 => format!("zoë{i}"),
            _ => format!("{}{i}", last.to_lowercase().replace('\'', "")),
        };
        let email = format!("{local}@{}", DOMAINS[rnd(DOMAINS.len())]);
        let company = match rnd(3) {
            0 => None,
            k => Some(companies[k - 1]),
        };
        let mut ls: Vec<i64> = labels.iter().copied().filter(|_| rnd(3) == 0).collect();
        ls.sort_unstable();
        csv.push_str(&format!(
            "{email},\"{first}\",\"{last}\",{},{}\n",
            company.map(|c| c.to_string()).unwrap_or_default(),
            ls.iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(":")
        ));
        models.push(Model {
            email,
            first,
            last,
            company,
            labels: ls,
        });
    }
    let file = srv.env.write("contacts.csv", csv);
    let (code, report) = srv.env.import("contacts", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["created"].as_u64(), Some(n as u64), "{report}");
    (models, labels, companies)
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every page of a listing; returns the emails in the order served.
fn walk(c: &Client, query: &str, between_pages: &mut dyn FnMut(usize)) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        assert!(page < 10_000, "the listing never ends");
        let mut path = format!("/api/contacts?{query}");
        if let Some(cur) = &cursor {
            path.push_str(&format!("&cursor={cur}"));
        }
        let r = c.get(&path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let body = r.json();
        for item in body["items"].as_array().unwrap() {
            out.push(item["email"].as_str().unwrap().to_string());
        }
        match body["next"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
        between_pages(page);
    }
    out
}

fn check_listing(srv: &Server, models: &[Model], labels: &[i64], companies: &[i64]) {
    let c = srv.admin();
    type Query<'a> = (Option<&'a str>, Option<i64>, Option<i64>, usize);
    let queries: Vec<Query> = vec![
        (None, None, None, 100),
        (Some("ann"), None, None, 7),
        (Some("ANN"), None, None, 50),
        (Some("élodie"), None, None, 13),
        (Some("zoë"), None, None, 500),
        (Some("o"), None, None, 250),
        (Some("jo"), None, None, 31),
        (Some("üller"), None, None, 20),
        (Some("@acme.io"), None, None, 64),
        // Longer than the trigrams one search asks the index for.
        (Some("@mail.example.org"), None, None, 40),
        (Some("o'neil"), None, None, 9),
        (Some("nothing-matches-this"), None, None, 10),
        (None, Some(labels[0]), None, 33),
        (None, Some(labels[2]), Some(companies[1]), 17),
        (Some("smith"), Some(labels[1]), None, 5),
        (None, None, Some(companies[0]), 200),
    ];
    for (q, label, company, limit) in queries {
        let mut query = format!("limit={limit}");
        if let Some(q) = q {
            query.push_str(&format!("&q={}", pct(q)));
        }
        if let Some(l) = label {
            query.push_str(&format!("&label={l}"));
        }
        if let Some(co) = company {
            query.push_str(&format!("&company={co}"));
        }
        let got = walk(&c, &query, &mut |_| {});
        let mut want: Vec<String> = models
            .iter()
            .filter(|m| m.matches(q, label, company))
            .map(|m| m.email.clone())
            .collect();
        want.sort();
        assert_eq!(got.len(), want.len(), "{query}: count");
        assert_eq!(got, want, "{query}: every match once, in byte order");
    }
}

server!(search_filters_and_pages_follow_the_model, |srv| {
    let (models, labels, companies) = seed(srv, 3000);
    check_listing(srv, &models, &labels, &companies);
});

// The same answers when searches walk the email order instead of the
// index, and when the scan budget cuts pages short.
server!(
    search_without_the_index_gives_the_same_answers,
    [
        "--search-index-candidates",
        "20",
        "--search-scan-budget",
        "300"
    ],
    |srv| {
        let (models, labels, companies) = seed(srv, 2000);
        check_listing(srv, &models, &labels, &companies);
    }
);

server!(pages_stay_whole_while_contacts_are_added, |srv| {
    let (models, _, _) = seed(srv, 1500);
    let c = srv.admin();
    let mut added = Vec::new();
    let mut n = 0;
    let got = walk(&c, "limit=40&q=o", &mut |page| {
        // New contacts on both sides of the cursor, some matching.
        for prefix in ["a", "m", "zz"] {
            n += 1;
            let email = format!("{prefix}o-new{page}-{n}@example.com");
            let r = c.post("/api/contacts", &json!({"email": email}));
            assert_eq!(r.status, 201, "{}", r.body);
            added.push(email);
        }
    });
    let set: BTreeSet<&String> = got.iter().collect();
    assert_eq!(set.len(), got.len(), "no contact twice");
    assert!(got.windows(2).all(|w| w[0] < w[1]), "byte order");
    for m in models.iter().filter(|m| m.matches(Some("o"), None, None)) {
        assert!(set.contains(&m.email), "{} is missing", m.email);
    }
    // Those added after the cursor are found; none is invented.
    for e in &got {
        assert!(
            models.iter().any(|m| &m.email == e) || added.contains(e),
            "{e}"
        );
    }
    assert!(
        got.iter().any(|e| e.starts_with("zzo-new")),
        "contacts added ahead of the cursor appear"
    );
});

server!(contact_crud_with_the_import_rules, |srv| {
    let admin = srv.admin();
    let company = admin
        .post("/api/companies", &json!({"name": "Acme"}))
        .json()["id"]
        .clone();
    let vip = admin.post("/api/labels", &json!({"name": "VIP"})).json()["id"].clone();
    let r = admin.post(
        "/api/fields",
        &json!({"variable_name": "plan", "type": "select", "options": ["Free", "Pro"]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = admin.post(
        "/api/fields",
        &json!({"variable_name": "seats", "type": "number"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    srv.create_user("agent@example.com", "agent-password", "agent");
    let agent = srv.sign_in("agent@example.com", "agent-password");

    let r = agent.post(
        "/api/contacts",
        &json!({
            "email": "  Jörg@BÜCHER.de ", "first_name": " Jörg ", "company_id": company,
            "labels": [vip], "custom": {"plan": "Pro", "seats": "+007.50"}
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let c = r.json();
    assert_eq!(c["email"], "jörg@bücher.de");
    assert_eq!(c["first_name"], "Jörg");
    assert_eq!(c["last_name"], Value::Null);
    assert_eq!(c["labels"], json!([vip]));
    assert_eq!(c["custom"], json!({"plan": "Pro", "seats": "7.5"}));
    assert_eq!(c["source"], "api");
    let id = c["id"].as_i64().unwrap();
    assert!(r.header("etag").is_some());

    // The same email, spelled otherwise, is the same contact.
    let r = agent.post("/api/contacts", &json!({"email": "JÖRG@Bücher.DE"}));
    assert_eq!(
        (r.status, r.code().as_str()),
        (409, "already_exists"),
        "{}",
        r.body
    );

    let r = agent.patch(
        &format!("/api/contacts/{id}"),
        &json!({"last_name": "Ödegaard", "custom": {"plan": null}}),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["last_name"], "Ödegaard");
    assert_eq!(r.json()["custom"], json!({"seats": "7.5"}));
    let r = agent.get(&format!("/api/contacts/{id}"));
    assert_eq!(r.json()["last_name"], "Ödegaard");

    // The export sees the API's writes.
    assert!(srv
        .env
        .export("contacts")
        .contains("jörg@bücher.de,Jörg,Ödegaard"));

    assert_eq!(agent.delete(&format!("/api/contacts/{id}")).status, 204);
    let r = agent.get(&format!("/api/contacts/{id}"));
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    assert_eq!(agent.delete(&format!("/api/contacts/{id}")).status, 404);
    // Agents may not change the catalog or the team.
    assert_eq!(agent.post("/api/labels", &json!({"name": "X"})).status, 403);
    assert_eq!(agent.get("/api/users").status, 403);
});

server!(a_concurrent_edit_is_a_409, |srv| {
    let a = srv.admin();
    let r = a.post(
        "/api/contacts",
        &json!({"email": "shared@example.com", "first_name": "Sam"}),
    );
    let id = r.json()["id"].as_i64().unwrap();
    let path = format!("/api/contacts/{id}");
    // Two agents read the contact.
    let tag1 = a.get(&path).header("etag").unwrap().to_string();
    let tag2 = a.get(&path).header("etag").unwrap().to_string();
    assert_eq!(tag1, tag2);
    // The first saves.
    let r = a.patch(
        &path,
        &json!({"first_name": "Samuel"}),
        &[("if-match", &tag1)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let tag3 = r.header("etag").unwrap().to_string();
    assert_ne!(tag3, tag1);
    // The second, from the old version, is refused, and nothing is lost.
    let r = a.patch(
        &path,
        &json!({"last_name": "Stale"}),
        &[("if-match", &tag2)],
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (409, "edit_conflict"),
        "{}",
        r.body
    );
    let now = a.get(&path).json();
    assert_eq!(now["first_name"], "Samuel");
    assert_eq!(now["last_name"], Value::Null);
    // Read again, retry: accepted.
    let r = a.patch(
        &path,
        &json!({"last_name": "Fresh"}),
        &[("if-match", &tag3)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // An import in between also counts as a change.
    let tag = r.header("etag").unwrap().to_string();
    let file = srv
        .env
        .write("one.csv", "email,first_name\nshared@example.com,Imported\n");
    assert_eq!(srv.env.import("contacts", &file, &[]).0, 0);
    let r = a.patch(&path, &json!({"first_name": "Mine"}), &[("if-match", &tag)]);
    assert_eq!(r.status, 409, "{}", r.body);
});

server!(bad_json_and_bad_values_name_the_field, |srv| {
    let a = srv.admin();
    let raw = |method: &str, path: &str, body: &str| {
        a.request(
            method,
            path,
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        )
    };
    let r = raw("POST", "/api/contacts", "{\"email\": ");
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "malformed_json"),
        "{}",
        r.body
    );
    let r = a.request(
        "POST",
        "/api/contacts",
        &[("content-type", "text/plain")],
        Some(b"email=x"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    // An array is not an object, even one serde could read as the fields
    // in order: refused, and nothing changes.
    let before = a.get("/api/users/1").body;
    for (method, path) in [("PATCH", "/api/users/1"), ("POST", "/api/contacts")] {
        let r = raw(method, path, "[null, null]");
        assert_eq!(
            (r.status, r.code().as_str()),
            (422, "invalid_value"),
            "{method} {path}: {}",
            r.body
        );
        assert!(r.body.contains("must be a JSON object"), "{}", r.body);
    }
    assert_eq!(a.get("/api/users/1").body, before);
    let r = raw(
        "POST",
        "/api/contacts",
        "{\"email\": \"a@example.com\", \"frist_name\": \"A\"}",
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (422, "unknown_field"),
        "{}",
        r.body
    );
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("'frist_name'"),
        "{}",
        r.body
    );
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"email": "not-an-email"}), "'email'", "no '@'"),
        (
            json!({"email": "a@example.invalid"}),
            "'email'",
            "cannot receive mail",
        ),
        (json!({"email": 42}), "'email'", "invalid type"),
        (json!({"first_name": "x"}), "missing field 'email'", ""),
        (
            json!({"email": "a@example.com", "company_id": 99}),
            "'company_id'",
            "no company 99",
        ),
        (
            json!({"email": "a@example.com", "company_id": "7"}),
            "'company_id'",
            "invalid type",
        ),
        (
            json!({"email": "a@example.com", "labels": [5]}),
            "'labels'",
            "no label with id 5",
        ),
        (
            json!({"email": "a@example.com", "custom": {"nope": "1"}}),
            "'custom.nope'",
            "no custom field",
        ),
        (
            json!({"email": "a@example.com", "first_name": "a\u{0}b"}),
            "'first_name'",
            "NUL",
        ),
    ];
    for (body, field, reason) in cases {
        let r = a.post("/api/contacts", &body);
        assert_eq!(
            (r.status, r.code().as_str()),
            (422, "invalid_value"),
            "{body}: {}",
            r.body
        );
        let msg = r.json()["message"].as_str().unwrap().to_string();
        assert!(msg.contains(field) && msg.contains(reason), "{body}: {msg}");
    }
    let r = a.post(
        "/api/fields",
        &json!({"variable_name": "seats", "type": "number"}),
    );
    assert_eq!(r.status, 201);
    let r = a.post(
        "/api/contacts",
        &json!({"email": "a@example.com", "custom": {"seats": "1.2E+5"}}),
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("custom.seats"), "{}", r.body);
    for (q, name) in [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("label=x", "label"),
        ("cursor=zz", "cursor"),
        ("sort=email", "sort"),
    ] {
        let r = a.get(&format!("/api/contacts?{q}"));
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "bad_request"),
            "{q}: {}",
            r.body
        );
        assert!(r.body.contains(name), "{q}: {}", r.body);
    }
    let r = a.get("/api/contacts/abc");
    assert_eq!(r.status, 404);
    let r = a.post("/api/labels", &json!({"name": " padded "}));
    assert_eq!(r.status, 422);
    let r = a.post("/api/labels", &json!({"name": "A:B"}));
    assert_eq!(r.status, 422);
    assert_eq!(a.post("/api/labels", &json!({"name": "Same"})).status, 201);
    let r = a.post("/api/labels", &json!({"name": "Same"}));
    assert_eq!((r.status, r.code().as_str()), (409, "already_exists"));
    assert_eq!(
        a.post("/api/labels", &json!({"name": "same"})).status,
        201,
        "case-sensitive"
    );
    let r = a.post(
        "/api/fields",
        &json!({"variable_name": "Plan", "type": "text"}),
    );
    assert!(
        r.status == 422 && r.body.contains("variable_name"),
        "{}",
        r.body
    );
    let r = a.post(
        "/api/fields",
        &json!({"variable_name": "tier", "type": "select"}),
    );
    assert!(r.status == 422 && r.body.contains("options"), "{}", r.body);
    let r = a.post(
        "/api/users",
        &json!({"email": "u@example.com", "password": "short"}),
    );
    assert!(r.status == 422 && r.body.contains("password"), "{}", r.body);
    let r = a.post(
        "/api/users",
        &json!({"email": "u@example.com", "password": "long enough", "role": "boss"}),
    );
    assert!(r.status == 422 && r.body.contains("role"), "{}", r.body);
    // A body over the limit is refused from its Content-Length, before
    // it is sent (a raw connection: a client writing the whole body would
    // see the connection close under it).
    use std::io::{Read, Write};
    let addr = srv.base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "POST /api/contacts HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"email\": \"",
        srv.admin_token,
        3 * 1024 * 1024
    )
    .unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
});

server!(users_are_managed_by_admins_and_never_show_a_hash, |srv| {
    let a = srv.admin();
    let id = srv.create_user("Ann@Example.com", "ann-password", "agent");
    let r = a.get("/api/users");
    assert_eq!(r.status, 200);
    assert!(
        !r.body.contains("argon2") && !r.body.contains("password"),
        "{}",
        r.body
    );
    let r = a.patch(
        &format!("/api/users/{id}"),
        &json!({"first_name": "Ann", "role": "admin"}),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["role"], "admin");
    assert_eq!(r.json()["email"], "ann@example.com");
    // A new password: the old one stops working, sessions end.
    let ann = srv.sign_in("ann@example.com", "ann-password");
    let r = a.patch(
        &format!("/api/users/{id}"),
        &json!({"password": "new-password"}),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ann.get("/api/session").status, 401);
    srv.sign_in("ann@example.com", "new-password");
    let r = a.post(
        "/api/users",
        &json!({"email": "ann@example.com", "password": "whatever1"}),
    );
    assert_eq!(r.status, 409);
    // The last active admin stays one.
    let boss = a.get("/api/session").json()["user"]["id"].as_i64().unwrap();
    assert_eq!(
        a.patch(&format!("/api/users/{id}"), &json!({"active": false}), &[])
            .status,
        200
    );
    let r = a.patch(
        &format!("/api/users/{boss}"),
        &json!({"role": "agent"}),
        &[],
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (409, "conflict"),
        "{}",
        r.body
    );
    // The CLI agrees with the API on who can sign in.
    let r = srv
        .env
        .run_with_stdin(&["users", "verify", "ann@example.com"], b"new-password");
    assert_eq!(r.code, 1, "inactive");
});
