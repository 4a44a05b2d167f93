//! `roster users …` and `roster import users`.

use std::io::{IsTerminal, Read, Write};

use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use roster_core::email::normalize_email;
use roster_core::password::{
    check_new_password, check_password_input, Password, PasswordPolicy, MAX_PASSWORD_BYTES,
};
use roster_import::{ImportError, Input, Options, Report};
use roster_store::{Role, Store, User, UserWrite};

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Create an admin account; the password is asked for (or read from
    /// standard input when it is not a terminal).
    CreateAdmin {
        email: String,
        #[arg(long)]
        first_name: Option<String>,
        #[arg(long)]
        last_name: Option<String>,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Read a password from standard input; exit 0 when EMAIL would sign in
    /// with it (active, password correct), 1 otherwise.
    Verify { email: String },
}

/// The password policy: production Argon2id parameters unless the test
/// suite set ROSTER_INSECURE_FAST_HASH=1.
fn policy() -> PasswordPolicy {
    PasswordPolicy::from_env()
}

pub fn import(
    store: &mut dyn Store,
    input: Input,
    opts: &mut Options,
) -> Result<Report, ImportError> {
    roster_import::import_users(store, input, opts, policy())
}

/// Reads one password: from a prompt on a terminal, else the first line of
/// standard input (its line ending removed). Whatever the door, a password
/// is at most `MAX_PASSWORD_BYTES` bytes without control characters, as
/// the users import requires.
fn read_password(prompt: &str) -> Result<Password> {
    let password = if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password(prompt)
            .map_err(|e| anyhow!("cannot read the password: {e}"))?;
        Password::new(p)
    } else {
        // One byte more than a password and its line ending may take, so a
        // longer one is told apart from one that fits.
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(MAX_PASSWORD_BYTES as u64 + 3)
            .read_to_end(&mut bytes)
            .map_err(|e| anyhow!("cannot read the password from standard input: {e}"))?;
        let line_end = bytes.iter().position(|&b| b == b'\n');
        let mut line = bytes[..line_end.unwrap_or(bytes.len())].to_vec();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        bytes.fill(0);
        if line_end.is_none() && bytes.len() > MAX_PASSWORD_BYTES + 2 {
            line.fill(0);
            bail!("the password on standard input is longer than {MAX_PASSWORD_BYTES} bytes, the maximum");
        }
        let text = String::from_utf8(line)
            .map_err(|_| anyhow!("the password on standard input is not valid UTF-8"))?;
        Password::new(text)
    };
    check_password_input(&password).map_err(|e| anyhow!("{e}"))?;
    Ok(password)
}

pub fn run(store: &mut dyn Store, cmd: UsersCommand, out: &mut dyn Write) -> Result<i32> {
    match cmd {
        UsersCommand::CreateAdmin {
            email,
            first_name,
            last_name,
        } => {
            let email = normalize_email(&email).map_err(|e| anyhow!("'{email}': {e}"))?;
            if store.user_by_email(&email)?.is_some() {
                bail!("a user with the email {email} already exists; see roster users list");
            }
            let password = read_password("Password: ")?;
            check_new_password(&password).map_err(|e| anyhow!("{e}"))?;
            let hash = policy().hash(&password).map_err(|e| anyhow!("{e}"))?;
            let user = User {
                id: 0,
                email: email.clone(),
                first_name,
                last_name,
                password_hash: hash,
                active: true,
                role: Role::Admin,
            };
            store.begin()?;
            store.write_users(
                None,
                &[UserWrite {
                    before: None,
                    after: user,
                }],
            )?;
            store.commit()?;
            let id = store
                .user_by_email(&email)?
                .map(|u| u.id)
                .unwrap_or_default();
            writeln!(out, "{id}")?;
        }
        UsersCommand::List { json } => {
            let mut all = Vec::new();
            store.each_user(&mut |u| {
                all.push(u);
                Ok(())
            })?;
            if json {
                let v: Vec<serde_json::Value> = all
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "id": u.id, "email": u.email, "first_name": u.first_name,
                            "last_name": u.last_name, "active": u.active, "role": u.role,
                        })
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string(&v)?)?;
            } else {
                for u in all {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        u.id,
                        u.email,
                        u.first_name.unwrap_or_default(),
                        u.last_name.unwrap_or_default(),
                        if u.active { "active" } else { "inactive" },
                        u.role.as_str()
                    )?;
                }
            }
        }
        UsersCommand::Verify { email } => {
            let password = read_password("Password: ")?;
            let ok = roster_store::auth::sign_in(store, policy(), &email, &password)?.is_some();
            return Ok(if ok { 0 } else { 1 });
        }
    }
    Ok(0)
}
