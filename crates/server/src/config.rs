//! The server's configuration. Each setting comes from, in order of
//! precedence: a command-line flag, a `ROSTER_*` environment variable (the
//! CLI merges these two), the TOML file named by `--config` /
//! `ROSTER_CONFIG`, and finally the default.

use std::path::{Path, PathBuf};

/// Settings as given by one source; `None` means "not given here".
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The database URL (`sqlite://PATH` or `postgres://…`).
    pub database: Option<String>,
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// Where the server keeps uploads and other files of its own.
    pub data_dir: Option<PathBuf>,
    /// Address of the LMTP listener; none when absent.
    pub lmtp: Option<String>,
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: Option<u64>,
    /// Largest accepted email (LMTP and the API), in bytes.
    pub max_message_bytes: Option<usize>,
    /// No-reply sender patterns, comma-separated (`*` wildcard); they
    /// replace the built-in list.
    pub no_reply: Option<String>,
    /// Seconds an LMTP client may stay silent before it is disconnected.
    pub lmtp_timeout_secs: Option<u64>,
    /// Days an import's upload and result files are kept after it ends.
    pub keep_import_files_days: Option<u64>,
    /// Database connections (and so concurrent request jobs).
    pub db_connections: Option<usize>,
    /// `text` or `json`.
    pub log_format: Option<String>,
    /// Always mark the session cookie `Secure` (set this behind TLS).
    pub cookie_secure: Option<bool>,
    /// Hours a session lasts after sign-in.
    pub session_hours: Option<u64>,
    /// Failed sign-ins allowed per account per window.
    pub signin_account_attempts: Option<u32>,
    /// Failed sign-ins allowed per client address per window.
    pub signin_address_attempts: Option<u32>,
    /// The rate-limit window, in seconds.
    pub signin_window_secs: Option<u64>,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy
    /// you run).
    pub trust_proxy: Option<bool>,
    /// Tuning: the most search matches fetched through the index before a
    /// search walks the email order instead.
    pub search_index_candidates: Option<usize>,
    /// Tuning: the most rows one list request examines.
    pub search_scan_budget: Option<usize>,
}

impl Settings {
    /// Reads a TOML file of settings (the keys are the field names above).
    pub fn from_file(path: &Path) -> Result<Settings, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the configuration file '{}': {e}",
                path.display()
            )
        })?;
        toml::from_str(&text).map_err(|e| {
            format!(
                "the configuration file '{}' cannot be used: {}",
                path.display(),
                e.to_string().trim()
            )
        })
    }

    /// `self`, with what it lacks taken from `lower`.
    pub fn or(self, lower: Settings) -> Settings {
        Settings {
            database: self.database.or(lower.database),
            listen: self.listen.or(lower.listen),
            data_dir: self.data_dir.or(lower.data_dir),
            lmtp: self.lmtp.or(lower.lmtp),
            max_upload_bytes: self.max_upload_bytes.or(lower.max_upload_bytes),
            max_message_bytes: self.max_message_bytes.or(lower.max_message_bytes),
            no_reply: self.no_reply.or(lower.no_reply),
            lmtp_timeout_secs: self.lmtp_timeout_secs.or(lower.lmtp_timeout_secs),
            keep_import_files_days: self.keep_import_files_days.or(lower.keep_import_files_days),
            db_connections: self.db_connections.or(lower.db_connections),
            log_format: self.log_format.or(lower.log_format),
            cookie_secure: self.cookie_secure.or(lower.cookie_secure),
            session_hours: self.session_hours.or(lower.session_hours),
            signin_account_attempts: self
                .signin_account_attempts
                .or(lower.signin_account_attempts),
            signin_address_attempts: self
                .signin_address_attempts
                .or(lower.signin_address_attempts),
            signin_window_secs: self.signin_window_secs.or(lower.signin_window_secs),
            trust_proxy: self.trust_proxy.or(lower.trust_proxy),
            search_index_candidates: self
                .search_index_candidates
                .or(lower.search_index_candidates),
            search_scan_budget: self.search_scan_budget.or(lower.search_scan_budget),
        }
    }
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: String,
    pub listen: String,
    pub data_dir: PathBuf,
    pub lmtp: Option<String>,
    pub max_upload_bytes: u64,
    /// How mail is captured: the message size limit, no-reply patterns.
    pub mail: roster_mail::Settings,
    /// Seconds an LMTP client may stay silent.
    pub lmtp_timeout_secs: u64,
    pub keep_import_files_days: u64,
    pub db_connections: usize,
    pub log_json: bool,
    pub cookie_secure: bool,
    pub session_hours: u64,
    pub signin_account_attempts: u32,
    pub signin_address_attempts: u32,
    pub signin_window_secs: u64,
    pub trust_proxy: bool,
    pub search_index_candidates: usize,
    pub search_scan_budget: usize,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 2 * 1024 * 1024 * 1024;

