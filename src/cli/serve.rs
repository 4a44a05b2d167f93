//! `roster serve` and `roster tokens …`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use roster_server::{Config, Settings};
use roster_store::Store;

/// `roster serve`: every flag also reads a `ROSTER_*` variable; both win
/// over the `--config` file, which wins over the defaults.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ROSTER_LISTEN")]
    listen: Option<String>,
    /// Folder for the server's own files (uploads) [default: roster-data].
    #[arg(long, env = "ROSTER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Also accept mail over LMTP on this address (e.g. 127.0.0.1:2424).
    #[arg(long, env = "ROSTER_LMTP")]
    lmtp: Option<String>,
    /// Largest accepted upload in bytes [default: 2 GiB].
    #[arg(long, env = "ROSTER_MAX_UPLOAD_BYTES")]
    max_upload_bytes: Option<u64>,
    /// Largest accepted email (LMTP and the API) in bytes [default: 25 MiB].
    #[arg(long, env = "ROSTER_MAX_MESSAGE_BYTES")]
    max_message_bytes: Option<usize>,
    /// No-reply sender patterns, comma-separated, replacing the built-in list (see docs/mail.md).
    #[arg(long, env = "ROSTER_MAIL_NO_REPLY", value_name = "PATTERNS")]
    no_reply: Option<String>,
    /// Seconds an LMTP client may stay silent before it is disconnected [default: 300].
    #[arg(long, env = "ROSTER_LMTP_TIMEOUT_SECS")]
    lmtp_timeout_secs: Option<u64>,
    /// Days an import's upload and result files are kept after it ends;
    /// its record and counts stay [default: 30].
    #[arg(long, env = "ROSTER_KEEP_IMPORT_FILES_DAYS")]
    keep_import_files_days: Option<u64>,
    /// Database connections, and so requests served at once [default: 4].
    #[arg(long, env = "ROSTER_DB_CONNECTIONS")]
    db_connections: Option<usize>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "ROSTER_LOG_FORMAT")]
    log_format: Option<String>,
    /// Always mark the session cookie Secure (set it when serving over TLS).
    #[arg(long, env = "ROSTER_COOKIE_SECURE")]
    cookie_secure: Option<bool>,
    /// Hours a session lasts after sign-in [default: 168].
    #[arg(long, env = "ROSTER_SESSION_HOURS")]
    session_hours: Option<u64>,
    /// Failed sign-ins allowed per account per window [default: 5].
    #[arg(long, env = "ROSTER_SIGNIN_ACCOUNT_ATTEMPTS")]
    signin_account_attempts: Option<u32>,
    /// Failed sign-ins allowed per client address per window [default: 20].
    #[arg(long, env = "ROSTER_SIGNIN_ADDRESS_ATTEMPTS")]
    signin_address_attempts: Option<u32>,
    /// The sign-in rate-limit window in seconds [default: 900].
    #[arg(long, env = "ROSTER_SIGNIN_WINDOW_SECS")]
    signin_window_secs: Option<u64>,
    /// Take the client address from X-Forwarded-For (only behind your own proxy).
    #[arg(long, env = "ROSTER_TRUST_PROXY")]
    trust_proxy: Option<bool>,
    /// Tuning: most search matches fetched through the index [default: 5000].
    #[arg(long, env = "ROSTER_SEARCH_INDEX_CANDIDATES", hide = true)]
    search_index_candidates: Option<usize>,
    /// Tuning: most rows one list request examines [default: 20000].
    #[arg(long, env = "ROSTER_SEARCH_SCAN_BUDGET", hide = true)]
    search_scan_budget: Option<usize>,
    /// A TOML file of settings (the flags' names with '_' for '-').
    #[arg(long, env = "ROSTER_CONFIG")]
    config: Option<PathBuf>,
}

/// `database` is Some when --database or ROSTER_DATABASE_URL gave it.
pub fn serve(args: ServeArgs, database: Option<String>) -> Result<i32> {
    let given = Settings {
        database,
        listen: args.listen,
        data_dir: args.data_dir,
        lmtp: args.lmtp,
        max_upload_bytes: args.max_upload_bytes,
        max_message_bytes: args.max_message_bytes,
        no_reply: args.no_reply,
        lmtp_timeout_secs: args.lmtp_timeout_secs,
        keep_import_files_days: args.keep_import_files_days,
        db_connections: args.db_connections,
        log_format: args.log_format,
        cookie_secure: args.cookie_secure,
        session_hours: args.session_hours,
        signin_account_attempts: args.signin_account_attempts,
        signin_address_attempts: args.signin_address_attempts,
        signin_window_secs: args.signin_window_secs,
        trust_proxy: args.trust_proxy,
        search_index_candidates: args.search_index_candidates,
        search_scan_budget: args.search_scan_budget,
    };
    let file = match &args.config {
        Some(path) => Settings::from_file(path).map_err(|e| anyhow!(e))?,
        None => Settings::default(),
    };
    let config = Config::resolve(given.or(file)).map_err(|e| anyhow!(e))?;
    roster_server::init_logging(config.log_json);
    roster_server::serve(config)?;
    Ok(0)
}

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Create an API token for a user; prints the token alone (shown once).
    Create {
        #[arg(long)]
        user: String,
        /// What the token is for ("deploy script").
        #[arg(long)]
        name: Option<String>,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id; it stops working at once.
    Revoke { id: i64 },
}

pub fn tokens(store: &mut dyn Store, cmd: TokensCommand, out: &mut dyn Write) -> Result<i32> {
    match cmd {
        TokensCommand::Create { user, name } => {
            let email = user.trim().to_lowercase();
            let Some(u) = store.user_by_email(&email)? else {
                bail!("there is no user {email}; see roster users list");
            };
            if !u.active {
                bail!("the user {email} is deactivated; their tokens would not work");
            }
            let token = roster_server::auth::create_token(store, &u, name.as_deref())?;
            writeln!(out, "{token}")?;
        }
        TokensCommand::List { json } => {
            let all = store.tokens()?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&all)?)?;
            } else {
                for t in all {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}",
                        t.id,
                        t.user_email,
                        t.name.unwrap_or_default(),
                        t.created_at,
                        t.revoked_at
                            .map(|r| format!("revoked {r}"))
                            .unwrap_or_else(|| "active".into())
                    )?;
                }
            }
        }
        TokensCommand::Revoke { id } => {
            if !store.revoke_token(id)? {
                bail!("there is no active token {id}; see roster tokens list");
            }
            writeln!(out, "revoked token {id}")?;
        }
    }
    Ok(0)
}
