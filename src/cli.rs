//! Command-line parsing and the `roster` commands. Each command opens the
//! store named by `--database`, calls the library and prints the result.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use roster_core::field::{check_variable_name, FieldType};
use roster_import::{DecodeOptions, Input, OnExisting, Options, Report};
use roster_store::{NewField, Store};

mod imports;
mod mail;
mod serve;
mod users;

#[derive(Parser)]
#[command(
    name = "roster",
    version,
    about = "A people directory for a shared-inbox helpdesk, with bulk CSV import."
)]
struct Cli {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, global = true, env = "ROSTER_DATABASE_URL", default_value = roster_store::DEFAULT_URL)]
    database: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database (or migrate it to the current schema).
    Init,
    /// Import a CSV file ('-' reads standard input).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write every contact or user as CSV on standard output.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Companies contacts can belong to.
    #[command(subcommand)]
    Companies(NamedCommand),
    /// Labels (case-sensitive names).
    #[command(subcommand)]
    Labels(NamedCommand),
    /// Custom contact fields.
    #[command(subcommand)]
    Fields(FieldsCommand),
    /// The record of imports, and undo.
    #[command(subcommand)]
    Imports(imports::ImportsCommand),
    /// The helpdesk team's accounts.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// API tokens (for scripts: Authorization: Bearer TOKEN).
    #[command(subcommand)]
    Tokens(serve::TokensCommand),
    /// Run the HTTP server: the API and the web UI.
    Serve(serve::ServeArgs),
    /// Mailboxes whose received mail becomes contacts.
    #[command(subcommand)]
    Mailboxes(mail::MailboxesCommand),
    /// Received mail (see docs/mail.md).
    #[command(subcommand)]
    Mail(mail::MailCommand),
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import contacts (columns and rules: docs/csv.md).
    Contacts(ImportArgs),
    /// Import the team's users (columns and rules: docs/csv.md).
    Users(ImportArgs),
}

#[derive(Subcommand)]
enum ExportCommand {
    /// email,first_name,last_name,company_id,labels,labels_id and the custom fields.
    Contacts(ExportArgs),
    /// email,first_name,last_name,active (never passwords).
    Users(ExportArgs),
}

#[derive(clap::Args)]
struct ExportArgs {
    /// For a file to open in a spreadsheet: a cell starting with =, +, -, @,
    /// tab or carriage return gets a leading ' so it is never run as a
    /// formula. Such a file no longer imports back unchanged; leave this off
    /// for backups and round trips (docs/export.md).
    #[arg(long)]
    formula_safe: bool,
}