impl Config {
    /// Fills in the defaults; refuses values that cannot work.
    pub fn resolve(s: Settings) -> Result<Config, String> {
        let log_json = match s.log_format.as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(format!(
                    "log format '{}' is not known; use text or json",
                    crate::error::truncate(other)
                ))
            }
        };
        let db_connections = s.db_connections.unwrap_or(4);
        if db_connections == 0 || db_connections > 256 {
            return Err(format!(
                "db_connections is {db_connections}; use a number from 1 to 256"
            ));
        }
        let max_message_bytes = s
            .max_message_bytes
            .unwrap_or(roster_mail::DEFAULT_MAX_MESSAGE_BYTES);
        if max_message_bytes == 0 {
            return Err("max_message_bytes is 0; use a number of bytes, e.g. 26214400".into());
        }
        let lmtp_timeout_secs = s.lmtp_timeout_secs.unwrap_or(300);
        if lmtp_timeout_secs == 0 {
            return Err("lmtp_timeout_secs is 0; use a number of seconds, e.g. 300".into());
        }
        let mail = roster_mail::Settings {
            limits: roster_mail::Limits {
                max_message_bytes,
                ..roster_mail::Limits::default()
            },
            no_reply: s
                .no_reply
                .as_deref()
                .map(roster_mail::NoReply::parse_list)
                .unwrap_or_default(),
        };
        let window = s.signin_window_secs.unwrap_or(15 * 60);
        if window == 0 {
            return Err("signin_window_secs is 0; use a number of seconds, e.g. 900".into());
        }
        Ok(Config {
            database: s
                .database
                .unwrap_or_else(|| roster_store::DEFAULT_URL.to_string()),
            listen: s.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
            data_dir: s.data_dir.unwrap_or_else(|| PathBuf::from("roster-data")),
            lmtp: s.lmtp,
            max_upload_bytes: s.max_upload_bytes.unwrap_or(DEFAULT_MAX_UPLOAD_BYTES),
            mail,
            lmtp_timeout_secs,
            keep_import_files_days: s.keep_import_files_days.unwrap_or(30),
            db_connections,
            log_json,
            cookie_secure: s.cookie_secure.unwrap_or(false),
            session_hours: s.session_hours.unwrap_or(7 * 24).max(1),
            signin_account_attempts: s.signin_account_attempts.unwrap_or(5),
            signin_address_attempts: s.signin_address_attempts.unwrap_or(20),
            signin_window_secs: window,
            trust_proxy: s.trust_proxy.unwrap_or(false),
            search_index_candidates: s
                .search_index_candidates
                .unwrap_or(roster_store::directory::INDEX_CANDIDATES)
                .max(1),
            search_scan_budget: s
                .search_scan_budget
                .unwrap_or(roster_store::directory::SCAN_BUDGET)
                .max(1),
        })
    }

    /// A configuration for tests and embedding: this database, defaults
    /// otherwise.
    pub fn for_database(url: &str) -> Config {
        Config::resolve(Settings {
            database: Some(url.to_string()),
            ..Settings::default()
        })
        .expect("the defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let file: Settings = toml::from_str(
            "listen = \"0.0.0.0:9000\"\nmax_upload_bytes = 10\nlog_format = \"json\"",
        )
        .unwrap();
        let flags = Settings {
            listen: Some("127.0.0.1:1".into()),
            ..Settings::default()
        };
        let c = Config::resolve(flags.or(file)).unwrap();
        assert_eq!(c.listen, "127.0.0.1:1");
        assert_eq!(c.max_upload_bytes, 10);
        assert!(c.log_json);
        assert_eq!(c.db_connections, 4);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let e = toml::from_str::<Settings>("lisen = \"x\"").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let e = Config::resolve(Settings {
            log_format: Some("xml".into()),
            ..Settings::default()
        })
        .unwrap_err();
        assert!(e.contains("text or json"), "{e}");
    }
}
