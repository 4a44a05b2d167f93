//! Hostile files: quotes that never close, huge values and headers,
//! limits, line numbers, binary and old-Mac files, and the memory each
//! takes (measured on the `roster` child process).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::behaviour;
use crate::support::Env;
use crate::{contacts, records};

const MIB: usize = 1 << 20;

/// Writes a child's standard input.
pub type Feed = Box<dyn FnOnce(&mut dyn Write) + Send>;

/// Runs `roster ARGS` under GNU time, feeding `stdin` from `feed` (in a
/// thread, so a refusal that stops reading early is fine); returns the
/// exit code, stdout, stderr and the child's peak resident memory in MiB.
pub fn measured(env: &Env, args: &[&str], feed: Option<Feed>) -> (i32, String, String, u64) {
    let mut c = Command::new("/usr/bin/time");
    c.arg("-f")
        .arg("PEAK_RSS_KIB=%M")
        .arg(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env("ROSTER_DATABASE_URL", &env.url)
        .env("ROSTER_INSECURE_FAST_HASH", "1")
        .current_dir(env.dir.path())
        .stdin(if feed.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .expect("/usr/bin/time (GNU time) runs roster; .ci/run installs it");
    let writer = feed.map(|f| {
        let mut stdin = child.stdin.take().expect("stdin");
        std::thread::spawn(move || f(&mut stdin))
    });
    let out = child.wait_with_output().expect("wait for roster");
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let peak = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("PEAK_RSS_KIB="))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no peak memory in: {stderr}"));
    let stderr = stderr
        .lines()
        .filter(|l| !l.starts_with("PEAK_RSS_KIB=") && !l.starts_with("Command exited"))
        .collect::<Vec<_>>()
        .join("\n");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        peak / 1024,
    )
}

/// Writes `total` bytes of `unit` repeated (ignoring a closed pipe).
fn repeat(w: &mut dyn Write, unit: &[u8], total: usize) {
    let chunk: Vec<u8> = unit.iter().copied().cycle().take(64 << 10).collect();
    let mut left = total;
    while left > 0 {
        let n = left.min(chunk.len());
        if w.write_all(&chunk[..n]).is_err() {
            return;
        }
        left -= n;
    }
}

behaviour!(
    an_unterminated_quote_refuses_the_file_naming_its_line,
    |env| {
        let mut body = String::from("email,first_name\nann@example.com,\"Ann\n");
        for i in 0..1000 {
            body.push_str(&format!("user{i}@example.com,Name{i}\n"));
        }
        let f = env.write("quote.csv", &body);
        let r = env.run(&["import", "contacts", f.to_str().unwrap_or_default()]);
        assert_eq!(r.code, 2, "{}", r.stdout);
        assert!(
            r.stderr.contains("line 2, column 2 ('first_name')")
                && r.stderr.contains("closing quote"),
            "{}",
            r.stderr
        );
        assert_eq!(contacts(env), 0, "nothing written");
        assert!(
            records(env).is_empty(),
            "refused before an import was recorded"
        );
        // The same from standard input (no second look at the file possible):
        // still refused, naming the line, and nothing of the merged row kept.
        let r = env.run_with_stdin(&["import", "contacts", "-", "--json"], body.as_bytes());
        assert_eq!(r.code, 2, "{}", r.stdout);
        assert!(r.stdout.contains("line 2, column 2"), "{}", r.stdout);
        assert!(
            !env.export("contacts").contains("Name999"),
            "no silent merge"
        );
        // A quote closed at the end of the file is a quoted value, not a merge.
        let fine = env.write("fine.csv", "email,first_name\nann@example.com,\"Ann\"\n");
        env.ok(&["import", "contacts", fine.to_str().unwrap_or_default()]);
    }
);

behaviour!(
    a_quoted_value_beyond_the_field_limit_is_refused_where_it_started,
    |env| {
        let mut body =
            String::from("email,first_name\nann@example.com,\"Ann\nbob@example.com,Bob\n");
        body.push_str(&"x".repeat(2 * MIB));
        body.push_str("\"\nzoe@example.com,Zoe\n");
        let f = env.write("long.csv", &body);
        let r = env.run(&["import", "contacts", f.to_str().unwrap_or_default()]);
        assert_eq!(r.code, 2);
        assert!(
            r.stderr.contains("line 2, column 2 ('first_name')")
                && r.stderr.contains("1048576 bytes")
                && r.stderr.contains("--max-field-bytes"),
            "{}",
            r.stderr
        );
        assert_eq!(contacts(env), 0);
    }
);

