//! `GET /api/export/contacts.csv` and `/api/export/users.csv`: the CLI's
//! export byte for byte, formula-safe on request, authorized by role.

use crate::harness::Server;
use crate::server;

const FILE: &str = "email,first_name,last_name,labels\n\
ann@example.com,=1+2,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",-Risky\n\
bob@example.com,Bob,+Lee,\n";

fn fill(srv: &Server) {
    srv.env.ok(&["labels", "add", "--", "-Risky"]);
    let f = srv.env.write("formulas.csv", FILE);
    let (code, report) = srv.env.import("contacts", &f, &[]);
    assert_eq!(code, 0, "{report}");
}

server!(
    http_export_matches_the_cli_and_neutralises_on_request,
    |srv| {
        fill(srv);
        let admin = srv.admin();
        let r = admin.get("/api/export/contacts.csv");
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/csv")));
        assert!(r
            .header("content-disposition")
            .is_some_and(|d| d.contains("contacts.csv")));
        assert_eq!(r.body, srv.env.export("contacts"), "the exact round trip");
        assert!(
            r.body.contains("\n=1+2") || r.body.contains(",=1+2,"),
            "{}",
            r.body
        );
        let safe = admin.get("/api/export/contacts.csv?formula_safe=true");
        assert_eq!(safe.status, 200, "{}", safe.body);
        assert_eq!(
            safe.body,
            srv.env.ok(&["export", "contacts", "--formula-safe"])
        );
        assert_eq!(
            safe.body,
            "email,first_name,last_name,company_id,labels,labels_id\n\
         ann@example.com,'=1+2,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",,'-Risky,1\n\
         bob@example.com,Bob,'+Lee,,,\n"
        );
        let users = admin.get("/api/export/users.csv?formula_safe=false");
        assert_eq!(users.status, 200, "{}", users.body);
        assert_eq!(users.body, srv.env.export("users"));
        assert!(!users.body.contains("argon2"), "{}", users.body);
        // A bad value or an unknown parameter is a 400 naming it.
        let r = admin.get("/api/export/contacts.csv?formula_safe=perhaps");
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("formula_safe"), "{}", r.body);
        let r = admin.get("/api/export/contacts.csv?format=xlsx");
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("format"), "{}", r.body);
    }
);

server!(http_export_is_authorized_by_role, |srv| {
    fill(srv);
    srv.create_user("agent@example.com", "agent-pass", "agent");
    let agent = srv.with_token(&srv.token_for("agent@example.com"));
    // Agents read contacts, so they may export them; users are admins' only.
    let r = agent.get("/api/export/contacts.csv?formula_safe=true");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(agent.get("/api/export/users.csv").status, 403);
    assert_eq!(srv.anonymous().get("/api/export/contacts.csv").status, 401);
    assert_eq!(srv.anonymous().get("/api/export/users.csv").status, 401);
});

server!(sql_metacharacters_are_stored_and_searched_as_data, |srv| {
    // Every statement takes values as parameters: quotes, comments and
    // LIKE wildcards in data are data, on both backends.
    let admin = srv.admin();
    let hostile = "Robert'); DROP TABLE contacts;--";
    let r = admin.post("/api/labels", &serde_json::json!({"name": "x' OR '1'='1"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let label = r.json()["id"].as_i64().expect("a label id");
    for (email, first) in [
        ("bobby@example.com", hostile),
        ("pct@example.com", "100%_sure\\"),
        ("plain@example.com", "Plain"),
    ] {
        let r = admin.post(
            "/api/contacts",
            &serde_json::json!({"email": email, "first_name": first, "labels": [label]}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let count = |q: &str| {
        let r = admin.get(&format!(
            "/api/contacts?q={}",
            q.bytes().map(|b| format!("%{b:02X}")).collect::<String>()
        ));
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        r.json()["items"].as_array().map(Vec::len).unwrap_or(0)
    };
    assert_eq!(count("' OR '1'='1"), 0);
    assert_eq!(count("'); DROP"), 1);
    assert_eq!(count("%"), 1, "a % in the search is a literal %");
    assert_eq!(count("_"), 1, "an _ in the search is a literal _");
    assert_eq!(count("\\"), 1);
    let export = srv.env.export("contacts");
    assert!(export.contains(hostile), "{export}");
    assert_eq!(export.lines().count(), 4, "{export}");
    let labels = admin.get("/api/labels").json();
    assert!(labels.to_string().contains("x' OR '1'='1"), "{labels}");
});
