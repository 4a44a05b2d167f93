//! The LMTP listener (RFC 2033) that Postfix or Dovecot deliver to.
//!
//! A small state machine per connection: `LHLO`, `MAIL FROM` (with `SIZE`),
//! `RCPT TO` routed by recipient address to a mailbox (an unknown recipient
//! gets 550 alone), `DATA` answered once per accepted recipient, `RSET`,
//! `NOOP`, `QUIT`; extensions `PIPELINING`, `ENHANCEDSTATUSCODES`, `SIZE`,
//! `8BITMIME`, `SMTPUTF8`. Replies are buffered and flushed only when the
//! client has nothing more in flight, so a pipelined batch of commands gets
//! its replies in one write.
//!
//! Every read is bounded: a command line by [`MAX_COMMAND_LINE`], a message
//! by the size limit (the rest of an oversized message is read and thrown
//! away, then 552 is answered), and time by the command and data timeouts
//! (a silent client is told 421 and disconnected). The store is blocking,
//! so lookups and captures run on tokio's blocking threads through a
//! [`StorePool`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use roster_core::email::normalize_email;
use roster_store::mail::Mailbox;
use roster_store::StoreError;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter,
};
use tokio::net::TcpListener;

use crate::{capture, clip, CaptureError, MessageError, Outcome, Settings, StorePool};

/// The longest command line accepted (RFC 5321 asks for 512; extensions
/// make lines longer).
pub const MAX_COMMAND_LINE: usize = 4096;

/// How the listener behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// The name the server gives in its greeting and LHLO reply.
    pub hostname: String,
    pub settings: Settings,
    /// How long to wait for a command (RFC 5321 suggests 5 minutes).
    pub command_timeout: Duration,
    /// How long to wait for each piece of a message being sent.
    pub data_timeout: Duration,
    /// Recipients accepted per message.
    pub max_recipients: usize,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hostname: "roster".into(),
            settings: Settings::default(),
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            max_recipients: 1000,
            max_connections: 256,
        }
    }
}

/// The store pool, and permits so that at most its size of blocking jobs
/// run at once: the others wait here, asynchronously, rather than holding a
/// blocking thread each.
#[derive(Clone)]
struct Db {
    pool: Arc<StorePool>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Db {
    async fn run<T: Send + 'static, E: From<StoreError> + crate::Broken + Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn roster_store::Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return Err(StoreError::Database("the server is stopping".into()).into());
        };
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            pool.run(f)
        })
        .await
        .unwrap_or_else(|_| Err(StoreError::Database("a database job failed".into()).into()))
    }
}

/// Serves LMTP on `listener` until `shutdown` completes. Connections in
/// progress finish on their own.
pub async fn serve(
    listener: TcpListener,
    pool: Arc<StorePool>,
    config: Arc<Config>,
    shutdown: impl Future<Output = ()>,
) {
    let db = Db {
        permits: Arc::new(tokio::sync::Semaphore::new(pool.size())),
        pool,
    };
    let limit = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => return,
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => a,
        };
        let (stream, _) = match accepted {
            Ok(a) => a,
            Err(_) => {
                // Out of file descriptors, say: wait a little, keep serving.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let db = db.clone();
        let config = config.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let _ = session(stream, db, config).await;
            drop(permit);
        });
    }
}

/// The result of reading one line.
enum Line {
    /// A whole line (with its line ending) in the buffer.
    Full,
    /// The line was longer than allowed; it was read and thrown away.
    TooLong,
    /// The connection ended (a partial last line is thrown away).
    Eof,
}