behaviour!(
    rejected_values_are_echoed_clipped_in_bounded_memory,
    |env| {
        env.ok(&["fields", "add", "seats", "--type", "number"]);
        let value = "x".repeat(1_000_000);
        let (code, stdout, stderr, peak) = measured(
            env,
            &["import", "contacts", "-", "--json"],
            Some(Box::new(move |w: &mut dyn Write| {
                // (The issue's case was 300 rows: 3.4 GB. 100 keep the test
                // quick in a debug build and still over 1 GB unbounded.)
                let _ = w.write_all(b"email,seats\n");
                for i in 0..100 {
                    let _ = writeln!(w, "user{i}@example.com,{value}");
                }
            })),
        );
        assert_eq!(code, 1, "{stderr}");
        let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a report");
        assert_eq!(report["rejected"], 100);
        // Each error is bounded (its value clipped, its message too), and so
        // is the number of errors kept.
        for e in report["errors"].as_array().into_iter().flatten() {
            assert!(e.to_string().len() < 1500, "{e}");
        }
        let echoed = report["errors"][0]["value"].as_str().unwrap_or_default();
        assert!(
            echoed.starts_with("xxxx")
                && echoed.ends_with("… (1000000 bytes in all)")
                && echoed.len() < 300,
            "{echoed}"
        );
        assert!(
            stdout.len() < 1_000_000,
            "the report is {} bytes",
            stdout.len()
        );
        assert!(
            peak < 250,
            "peak memory {peak} MiB for 100 MB of rejected values"
        );
        // The stored record is bounded too.
        let stored = env.ok(&["imports", "list", "--json"]);
        assert!(
            stored.len() < 1_000_000,
            "the stored record is {} bytes",
            stored.len()
        );
        if env.backend == crate::support::Backend::Sqlite {
            let size = std::fs::metadata(env.url.trim_start_matches("sqlite://"))
                .map(|m| m.len())
                .unwrap_or(0);
            assert!(size < 5 << 20, "the database grew to {size} bytes");
        }
    }
);

behaviour!(
    a_huge_header_line_is_refused_quickly_in_bounded_memory,
    |env| {
        let start = Instant::now();
        let (code, stdout, stderr, peak) = measured(
            env,
            &["import", "contacts", "-"],
            Some(Box::new(|w: &mut dyn Write| repeat(w, b"email", 300 * MIB))),
        );
        assert_eq!(code, 2, "{stdout}");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{:?}",
            start.elapsed()
        );
        assert!(
            stderr.len() < 600,
            "a short message, not the header: {} bytes",
            stderr.len()
        );
        assert!(
            stderr.contains("line 1, column 1") && stderr.contains("--max-field-bytes"),
            "{stderr}"
        );
        assert!(peak < 100, "peak memory {peak} MiB");
        // A header of long (but not huge) names: no "did you mean" search on
        // them, and a short message.
        let name = "n".repeat(100_000);
        let f = env.write("long-names.csv", format!("email,{name},{name}\n"));
        let r = env.run(&["import", "contacts", f.to_str().unwrap_or_default()]);
        assert_eq!(r.code, 2);
        assert!(r.stderr.len() < 600, "{}", r.stderr.len());
        assert!(
            r.stderr.contains("column 2") && r.stderr.contains("at most 256"),
            "{}",
            r.stderr
        );
    }
);

behaviour!(
    a_field_over_the_limit_is_refused_naming_the_option_and_never_buffered,
    |env| {
        // 1 GiB in one quoted value, streamed: refused at the limit, in flat memory.
        let (code, stdout, stderr, peak) = measured(
            env,
            &["import", "contacts", "-"],
            Some(Box::new(|w: &mut dyn Write| {
                let _ = w.write_all(b"email,first_name\nann@example.com,\"");
                repeat(w, b"abcdefgh", 1 << 30);
            })),
        );
        assert_eq!(code, 2);
        // Met while streaming, it is in the report (the import is recorded failed).
        let stderr = format!("{stdout}{stderr}");
        assert!(
            stderr.contains("line 2, column 2 ('first_name')")
                && stderr.contains("1048576 bytes")
                && stderr.contains("--max-field-bytes"),
            "{stderr}"
        );
        assert!(peak < 100, "peak memory {peak} MiB for a 1 GiB value");
        assert_eq!(contacts(env), 0);
        // The option raises it.
        let big = "y".repeat(3 * MIB);
        let f = env.write(
            "big.csv",
            format!("email,first_name\nann@example.com,{big}\n"),
        );
        let path = f.to_str().unwrap_or_default();
        let r = env.run(&["import", "contacts", path]);
        assert_eq!(r.code, 2);
        env.ok(&["import", "contacts", path, "--max-field-bytes", "4000000"]);
        assert_eq!(contacts(env), 1);
    }
);