#[derive(Subcommand)]
enum NamedCommand {
    /// Add one; prints its id alone.
    Add { name: String },
    /// List them.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum FieldsCommand {
    /// Add a custom field; prints its id alone.
    Add {
        /// The column name in CSV files: [a-z][a-z0-9_]*.
        variable: String,
        #[arg(long = "type", value_enum)]
        field_type: FieldTypeArg,
        /// Options of a select field, comma-separated.
        #[arg(long)]
        options: Option<String>,
        /// The name shown to people (default: the variable name).
        #[arg(long)]
        name: Option<String>,
    },
    /// List them in creation order.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FieldTypeArg {
    Text,
    Number,
    Boolean,
    Date,
    Select,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnExistingArg {
    Update,
    Skip,
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The CSV file, or '-' for standard input.
    file: String,
    /// Character encoding (utf-8, utf-16le, utf-16be, windows-1252, …); detected when absent.
    #[arg(long)]
    encoding: Option<String>,
    /// Field delimiter: ',', ';', 'tab' (detected from the header when absent).
    #[arg(long)]
    delimiter: Option<String>,
    /// Rename a column of the file: --map 'E-mail Address=email' (repeatable);
    /// --map auto recognises Google, Outlook, HubSpot, Mailchimp, Zendesk,
    /// Intercom, Freshdesk, Zammad and Chatwoot exports and ignores the rest.
    #[arg(long = "map", value_name = "FROM=TO")]
    maps: Vec<String>,
    /// Ignore every column that is not ours as written instead of refusing the file.
    #[arg(long)]
    ignore_unknown_columns: bool,
    /// What to do with a row whose email matches an existing record.
    #[arg(long, value_enum, default_value = "update")]
    on_existing: OnExistingArg,
    /// Never change this column on an existing record (repeatable).
    #[arg(long, value_name = "COLUMN")]
    keep: Vec<String>,
    /// Write nothing at all if any row is rejected.
    #[arg(long)]
    atomic: bool,
    /// Validate and report what would happen; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Write the rejected rows, with the original header, to FILE.
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Write line,email,outcome,message for every row to FILE.
    #[arg(long, value_name = "FILE")]
    outcomes: Option<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Create labels named in the file that do not exist (contacts).
    #[arg(long)]
    create_labels: bool,
    /// Make the row's labels the contact's whole set instead of adding (contacts).
    #[arg(long)]
    replace_labels: bool,
    /// Rows per transaction (tuning; the result never depends on it).
    #[arg(long, hide = true)]
    batch_size: Option<usize>,
    /// The longest value a file may hold, in bytes; a longer one refuses the file.
    #[arg(long, value_name = "BYTES", default_value_t = roster_import::guard::DEFAULT_MAX_FIELD_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_field_bytes: u64,
    /// The most columns a file may have; more refuses the file.
    #[arg(long, value_name = "N", default_value_t = roster_import::guard::DEFAULT_MAX_COLUMNS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    max_columns: usize,
}

pub fn main() -> i32 {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|c| (c, m)));
    let (cli, matches) = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // `serve` lets its configuration file name the database, below the
    // flag and the environment but above the default.
    let database_given = matches.value_source("database") != Some(ValueSource::DefaultValue);
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args, database_given.then(|| cli.database.clone())),
        command => run(Cli {
            database: cli.database,
            command,
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                msg.push_str(": ");
                msg.push_str(&cause.to_string());
            }
            eprintln!("error: {msg}");
            2
        }
    }
}

fn open(url: &str) -> Result<Box<dyn Store>> {
    roster_store::open(url).map_err(|e| anyhow!("{e}"))
}

