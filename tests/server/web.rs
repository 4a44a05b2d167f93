//! The web UI's routes: the embedded shell and assets with their security
//! headers, and `POST /api/imports/preview` for the mapping step.

use crate::server;

server!(
    ui_shell_and_assets_are_served_with_the_security_headers,
    |srv| {
        let anon = srv.anonymous();
        for path in [
            "/",
            "/contacts",
            "/contacts/12/edit",
            "/imports/3",
            "/signin",
        ] {
            let r = anon.get(path);
            assert_eq!(r.status, 200, "{path}");
            assert!(r.body.contains("/assets/app.js"), "{path}: the shell");
            let csp = r.header("content-security-policy").unwrap_or_default();
            assert!(
                csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
                "{csp}"
            );
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        }
        let js = anon.get("/assets/app.js");
        assert_eq!(js.status, 200);
        assert!(js
            .header("content-type")
            .unwrap_or_default()
            .contains("javascript"));
        let etag = js.header("etag").unwrap_or_default().to_string();
        let again = anon.request(
            "GET",
            "/assets/app.js",
            &[("if-none-match", etag.as_str())],
            None,
        );
        assert_eq!(again.status, 304, "an unchanged asset is not sent again");
        assert_eq!(anon.get("/assets/nope.js").status, 404);
        // API paths stay JSON, never the shell.
        let r = anon.get("/api/nope");
        assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    }
);

server!(
    preview_lists_the_columns_with_samples_fills_and_the_suggested_mapping,
    |srv| {
        let admin = srv.admin();
        let csv = "First Name,Last Name,E-mail Address,Categories,Notes\r\n\
               Ann,Lee,ann@example.com,VIP:Trial,\r\n\
               Bo,,bo@example.com,,hello\r\n\
               Cy,Ng,cy@exam";
        let r = admin.request(
            "POST",
            "/api/imports/preview?kind=contacts&partial=true",
            &[("content-type", "text/csv")],
            Some(csv.as_bytes()),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let p = r.json();
        assert_eq!(p["rows"], 2, "the cut last row is not read: {p}");
        assert_eq!(p["complete"], false);
        let col = |name: &str| {
            p["columns"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("no column {name}: {p}"))
        };
        assert_eq!(col("E-mail Address")["suggested"], "email");
        assert_eq!(col("E-mail Address")["filled"], 2);
        assert_eq!(col("E-mail Address")["samples"][0], "ann@example.com");
        assert_eq!(col("First Name")["suggested"], "first_name");
        assert_eq!(col("Last Name")["filled"], 1);
        assert!(col("Notes")["suggested"].is_null());
        assert_eq!(
            col("Categories")["unknown_labels"],
            serde_json::json!(["Trial", "VIP"])
        );

        let agents = srv.env.path("agents.csv");
        std::fs::write(
            &agents,
            "email,password,role\nagent@example.com,agent password,agent\n",
        )
        .unwrap();
        srv.env
            .ok(&["import", "users", &agents.display().to_string()]);
        let a = srv.sign_in("agent@example.com", "agent password");
        let r = a.request(
            "POST",
            "/api/imports/preview",
            &[("content-type", "text/csv")],
            Some(b"email\n"),
        );
        assert_eq!(r.status, 403, "{}", r.body);

        let big = vec![b'a'; (4 << 20) + 10];
        let r = admin.request(
            "POST",
            "/api/imports/preview",
            &[("content-type", "text/csv")],
            Some(&big),
        );
        assert_eq!(r.status, 413, "{}", r.body);
        let r = admin.request(
            "POST",
            "/api/imports/preview?kind=people",
            &[],
            Some(b"email\n"),
        );
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "bad_request"),
            "{}",
            r.body
        );
    }
);
