//! The API door: mailboxes over HTTP, and `POST /api/mailboxes/{id}/messages`
//! with a raw message — who may call it, what it answers.

use serde_json::json;

use crate::common::{contacts, fixture};
use crate::harness::{Auth, Client, Server};
use crate::server;

const RFC822: (&str, &str) = ("content-type", "message/rfc822");

fn post_message(c: &Client, id: i64, message: &[u8]) -> crate::harness::Resp {
    c.request(
        "POST",
        &format!("/api/mailboxes/{id}/messages"),
        &[RFC822],
        Some(message),
    )
}

/// An agent account with a password and a token.
fn agent(srv: &Server) -> (Client, Client) {
    let users = srv.env.write(
        "agents.csv",
        "email,password,role\nagent@example.com,agent-pass,agent\n",
    );
    let (code, report) = srv.env.import("users", &users, &[]);
    assert_eq!(code, 0, "{report}");
    let token = srv.token_for("agent@example.com");
    (
        srv.sign_in("agent@example.com", "agent-pass"),
        srv.with_token(&token),
    )
}

server!(
    mailboxes_over_http,
    ["--max-message-bytes", "4000"],
    |srv| {
        let admin = srv.admin();
        let r = admin.post(
        "/api/mailboxes",
        &json!({"name": "support", "address": "Support@Example.com", "aliases": ["help@example.com"]}),
    );
        assert_eq!(r.status, 201, "{}", r.body);
        let m = r.json();
        assert_eq!(m["address"], "support@example.com");
        assert_eq!(m["aliases"], json!(["help@example.com"]));
        assert_eq!(m["capture"], "all");
        let id = m["id"].as_i64().expect("an id");
        let r = admin.get("/api/mailboxes");
        assert_eq!(r.status, 200);
        assert_eq!(r.json()[0]["name"], "support");
        // Taken address, bad address, bad capture setting.
        let r = admin.post(
            "/api/mailboxes",
            &json!({"name": "x", "address": "help@example.com"}),
        );
        assert_eq!(
            (r.status, r.code().as_str()),
            (409, "already_exists"),
            "{}",
            r.body
        );
        let r = admin.post("/api/mailboxes", &json!({"name": "y", "address": "nope"}));
        assert_eq!(
            (r.status, r.code().as_str()),
            (422, "invalid_value"),
            "{}",
            r.body
        );
        let r = admin.post(
            "/api/mailboxes",
            &json!({"name": "z", "address": "z@example.com", "capture": "everyone"}),
        );
        assert_eq!(r.status, 422, "{}", r.body);

        // The door: the pinned answer {"captured":N,"skipped":N}.
        let r = post_message(&admin, id, &fixture("utf8_encoded_words.eml"));
        assert_eq!(r.status, 200, "{}", r.body);
        let out = r.json();
        assert_eq!(
            (out["captured"].as_u64(), out["skipped"].as_u64()),
            (Some(2), Some(1)),
            "{out}"
        );
        assert_eq!(
            contacts(&srv.env)["zoe@example.com"],
            ("Zoë".into(), "Maïa".into())
        );
        let r = post_message(&admin, id, &fixture("utf8_encoded_words.eml"));
        assert_eq!(r.json()["duplicate"], true, "{}", r.body);
        assert_eq!(r.json()["captured"], 0);
        let r = post_message(&admin, id, &fixture("auto_reply.eml"));
        assert_eq!(
            (r.status, r.json()["captured"].as_u64()),
            (200, Some(0)),
            "{}",
            r.body
        );

        // Bad messages, wrong content type, unknown mailbox, over the limit.
        let r = post_message(&admin, id, &fixture("binary.eml"));
        assert_eq!(
            (r.status, r.code().as_str()),
            (422, "invalid_value"),
            "{}",
            r.body
        );
        let r = admin.request(
            "POST",
            &format!("/api/mailboxes/{id}/messages"),
            &[("content-type", "text/plain")],
            Some(&fixture("shift_jis.eml")),
        );
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "bad_request"),
            "{}",
            r.body
        );
        assert!(r.json()["message"]
            .as_str()
            .unwrap_or_default()
            .contains("message/rfc822"));
        let r = post_message(&admin, 9999, &fixture("shift_jis.eml"));
        assert_eq!(
            (r.status, r.code().as_str()),
            (404, "not_found"),
            "{}",
            r.body
        );
        let mut big = fixture("shift_jis.eml");
        big.extend(std::iter::repeat_n(b'x', 5000));
        let r = post_message(&admin, id, &big);
        assert_eq!(
            (r.status, r.code().as_str()),
            (413, "payload_too_large"),
            "{}",
            r.body
        );
        assert!(r.json()["message"]
            .as_str()
            .unwrap_or_default()
            .contains("4000 bytes"));
        assert!(!contacts(&srv.env).contains_key("taro@example.jp"));

        // Removing.
        let r = admin.delete(&format!("/api/mailboxes/{id}"));
        assert_eq!(r.status, 204, "{}", r.body);
        let r = admin.delete(&format!("/api/mailboxes/{id}"));
        assert_eq!(r.status, 404, "{}", r.body);
    }
);

server!(mailbox_routes_check_who_calls, |srv| {
    let admin = srv.admin();
    let r = admin.post(
        "/api/mailboxes",
        &json!({"name": "support", "address": "support@example.com"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_i64().expect("an id");
    let (agent_session, agent_token) = agent(srv);
    let nobody = Client::new(&srv.base, Auth::None);

    // Mailboxes are admin business.
    for c in [&agent_session, &agent_token] {
        assert_eq!(c.get("/api/mailboxes").status, 403);
        let r = c.post(
            "/api/mailboxes",
            &json!({"name": "x", "address": "x@example.com"}),
        );
        assert_eq!(r.status, 403, "{}", r.body);
    }
    assert_eq!(nobody.get("/api/mailboxes").status, 401);

    // Messages: admins, or any API token (a mail server's script).
    let r = post_message(&nobody, id, &fixture("shift_jis.eml"));
    assert_eq!(r.status, 401, "{}", r.body);
    let r = post_message(&agent_session, id, &fixture("shift_jis.eml"));
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "forbidden"),
        "{}",
        r.body
    );
    let r = post_message(&agent_token, id, &fixture("shift_jis.eml"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["captured"], 1);
    let admin_session = srv.sign_in(crate::harness::ADMIN, crate::harness::ADMIN_PASSWORD);
    let r = post_message(&admin_session, id, &fixture("iso_2022_jp.eml"));
    assert_eq!(r.status, 200, "{}", r.body);
    // A cookie write without the CSRF token is refused.
    let mut no_csrf = srv.sign_in(crate::harness::ADMIN, crate::harness::ADMIN_PASSWORD);
    no_csrf.send_csrf = false;
    let r = post_message(&no_csrf, id, &fixture("missing_from.eml"));
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "csrf_failed"),
        "{}",
        r.body
    );
});
