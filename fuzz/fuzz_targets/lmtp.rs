//! The LMTP listener's conversation: the input is what a client sends
//! (commands, pipelined, and message data), served over an in-memory pipe
//! against a small SQLite database with one mailbox. The conversation must
//! end; every reply line is a three-digit code and text; the greeting comes
//! first; nothing is answered after 221 or 421.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use roster_mail::lmtp::{converse, Config};
use roster_mail::{Limits, Settings, StorePool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct World {
    rt: tokio::runtime::Runtime,
    pool: Arc<StorePool>,
    config: Arc<Config>,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("mail.db").display());
        let mut store = roster_store::open(&url).expect("database");
        let mailbox = roster_mail::new_mailbox(
            "support",
            "support@example.com",
            &["help@example.com".to_string()],
            Default::default(),
        )
        .expect("mailbox");
        store.add_mailbox(&mailbox).expect("add mailbox");
        drop(store);
        let config = Config {
            hostname: "fuzz".into(),
            settings: Settings {
                limits: Limits {
                    max_message_bytes: 32 * 1024,
                    max_header_bytes: 8 * 1024,
                    max_header_fields: 64,
                    max_line_bytes: 2 * 1024,
                },
                ..Settings::default()
            },
            command_timeout: Duration::from_secs(5),
            data_timeout: Duration::from_secs(5),
            max_recipients: 5,
            max_connections: 1,
        };
        World {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("runtime"),
            pool: Arc::new(StorePool::for_url(&url, 1)),
            config: Arc::new(config),
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 128 * 1024 {
        return;
    }
    let w = world();
    let replies = w.rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(16 * 1024);
        let session = tokio::spawn(converse(server, w.pool.clone(), w.config.clone()));
        let input = data.to_vec();
        let (mut rd, mut wr) = tokio::io::split(&mut client);
        let send = async move {
            let _ = wr.write_all(&input).await;
            let _ = wr.shutdown().await;
        };
        let mut out = Vec::new();
        let recv = rd.read_to_end(&mut out);
        let ended = tokio::time::timeout(Duration::from_secs(30), async {
            let (_, r) = tokio::join!(send, recv);
            r
        })
        .await;
        assert!(ended.is_ok(), "the conversation did not end");
        let _ = session.await;
        out
    });
    let text = String::from_utf8(replies).expect("replies are UTF-8");
    assert!(text.starts_with("220 "), "{text:?}");
    assert!(text.is_empty() || text.ends_with("\r\n"), "{text:?}");
    let mut closed = false;
    for line in text.split_terminator("\r\n") {
        assert!(!closed, "a reply after the connection was closed: {text:?}");
        let b = line.as_bytes();
        assert!(
            b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && (b[3] == b' ' || b[3] == b'-'),
            "not a reply line: {line:?}"
        );
        assert!(line.len() <= 512, "a reply line of {} bytes", line.len());
        if line.starts_with("221 ") || line.starts_with("421 ") {
            closed = true;
        }
    }
});