fn run(cli: Cli) -> Result<i32> {
    let cli = match cli.command {
        Command::Mail(cmd) => return Ok(mail::deliver(&cli.database, cmd)),
        command => Cli { command, ..cli },
    };
    // Only `init` and the imports create a missing SQLite database.
    let mut store = if matches!(cli.command, Command::Init | Command::Import(_)) {
        open(&cli.database)?
    } else {
        roster_store::open_existing(&cli.database).map_err(|e| anyhow!("{e}"))?
    };
    let store = store.as_mut();
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Init => {
            eprintln!("database ready: {}", cli.database);
        }
        Command::Companies(NamedCommand::Add { name }) => {
            let name = checked_name(&name, "company")?;
            writeln!(out, "{}", store.add_company(&name)?)?;
        }
        Command::Companies(NamedCommand::List { json }) => {
            let all = store.companies()?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&all)?)?;
            } else {
                for c in all {
                    writeln!(out, "{}\t{}", c.id, c.name)?;
                }
            }
        }
        Command::Labels(NamedCommand::Add { name }) => {
            let name = checked_name(&name, "label")?;
            if name.contains(':') {
                bail!("a label name cannot contain ':' (it separates labels in CSV files); choose another name");
            }
            writeln!(out, "{}", store.add_label(&name)?)?;
        }
        Command::Labels(NamedCommand::List { json }) => {
            let all = store.labels()?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&all)?)?;
            } else {
                for l in all {
                    writeln!(out, "{}\t{}", l.id, l.name)?;
                }
            }
        }
        Command::Fields(FieldsCommand::Add {
            variable,
            field_type,
            options,
            name,
        }) => {
            writeln!(
                out,
                "{}",
                add_field(store, variable, field_type, options, name)?
            )?;
        }
        Command::Fields(FieldsCommand::List { json }) => {
            let all = store.fields()?;
            if json {
                let v: Vec<serde_json::Value> = all
                    .iter()
                    .map(|f| {
                        serde_json::json!({
                            "id": f.id, "name": f.name, "variable_name": f.variable_name,
                            "type": f.field_type.as_str(), "options": f.options,
                        })
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string(&v)?)?;
            } else {
                for f in all {
                    let opts = if f.options.is_empty() {
                        String::new()
                    } else {
                        format!("\t{}", f.options.join(","))
                    };
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}{opts}",
                        f.id, f.variable_name, f.field_type, f.name
                    )?;
                }
            }
        }
        Command::Import(ImportCommand::Contacts(args)) => {
            return import(store, args, Kind::Contacts)
        }
        Command::Import(ImportCommand::Users(args)) => return import(store, args, Kind::Users),
        Command::Export(ExportCommand::Contacts(args)) => roster_import::export::contacts(
            store,
            &mut out,
            roster_import::export::ExportOptions {
                formula_safe: args.formula_safe,
            },
        )?,
        Command::Export(ExportCommand::Users(args)) => roster_import::export::users(
            store,
            &mut out,
            roster_import::export::ExportOptions {
                formula_safe: args.formula_safe,
            },
        )?,
        Command::Imports(cmd) => return imports::run(store, cmd, &mut out),
        Command::Users(cmd) => return users::run(store, cmd, &mut out),
        Command::Tokens(cmd) => return serve::tokens(store, cmd, &mut out),
        Command::Serve(_) => unreachable!("serve runs before the store is opened"),
        Command::Mailboxes(cmd) => return mail::mailboxes(store, cmd, &mut out),
        Command::Mail(cmd) => return Ok(mail::deliver(&cli.database, cmd)),
    }
    Ok(0)
}

fn checked_name(name: &str, what: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        bail!("the {what} name is empty; give a name");
    }
    if trimmed != name {
        bail!("the {what} name '{name}' has surrounding spaces, which CSV import would trim away; use '{trimmed}'");
    }
    Ok(trimmed.to_string())
}

fn add_field(
    store: &mut dyn Store,
    variable: String,
    field_type: FieldTypeArg,
    options: Option<String>,
    name: Option<String>,
) -> Result<i64> {
    check_variable_name(&variable).map_err(|m| anyhow!(m))?;
    let field_type = match field_type {
        FieldTypeArg::Text => FieldType::Text,
        FieldTypeArg::Number => FieldType::Number,
        FieldTypeArg::Boolean => FieldType::Boolean,
        FieldTypeArg::Date => FieldType::Date,
        FieldTypeArg::Select => FieldType::Select,
    };
    let options: Vec<String> = options
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty())
        .collect();
    match (field_type, options.is_empty()) {
        (FieldType::Select, true) => {
            bail!("a select field needs its options: --options 'Gold,Silver,Bronze'")
        }
        (FieldType::Select, false) => {}
        (_, false) => bail!("--options only applies to --type select"),
        _ => {}
    }
    let mut unique = options.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != options.len() {
        bail!("--options lists an option twice; give each once");
    }
    let name = name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| variable.clone());
    Ok(store.add_field(&NewField {
        variable_name: variable,
        name,
        field_type,
        options,
    })?)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Contacts,
    Users,
}

fn parse_delimiter(s: &str) -> Result<u8> {
    match s {
        "," | "comma" => Ok(b','),
        ";" | "semicolon" => Ok(b';'),
        "\t" | "\\t" | "tab" => Ok(b'\t'),
        "|" | "pipe" => Ok(b'|'),
        other => bail!("--delimiter '{other}' is not supported; use ',', ';', 'tab' or '|'"),
    }
}