/// Reads one line into `buf` (cleared first), at most `max` bytes.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    loop {
        let avail = r.fill_buf().await?;
        if avail.is_empty() {
            return Ok(Line::Eof);
        }
        let (chunk, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..=i], true),
            None => (avail, false),
        };
        let n = chunk.len();
        if !too_long {
            if buf.len() + n > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        r.consume(n);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Full });
        }
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The address inside `<…>` after `FROM:`/`TO:`, and the parameters after
/// it. A source route (`<@a,@b:user@d>`) is dropped, as RFC 5321 allows.
fn path_and_params<'a>(arg: &'a str, keyword: &str) -> Option<(String, &'a str)> {
    let rest = arg.trim_start();
    // `get`, not indexing: the keyword's length may fall inside a
    // multi-byte character of what the client sent.
    if !rest
        .get(..keyword.len())
        .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
    {
        return None;
    }
    let rest = rest[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    let mut path = &rest[..end];
    if path.starts_with('@') {
        path = path.split_once(':').map_or("", |(_, p)| p);
    }
    Some((path.to_string(), &rest[end + 1..]))
}

struct Recipient {
    address: String,
    mailbox: Mailbox,
}

#[derive(Default)]
struct Transaction {
    sender: Option<String>,
    recipients: Vec<Recipient>,
}

async fn reply<W: AsyncWrite + Unpin>(w: &mut W, text: &str) -> std::io::Result<()> {
    w.write_all(text.as_bytes()).await?;
    w.write_all(b"\r\n").await
}

/// Serves one LMTP conversation on `stream` (any byte stream: the fuzz
/// target and tests use an in-memory pipe), as [`serve`] does for each
/// connection it accepts.
pub async fn converse<S>(
    stream: S,
    pool: Arc<StorePool>,
    config: Arc<Config>,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let db = Db {
        permits: Arc::new(tokio::sync::Semaphore::new(pool.size())),
        pool,
    };
    session(stream, db, config).await
}

/// How long a session trusts a recipient lookup (see `session`).
const RECIPIENT_CACHE: Duration = Duration::from_secs(2);

/// One connection, from greeting to QUIT (or timeout, or the client leaving).
async fn session<S>(stream: S, db: Db, config: Arc<Config>) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(stream);
    let mut r = BufReader::with_capacity(64 * 1024, rd);
    let mut w = BufWriter::with_capacity(16 * 1024, wr);
    let host = config.hostname.as_str();
    let max_size = config.settings.limits.max_message_bytes;
    reply(&mut w, &format!("220 {host} Roster LMTP ready")).await?;
    let mut greeted = false;
    let mut tx: Option<Transaction> = None;
    // Recipients this session looked up lately: an MTA that keeps its LMTP
    // connection open sends message after message to the same mailboxes,
    // and each lookup is a trip to the database. Kept for
    // `RECIPIENT_CACHE` only, so a mailbox changed meanwhile is seen soon,
    // and forgotten when a delivery fails for a temporary reason.
    let mut known: Vec<(String, Mailbox, std::time::Instant)> = Vec::new();
    let mut line = Vec::with_capacity(512);
    let mut errors = 0u32;
    loop {
        // Pipelining: answer everything the client sent before waiting.
        if r.buffer().is_empty() {
            w.flush().await?;
        }
        let read = tokio::time::timeout(
            config.command_timeout,
            read_line(&mut r, &mut line, MAX_COMMAND_LINE),
        )
        .await;
        match read {
            Err(_) => {
                reply(
                    &mut w,
                    &format!("421 4.4.2 {host} no command for too long; closing the connection"),
                )
                .await?;
                return w.flush().await;
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Line::Eof)) => return Ok(()),
            Ok(Ok(Line::TooLong)) => {
                errors += 1;
                reply(
                    &mut w,
                    &format!("500 5.5.2 command line longer than {MAX_COMMAND_LINE} bytes"),
                )
                .await?;
            }
            Ok(Ok(Line::Full)) => {
                let text = String::from_utf8_lossy(trim_eol(&line)).into_owned();
                let (verb, arg) = match text.split_once(' ') {
                    Some((v, a)) => (v.to_ascii_uppercase(), a),
                    None => (text.to_ascii_uppercase(), ""),
                };
                match verb.as_str() {
                    "LHLO" => {
                        if arg.trim().is_empty() {
                            errors += 1;
                            reply(&mut w, "501 5.5.4 LHLO needs the client's name").await?;
                            continue;
                        }
                        greeted = true;
                        tx = None;
                        reply(
                            &mut w,
                            &format!(
                                "250-{host}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-SIZE {max_size}\r\n250-8BITMIME\r\n250 SMTPUTF8"
                            ),
                        )
                        .await?;
                    }
                    "HELO" | "EHLO" => {
                        errors += 1;
                        reply(
                            &mut w,
                            "500 5.5.1 this is an LMTP server; greet it with LHLO",
                        )
                        .await?;
                    }
                    "MAIL" => {
                        if !greeted {
                            errors += 1;
                            reply(&mut w, "503 5.5.1 send LHLO first").await?;
                        } else if tx.is_some() {
                            errors += 1;
                            reply(
                                &mut w,
                                "503 5.5.1 a message is already started; send RSET to start over",
                            )
                            .await?;
                        } else {
                            match path_and_params(arg, "FROM:") {
                                None => {
                                    errors += 1;
                                    reply(&mut w, "501 5.5.4 write it as MAIL FROM:<address>")
                                        .await?;
                                }
                                Some((sender, params)) => {
                                    let size = params.split_whitespace().find_map(|p| {
                                        let (k, v) = p.split_once('=')?;
                                        k.eq_ignore_ascii_case("SIZE")
                                            .then(|| v.parse::<u64>().ok())
                                    });
                                    match size {
                                        Some(None) => {
                                            errors += 1;
                                            reply(
                                                &mut w,
                                                "501 5.5.4 SIZE must be a number of bytes",
                                            )
                                            .await?;
                                        }
                                        Some(Some(n)) if n > max_size as u64 => {
                                            reply(&mut w, &format!("552 5.3.4 the message is larger than {max_size} bytes (the message size limit)")).await?;
                                        }
                                        _ => {
                                            tx = Some(Transaction {
                                                sender: Some(sender),
                                                recipients: Vec::new(),
                                            });
                                            reply(&mut w, "250 2.1.0 sender OK").await?;
                                        }
                                    }
                                }
                            }
                        }
                    }
                    "RCPT" => {
                        let Some(t) = tx.as_mut() else {
                            errors += 1;
                            reply(&mut w, "503 5.5.1 send MAIL FROM first").await?;
                            continue;
                        };
                        let Some((address, _)) = path_and_params(arg, "TO:") else {
                            errors += 1;
                            reply(&mut w, "501 5.5.4 write it as RCPT TO:<address>").await?;
                            continue;
                        };
                        if t.recipients.len() >= config.max_recipients {
                            reply(&mut w, "452 4.5.3 too many recipients for one message; send the rest in another").await?;
                            continue;
                        }
                        let Ok(normalized) = normalize_email(&address) else {
                            reply(
                                &mut w,
                                &format!(
                                    "550 5.1.1 <{}> is not a mailbox of this server",
                                    clip(&address, 100)
                                ),
                            )
                            .await?;
                            continue;
                        };
                        // Answer the lookup before reading on: pipelined
                        // replies must stay in order anyway.
                        known.retain(|(_, _, at)| at.elapsed() < RECIPIENT_CACHE);
                        let cached = known
                            .iter()
                            .find(|(a, _, _)| *a == normalized)
                            .map(|(_, m, _)| m.clone());
                        let found = match cached {
                            Some(m) => Ok(Some(m)),
                            None => {
                                let key = normalized.clone();
                                let found = db.run(move |s| s.mailbox_by_address(&key)).await;
                                if let Ok(Some(m)) = &found {
                                    if known.len() < 64 {
                                        known.push((
                                            normalized.clone(),
                                            m.clone(),
                                            std::time::Instant::now(),
                                        ));
                                    }
                                }
                                found
                            }
                        };
                        match found {
                            Ok(Some(mailbox)) => {
                                t.recipients.push(Recipient { address, mailbox });
                                reply(&mut w, "250 2.1.5 recipient OK").await?;
                            }
                            Ok(None) => {
                                reply(
                                    &mut w,
                                    &format!(
                                        "550 5.1.1 <{}> is not a mailbox of this server",
                                        clip(&address, 100)
                                    ),
                                )
                                .await?;
                            }
                            Err(_) => {
                                reply(
                                    &mut w,
                                    "451 4.3.0 the database is unavailable; try again later",
                                )
                                .await?;
                            }
                        }
                    }
                    "DATA" => {
                        let Some(t) = tx.take() else {
                            errors += 1;
                            reply(&mut w, "503 5.5.1 send MAIL FROM and RCPT TO first").await?;
                            continue;
                        };
                        if t.recipients.is_empty() {
                            errors += 1;
                            reply(&mut w, "503 5.5.1 no valid recipients").await?;
                            continue;
                        }
                        reply(
                            &mut w,
                            "354 send the message, end with a line holding a single dot",
                        )
                        .await?;
                        w.flush().await?;
                        let message = match read_message(
                            &mut r,
                            &mut line,
                            max_size,
                            config.data_timeout,
                        )
                        .await?
                        {
                            Data::Message(m) => Some(m),
                            Data::TooLarge => None,
                            Data::Eof => return Ok(()),
                            Data::Timeout => {
                                reply(&mut w, &format!("421 4.4.2 {host} the message stopped arriving; closing the connection")).await?;
                                return w.flush().await;
                            }
                        };
                        for answer in deliver(&db, &config, t, message).await {
                            if answer.starts_with('4') {
                                // The database failed: look recipients up
                                // again, so the next RCPT says so too.
                                known.clear();
                            }
                            reply(&mut w, &answer).await?;
                        }
                    }
                    "RSET" => {
                        tx = None;
                        reply(&mut w, "250 2.0.0 OK").await?;
                    }
                    "NOOP" => reply(&mut w, "250 2.0.0 OK").await?,
                    "QUIT" => {
                        reply(&mut w, &format!("221 2.0.0 {host} closing the connection")).await?;
                        return w.flush().await;
                    }
                    "VRFY" => reply(&mut w, "252 2.5.0 cannot verify; send the message").await?,
                    "HELP" => reply(&mut w, "214 2.0.0 LHLO MAIL RCPT DATA RSET NOOP QUIT").await?,
                    _ => {
                        errors += 1;
                        reply(
                            &mut w,
                            &format!("500 5.5.2 unknown command '{}'", clip(&verb, 20)),
                        )
                        .await?;
                    }
                }
            }
        }
        if errors >= 20 {
            reply(&mut w, "421 4.7.0 too many errors; closing the connection").await?;
            return w.flush().await;
        }
    }
}