behaviour!(too_many_columns_are_refused_naming_the_option, |env| {
    let header: Vec<String> = (0..1500).map(|i| format!("c{i}")).collect();
    let f = env.write("wide.csv", format!("email,{}\n", header.join(",")));
    let r = env.run(&["import", "contacts", f.to_str().unwrap_or_default()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("line 1")
            && r.stderr.contains("more than 1000 columns")
            && r.stderr.contains("--max-columns"),
        "{}",
        r.stderr
    );
    // A data row with a million fields is stopped the same way.
    let (code, stdout, stderr, peak) = measured(
        env,
        &["import", "contacts", "-"],
        Some(Box::new(|w: &mut dyn Write| {
            let _ = w.write_all(b"email,first_name\nann@example.com,Ann\nbob@example.com");
            repeat(w, b",", 50 * MIB);
        })),
    );
    assert_eq!(code, 2);
    // Met while streaming, it is in the report (the import is recorded failed).
    let stderr = format!("{stdout}{stderr}");
    assert!(
        stderr.contains("line 3") && stderr.contains("--max-columns"),
        "{stderr}"
    );
    assert!(peak < 100, "peak memory {peak} MiB");
    let r = env.run(&[
        "import",
        "contacts",
        f.to_str().unwrap_or_default(),
        "--max-columns",
        "2000",
        "--ignore-unknown-columns",
    ]);
    assert!(!r.stderr.contains("--max-columns"), "{}", r.stderr);
});

behaviour!(line_numbers_are_physical_lines_after_blank_lines, |env| {
    let body = "email,first_name\n\n\nann@example.com,Ann\n\r\n\nbad-email,Bob\n\n\"x\ny\"@z,Q\nnot-an-email,Z\n";
    let f = env.write("blank.csv", body);
    let (code, report) = env.import("contacts", &f, &[]);
    assert_eq!(code, 1);
    let lines: Vec<u64> = report["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["line"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(lines, vec![7, 9, 11], "{report}");
});

behaviour!(binary_files_are_named_for_what_they_are, |env| {
    for (name, bytes, what) in [
        (
            "a.csv.gz",
            &b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"[..],
            "gzip",
        ),
        ("a.png", &b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"[..], "PNG"),
        ("a.elf", &b"\x7fELF\x02\x01\x01\x00"[..], "ELF"),
        ("a.xlsx", &b"PK\x03\x04\x14\x00\x06\x00"[..], "zip"),
        ("a.pdf", &b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"[..], "PDF"),
    ] {
        let f = env.write(name, bytes);
        let r = env.run(&["import", "contacts", f.to_str().unwrap_or_default()]);
        assert_eq!(r.code, 2);
        assert!(
            r.stderr.contains(what)
                && r.stderr.contains("not a CSV file")
                && !r.stderr.contains("windows-1252"),
            "{name}: {}",
            r.stderr
        );
    }
    assert!(records(env).is_empty());
});

behaviour!(a_file_with_old_mac_line_endings_is_read, |env| {
    let f = env.write(
        "mac.csv",
        "email,first_name\rann@example.com,Ann\rbob@example.com,Bob\r",
    );
    let (code, report) = env.import("contacts", &f, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["created"], 2);
    assert!(
        report["notes"].to_string().contains("carriage return"),
        "{report}"
    );
    assert_eq!(
        env.export("contacts"),
        "email,first_name,last_name,company_id,labels,labels_id\nann@example.com,Ann,,,,\nbob@example.com,Bob,,,,\n"
    );
});

behaviour!(a_wide_file_imports_in_the_memory_of_a_narrow_one, |env| {
    // A parsed value costs far more memory than its bytes in the file:
    // a batch of 4,096 rows of 100 custom fields holds 400,000 of them.
    // Batches are bounded by their values too, so a wide file costs about
    // what a narrow one of the same rows does.
    const FIELDS: usize = 100;
    const ROWS: usize = 8192;
    for j in 0..FIELDS {
        env.ok(&["fields", "add", &format!("f{j}"), "--type", "text"]);
    }
    let narrow = |w: &mut dyn Write| {
        let _ = w.write_all(b"email,first_name\n");
        for i in 0..ROWS {
            let _ = writeln!(w, "narrow{i}@example.com,Ann");
        }
    };
    let wide = |w: &mut dyn Write| {
        let header: Vec<String> = (0..FIELDS).map(|j| format!("f{j}")).collect();
        let _ = writeln!(w, "email,first_name,{}", header.join(","));
        let values: Vec<String> = (0..FIELDS).map(|j| format!("v{j}")).collect();
        let values = values.join(",");
        for i in 0..ROWS {
            let _ = writeln!(w, "wide{i}@example.com,Ann,{values}");
        }
    };
    let args = ["import", "contacts", "-", "--json"];
    let (code, _, stderr, narrow_peak) = measured(env, &args, Some(Box::new(narrow)));
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr, wide_peak) = measured(env, &args, Some(Box::new(wide)));
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a report");
    assert_eq!(report["created"], ROWS);
    let export = env.export("contacts");
    assert_eq!(export.lines().count(), 1 + 2 * ROWS);
    let last = export
        .lines()
        .find(|l| l.starts_with("wide8191@example.com,"))
        .unwrap_or_default();
    assert!(last.ends_with(",v98,v99"), "{last}");
    assert!(
        wide_peak < narrow_peak + 40,
        "peak memory {wide_peak} MiB for {FIELDS} custom fields, {narrow_peak} MiB for one column"
    );
});
