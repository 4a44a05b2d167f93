//! Sign-in, sign-out, CSRF, rate limiting, security headers.

use serde_json::json;

use crate::harness::{ADMIN, ADMIN_PASSWORD};
use crate::server;

server!(health_needs_no_credentials, |srv| {
    let r = srv.anonymous().get("/api/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"status": "ok"}));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let r = srv.anonymous().get("/api/no-such-route");
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
});

server!(sign_in_and_out, |srv| {
    let c = srv.sign_in(ADMIN, ADMIN_PASSWORD);
    let r = c.get("/api/session");
    assert_eq!(r.status, 200, "{}", r.body);
    let me = r.json();
    assert_eq!(me["user"]["email"], ADMIN);
    assert_eq!(me["user"]["role"], "admin");
    assert!(me["user"].get("password_hash").is_none());
    // The sign-in answer set a cookie the browser cannot read from scripts.
    let signin = srv.anonymous().post(
        "/api/session",
        &json!({"email": "Boss@Example.com", "password": ADMIN_PASSWORD}),
    );
    assert_eq!(signin.status, 200, "email matching is case-insensitive");
    let cookie = signin.header("set-cookie").unwrap_or_default().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "no Secure over plain HTTP: {cookie}"
    );

    let r = c.delete("/api/session");
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r
        .header("set-cookie")
        .unwrap_or_default()
        .contains("Max-Age=0"));
    let r = c.get("/api/session");
    assert_eq!(
        (r.status, r.code().as_str()),
        (401, "unauthorized"),
        "the session ended"
    );
    // The other session is still alive.
});

server!(wrong_passwords_and_unknown_emails_are_401, |srv| {
    let a = srv.anonymous();
    for (email, password) in [
        (ADMIN, "wrong password"),
        ("nobody@example.com", ADMIN_PASSWORD),
    ] {
        let r = a.post(
            "/api/session",
            &json!({"email": email, "password": password}),
        );
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "unauthorized"),
            "{}",
            r.body
        );
        assert!(r.header("set-cookie").is_none());
    }
    let r = a.get("/api/session");
    assert_eq!(r.status, 401);
    let r = srv.with_token("rst_not-a-token").get("/api/session");
    assert_eq!(r.status, 401);
    let r = a.request(
        "GET",
        "/api/session",
        &[("authorization", "Basic Ym9zczpwdw==")],
        None,
    );
    assert_eq!(r.status, 401);
});

server!(secure_cookie_behind_tls, |srv| {
    let r = srv.anonymous().request(
        "POST",
        "/api/session",
        &[
            ("content-type", "application/json"),
            ("x-forwarded-proto", "https"),
        ],
        Some(
            json!({"email": ADMIN, "password": ADMIN_PASSWORD})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 200);
    assert!(r
        .header("set-cookie")
        .unwrap_or_default()
        .contains("; Secure"));
});

server!(a_cookie_write_needs_the_csrf_token, |srv| {
    let mut c = srv.sign_in(ADMIN, ADMIN_PASSWORD);
    c.send_csrf = false;
    let r = c.delete("/api/session");
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "csrf_failed"),
        "{}",
        r.body
    );
    // A wrong token is refused too.
    let r = c.request("DELETE", "/api/session", &[("x-csrf-token", "0000")], None);
    assert_eq!(r.status, 403);
    // Reads need none; the session is still alive.
    assert_eq!(c.get("/api/session").status, 200);
    c.send_csrf = true;
    assert_eq!(c.delete("/api/session").status, 204);
    // A bearer token needs none.
    let r = srv.admin().delete("/api/session");
    assert_eq!(r.status, 204);
});

server!(
    sign_in_is_rate_limited,
    [
        "--signin-account-attempts",
        "3",
        "--signin-address-attempts",
        "5"
    ],
    |srv| {
        let a = srv.anonymous();
        let attempt = |email: &str, password: &str| {
            a.post(
                "/api/session",
                &json!({"email": email, "password": password}),
            )
        };
        for _ in 0..3 {
            assert_eq!(attempt(ADMIN, "bad guess").status, 401);
        }
        // The account is locked for a while, even with the right password.
        let r = attempt(ADMIN, ADMIN_PASSWORD);
        assert_eq!(
            (r.status, r.code().as_str()),
            (429, "rate_limited"),
            "{}",
            r.body
        );
        let wait: u64 = r
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        assert!((1..=900).contains(&wait), "{wait}");
        // Per address: two more failures on other accounts reach 5.
        assert_eq!(attempt("x@example.com", "bad").status, 401);
        assert_eq!(attempt("y@example.com", "bad").status, 401);
        let r = attempt("z@example.com", "bad");
        assert_eq!(r.status, 429, "{}", r.body);
        // A bearer token still works: only sign-in is limited.
        assert_eq!(srv.admin().get("/api/session").status, 200);
    }
);

server!(inactive_users_cannot_sign_in_and_their_tokens_stop, |srv| {
    let id = srv.create_user("ann@example.com", "ann-password", "agent");
    let token = srv.token_for("ann@example.com");
    let ann = srv.with_token(&token);
    assert_eq!(ann.get("/api/session").status, 200);
    let session = srv.sign_in("ann@example.com", "ann-password");
    let r = srv
        .admin()
        .patch(&format!("/api/users/{id}"), &json!({"active": false}), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ann.get("/api/session").status, 401);
    assert_eq!(session.get("/api/session").status, 401);
    let r = srv.anonymous().post(
        "/api/session",
        &json!({"email": "ann@example.com", "password": "ann-password"}),
    );
    assert_eq!(r.status, 401);
    // Activated again, the token works again (it was never revoked).
    let r = srv
        .admin()
        .patch(&format!("/api/users/{id}"), &json!({"active": true}), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ann.get("/api/session").status, 200);
});

server!(revoked_tokens_stop_working, |srv| {
    let token = srv.token_for(ADMIN);
    let c = srv.with_token(&token);
    assert_eq!(c.get("/api/session").status, 200);
    let list = srv.env.ok(&["tokens", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert!(
        !list.to_string().contains(&token),
        "tokens list never shows a token"
    );
    let id = list.as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    srv.env.ok(&["tokens", "revoke", &id.to_string()]);
    let r = c.get("/api/session");
    assert_eq!(r.status, 401, "{}", r.body);
});