enum Data {
    Message(Vec<u8>),
    TooLarge,
    Eof,
    Timeout,
}

/// Reads a message up to the line holding a single dot, undoing dot
/// stuffing. Over `max` bytes the rest is read and thrown away.
async fn read_message<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
    max: usize,
    timeout: Duration,
) -> std::io::Result<Data> {
    let mut message = Vec::new();
    let mut too_large = false;
    loop {
        // A line longer than the whole limit cannot fit: read it away.
        let read = tokio::time::timeout(timeout, read_line(r, line, max.saturating_add(3))).await;
        match read {
            Err(_) => return Ok(Data::Timeout),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Line::Eof)) => return Ok(Data::Eof),
            Ok(Ok(Line::TooLong)) => too_large = true,
            Ok(Ok(Line::Full)) => {
                if trim_eol(line) == b"." {
                    return Ok(if too_large {
                        Data::TooLarge
                    } else {
                        Data::Message(message)
                    });
                }
                let body = if line.first() == Some(&b'.') {
                    &line[1..]
                } else {
                    &line[..]
                };
                if !too_large {
                    if message.len() + body.len() > max {
                        too_large = true;
                        message = Vec::new();
                    } else {
                        message.extend_from_slice(body);
                    }
                }
            }
        }
    }
}

/// Captures the message once per distinct mailbox and answers once per
/// recipient, in RCPT order.
async fn deliver(
    db: &Db,
    config: &Arc<Config>,
    t: Transaction,
    message: Option<Vec<u8>>,
) -> Vec<String> {
    let max = config.settings.limits.max_message_bytes;
    let Some(message) = message else {
        return t
            .recipients
            .iter()
            .map(|_| {
                format!("552 5.3.4 the message is larger than {max} bytes (the message size limit)")
            })
            .collect();
    };
    let message = Arc::new(message);
    let mut results: Vec<(i64, Result<Outcome, CaptureError>)> = Vec::new();
    for rcpt in &t.recipients {
        if results.iter().any(|(id, _)| *id == rcpt.mailbox.id) {
            continue;
        }
        let config = config.clone();
        let message = message.clone();
        let mailbox = rcpt.mailbox.clone();
        let sender = t.sender.clone();
        let result = db
            .run(move |s| capture(s, &mailbox, &message, sender.as_deref(), &config.settings))
            .await;
        results.push((rcpt.mailbox.id, result));
    }
    t.recipients
        .iter()
        .map(|rcpt| {
            let result = results
                .iter()
                .find(|(id, _)| *id == rcpt.mailbox.id)
                .map(|(_, r)| r);
            let who = clip(&rcpt.address, 100);
            match result {
                Some(Ok(o)) if o.duplicate => {
                    format!("250 2.0.0 <{who}> message already captured")
                }
                Some(Ok(o)) => format!(
                    "250 2.0.0 <{who}> captured {} skipped {}",
                    o.captured, o.skipped
                ),
                Some(Err(CaptureError::Message(MessageError::TooLarge(_)))) => {
                    format!(
                        "552 5.3.4 the message is larger than {max} bytes (the message size limit)"
                    )
                }
                Some(Err(CaptureError::Message(e))) => {
                    format!("554 5.6.0 <{who}> {}", clip(&e.to_string(), 200))
                }
                Some(Err(CaptureError::Store(StoreError::NotFound(_)))) => {
                    format!("550 5.1.1 <{who}> is not a mailbox of this server")
                }
                Some(Err(CaptureError::Store(_))) | None => {
                    format!("451 4.3.0 <{who}> the database is unavailable; try again later")
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        // Found by the lmtp fuzz target: `MAIL FRO;` and a byte that is not
        // UTF-8 (read as U+FFFD, three bytes) put the keyword's end inside a
        // character, and slicing there panicked.
        assert_eq!(path_and_params("FRO;\u{FFFD}\0", "FROM:"), None);
        assert_eq!(path_and_params("FROΩ<a@b.c>", "FROM:"), None);
        assert_eq!(path_and_params("TÖ<a@b.c>", "TO:"), None);
        assert_eq!(
            path_and_params("FROM:<a@b.c> SIZE=10", "FROM:"),
            Some(("a@b.c".into(), " SIZE=10"))
        );
        assert_eq!(path_and_params("from: <>", "FROM:"), Some(("".into(), "")));
        assert_eq!(
            path_and_params("TO:<@x.org,@y.org:u@d.org>", "TO:"),
            Some(("u@d.org".into(), ""))
        );
        assert_eq!(path_and_params("TO:u@d.org", "TO:"), None);
    }

    #[tokio::test]
    async fn lines_are_bounded() {
        let data: &[u8] = b"short\r\nthis one is far too long\r\nnext\n";
        let mut r = BufReader::with_capacity(4, data);
        let mut buf = Vec::new();
        assert!(matches!(
            read_line(&mut r, &mut buf, 10).await.unwrap(),
            Line::Full
        ));
        assert_eq!(buf, b"short\r\n");
        assert!(matches!(
            read_line(&mut r, &mut buf, 10).await.unwrap(),
            Line::TooLong
        ));
        assert!(matches!(
            read_line(&mut r, &mut buf, 10).await.unwrap(),
            Line::Full
        ));
        assert_eq!(buf, b"next\n");
        assert!(matches!(
            read_line(&mut r, &mut buf, 10).await.unwrap(),
            Line::Eof
        ));
    }

    #[tokio::test]
    async fn dot_unstuffing_and_size() {
        let data: &[u8] = b"A: b\r\n\r\n..leading dot\r\n.\r\nNOOP\r\n";
        let mut r = BufReader::new(data);
        let mut line = Vec::new();
        match read_message(&mut r, &mut line, 1000, Duration::from_secs(5))
            .await
            .unwrap()
        {
            Data::Message(m) => assert_eq!(m, b"A: b\r\n\r\n.leading dot\r\n"),
            _ => panic!("expected a message"),
        }
        let mut r = BufReader::new(data);
        assert!(matches!(
            read_message(&mut r, &mut line, 10, Duration::from_secs(5))
                .await
                .unwrap(),
            Data::TooLarge
        ));
    }
}
