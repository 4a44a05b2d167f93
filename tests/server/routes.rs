//! A walk of every route in the OpenAPI document with each kind of
//! credential: none (401), a revoked token (401), an inactive user's token
//! (401), an agent on admin routes (403), an admin (never 401/403).

use serde_json::Value;

use crate::harness::{Client, Resp, Server};
use crate::server;

/// Who may call an operation, from its `security` (roles as scopes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Public,
    Agent,
    Admin,
}

fn access(op: &Value) -> Access {
    let Some(reqs) = op["security"].as_array().filter(|r| !r.is_empty()) else {
        return Access::Public;
    };
    let roles: Vec<&str> = reqs
        .iter()
        .filter_map(|r| r.as_object())
        .flat_map(|o| o.values())
        .filter_map(|v| v.as_array())
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    if roles.contains(&"agent") {
        Access::Agent
    } else {
        Access::Admin
    }
}

/// Every (method, path with ids filled in, access) of the document.
fn operations(srv: &Server) -> Vec<(String, String, Access)> {
    let doc = srv.anonymous().get("/api/openapi.json").json();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                continue;
            }
            // Ids of records that need not exist: credentials are checked first.
            let mut p = String::new();
            for seg in path.split('/').filter(|s| !s.is_empty()) {
                p.push('/');
                p.push_str(if seg.starts_with('{') { "999999" } else { seg });
            }
            ops.push((method.to_uppercase(), p, access(op)));
        }
    }
    assert!(ops.len() >= 15, "the document lists every route: {ops:?}");
    ops
}

fn call(c: &Client, method: &str, path: &str) -> Resp {
    c.request(
        method,
        path,
        &[("content-type", "application/json")],
        (method != "GET" && method != "DELETE").then_some(b"{}".as_slice()),
    )
}

server!(every_route_checks_credentials_and_roles, |srv| {
    srv.create_user("agent@example.com", "agent-password", "agent");
    let inactive_id = srv.create_user("gone@example.com", "gone-password", "agent");
    let agent = srv.with_token(&srv.token_for("agent@example.com"));
    let inactive = srv.with_token(&srv.token_for("gone@example.com"));
    let r = srv.admin().patch(
        &format!("/api/users/{inactive_id}"),
        &serde_json::json!({"active": false}),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let revoked_token = srv.token_for("agent@example.com");
    let list: Value = serde_json::from_str(&srv.env.ok(&["tokens", "list", "--json"])).unwrap();
    let last = list.as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    srv.env.ok(&["tokens", "revoke", &last.to_string()]);
    let revoked = srv.with_token(&revoked_token);
    let admin = srv.admin();
    let anonymous = srv.anonymous();

    for (method, path, access) in operations(srv) {
        let what = format!("{method} {path} ({access:?})");
        if access != Access::Public {
            for (who, c) in [
                ("no credentials", &anonymous),
                ("a revoked token", &revoked),
                ("an inactive user", &inactive),
            ] {
                let r = call(c, &method, &path);
                assert_eq!(r.status, 401, "{what} with {who}: {}", r.body);
                assert_eq!(r.code(), "unauthorized", "{what}");
            }
        }
        let r = call(&agent, &method, &path);
        if access == Access::Admin {
            assert_eq!(r.status, 403, "{what} as an agent: {}", r.body);
            assert_eq!(r.code(), "forbidden");
        } else {
            assert!(
                r.status != 401 && r.status != 403,
                "{what} as an agent: {} {}",
                r.status,
                r.body
            );
        }
        // Signing out with a token does nothing, so the admin stays signed in.
        let r = call(&admin, &method, &path);
        assert!(
            r.status != 401 && r.status != 403,
            "{what} as admin: {} {}",
            r.status,
            r.body
        );
        assert!(r.status < 500, "{what} as admin: {} {}", r.status, r.body);
    }
});

server!(every_route_answers_an_id_that_is_not_one_in_json, |srv| {
    // An id beyond any integer, or not a number at all, is answered like
    // every other error: 400 or 404 with `{code, message}` naming the id,
    // never the framework's plain-text rejection.
    let admin = srv.admin();
    for (method, path, _) in operations(srv) {
        if !path.contains("999999") {
            continue;
        }
        for bad in ["99999999999999999999", "abc"] {
            let p = path.replace("999999", bad);
            let r = call(&admin, &method, &p);
            assert!(
                r.status == 400 || r.status == 404,
                "{method} {p}: {} {}",
                r.status,
                r.body
            );
            let body: Value = serde_json::from_str(&r.body)
                .unwrap_or_else(|e| panic!("{method} {p}: not JSON ({e}): {}", r.body));
            assert!(
                body["code"].is_string()
                    && body["message"].as_str().is_some_and(|m| m.contains(bad)),
                "{method} {p}: {}",
                r.body
            );
        }
    }
});