pub(crate) fn import_options(args: &ImportArgs) -> Result<Options> {
    let mut opts = Options {
        decode: DecodeOptions {
            encoding: args.encoding.clone(),
            delimiter: args.delimiter.as_deref().map(parse_delimiter).transpose()?,
        },
        maps: Vec::new(),
        map_auto: false,
        ignore_unknown_columns: args.ignore_unknown_columns,
        on_existing: match args.on_existing {
            OnExistingArg::Update => OnExisting::Update,
            OnExistingArg::Skip => OnExisting::Skip,
        },
        keep: args.keep.clone(),
        atomic: args.atomic,
        dry_run: args.dry_run,
        rejects: args.rejects.clone(),
        outcomes: args.outcomes.clone(),
        batch_size: args.batch_size,
        commit_rows: None,
        create_labels: args.create_labels,
        replace_labels: args.replace_labels,
        started_by: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        ),
        owner: None,
        limits: roster_import::Limits {
            max_field_bytes: args.max_field_bytes,
            max_columns: args.max_columns,
        },
        record: None,
        progress: None,
        job: None,
    };
    for m in &args.maps {
        opts.add_map(m).map_err(|e| anyhow!("{e}"))?;
    }
    Ok(opts)
}

fn progress_bar() -> Option<Box<dyn FnMut(roster_import::Progress) + Send>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(Box::new(move |p: roster_import::Progress| {
        if let Some(t) = p.total_bytes {
            bar.set_length(t);
        }
        bar.set_position(p.bytes);
        bar.set_message(format!("{} rows", p.rows));
        if p.total_bytes.is_some_and(|t| p.bytes >= t) {
            bar.finish_and_clear();
        }
    }))
}

/// When `message` says the database is locked: which running imports hold
/// it (as "; import 3 (contacts, …) is running"), else "".
fn lock_holders(store: &mut dyn Store, message: &str) -> String {
    if !message.contains("database file is locked") {
        return String::new();
    }
    let running: Vec<String> = store
        .imports()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.status == "running")
        .map(|r| {
            format!(
                "import {} ({}, {}, started {}, owner {})",
                r.id,
                r.kind,
                if r.options["atomic"] == serde_json::Value::Bool(true) {
                    "--atomic"
                } else {
                    "committing in batches"
                },
                r.started_at,
                r.owner.as_deref().unwrap_or("unknown")
            )
        })
        .collect();
    if running.is_empty() {
        String::new()
    } else {
        format!("; it is held by {}", running.join(", "))
    }
}

fn import(store: &mut dyn Store, args: ImportArgs, kind: Kind) -> Result<i32> {
    let mut opts = import_options(&args)?;
    if kind == Kind::Users && (args.create_labels || args.replace_labels) {
        bail!("--create-labels and --replace-labels apply to contacts only");
    }
    opts.progress = progress_bar();
    let input = if args.file == "-" {
        Input::Stdin
    } else {
        Input::Path(PathBuf::from(&args.file))
    };
    let result = match kind {
        Kind::Contacts => roster_import::import_contacts(store, input, &mut opts),
        Kind::Users => users::import(store, input, &mut opts),
    };
    let report: Report = match result {
        Ok(r) => r,
        Err(e) => {
            if args.json {
                let v = serde_json::json!({
                    "kind": match kind { Kind::Contacts => "contacts", Kind::Users => "users" },
                    "refused": e.to_string(),
                });
                println!("{v}");
            }
            eprintln!("error: {e}{}", lock_holders(store, &e.to_string()));
            return Ok(2);
        }
    };
    if let Some(f) = &report.failure {
        let holders = lock_holders(store, f);
        if !holders.is_empty() {
            eprintln!("error: {f}{holders}");
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", report.to_json())?;
    } else {
        write!(out, "{}", report.to_text())?;
    }
    out.flush().context("while writing the report")?;
    Ok(report.exit_code())
}
