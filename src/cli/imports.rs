//! `roster imports list|show|undo|prune`: the record of imports and undo.

use std::io::Write;

use anyhow::{bail, Result};
use clap::Subcommand;
use roster_store::{ImportRecord, Store, StoreError, UndoConflict, UndoPlan};
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum ImportsCommand {
    /// List recorded imports (CLI and server), oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One import: its record, its report, and what undo would do.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Delete the records an import created and put back the values it changed.
    Undo {
        id: i64,
        /// Say what undo would do (and whether it would refuse); change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Undo even where a later import, edit or captured email touched the
        /// same records (those later changes are lost; the output lists them).
        #[arg(long)]
        force: bool,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Drop the undo journals of imports that ended before a time; their
    /// records and counts stay, and they can no longer be undone.
    Prune {
        /// How old: a number and a unit, e.g. 30d, 12h, 90m, 2w.
        #[arg(long, value_name = "DURATION")]
        older_than: String,
    },
}

pub fn run(store: &mut dyn Store, cmd: ImportsCommand, out: &mut dyn Write) -> Result<i32> {
    match cmd {
        ImportsCommand::List { json } => list(store, json, out),
        ImportsCommand::Show { id, json } => show(store, id, json, out),
        ImportsCommand::Undo {
            id,
            dry_run,
            force,
            json,
        } => undo(store, id, dry_run, force, json, out),
        ImportsCommand::Prune { older_than } => prune(store, &older_than, out),
    }
}

/// The record with a running import whose importer is gone settled as
/// interrupted.
fn settled(store: &mut dyn Store, id: i64) -> Result<ImportRecord> {
    let rec = store.import(id)?;
    Ok(roster_store::lease::settle(store, rec)?)
}

/// "undone", or "undone (incomplete: …)" for an undo stopped half-way.
fn status_text(i: &ImportRecord) -> String {
    if i.undo["state"] == "running" {
        format!(
            "undone (incomplete: the undo stopped half-way; run roster imports undo {} again)",
            i.id
        )
    } else if i.journal_pruned_at.is_some() {
        format!("{} (journal pruned)", i.status)
    } else {
        i.status.clone()
    }
}

fn counts(i: &ImportRecord) -> &Value {
    // A running import's report is not written yet: its progress says
    // what it has committed so far.
    if i.status == "running" || i.report.as_object().is_none_or(|o| o.is_empty()) {
        &i.progress
    } else {
        &i.report
    }
}

fn list(store: &mut dyn Store, json: bool, out: &mut dyn Write) -> Result<i32> {
    let mut all = Vec::new();
    for rec in store.imports()? {
        all.push(roster_store::lease::settle(store, rec)?);
    }
    if json {
        writeln!(out, "{}", serde_json::to_string(&all)?)?;
        return Ok(0);
    }
    for i in all {
        let c = counts(&i);
        let n = |k: &str| c.get(k).and_then(Value::as_u64).unwrap_or(0);
        let so_far = if i.status == "running" {
            format!(
                " (committed so far; owner {}, heartbeat {})",
                i.owner.as_deref().unwrap_or("unknown"),
                roster_store::lease::age(i.heartbeat_at.as_deref())
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\trows {} created {} updated {} unchanged {} rejected {}{so_far}",
            i.id,
            i.kind,
            status_text(&i),
            i.started_at,
            i.file_name.as_deref().unwrap_or("-"),
            n("rows"),
            n("created"),
            n("updated"),
            n("unchanged"),
            n("rejected")
        )?;
    }
    Ok(0)
}

fn plan_json(plan: &UndoPlan) -> Value {
    json!({
        "possible": plan.refused.is_none(),
        "refused": plan.refused,
        "would_delete": plan.delete,
        "would_restore": plan.restore,
        "conflict_count": plan.conflict_count,
        "conflicts": plan.conflicts,
        "needs_force": plan.refused.is_none() && plan.conflict_count > 0,
        "resumes": plan.resumes,
    })
}

fn write_conflicts(out: &mut dyn Write, list: &[UndoConflict], total: u64) -> Result<()> {
    for c in list {
        writeln!(out, "  {}: {}; undo {}", c.email, c.reason, c.undo)?;
    }
    if total > list.len() as u64 {
        writeln!(out, "  … and {} more", total - list.len() as u64)?;
    }
    Ok(())
}

/// What undo would do, in sentences.
fn write_plan(out: &mut dyn Write, plan: &UndoPlan, dry_run: bool) -> Result<()> {
    let kind = roster_store::undo::RecordKind::parse(&plan.kind)
        .unwrap_or(roster_store::undo::RecordKind::Contacts);
    if let Some(why) = &plan.refused {
        writeln!(out, "undo: refused: {why}")?;
        return Ok(());
    }
    writeln!(
        out,
        "undo {}: delete {} {} it created, restore {} it changed{}",
        if dry_run { "would" } else { "will" },
        plan.delete,
        kind.noun(plan.delete),
        plan.restore,
        if plan.resumes {
            " (an undo stopped half-way; this finishes it)"
        } else {
            ""
        }
    )?;
    if plan.conflict_count > 0 {
        writeln!(
            out,
            "{} {} changed after the import; undo refuses without --force, which would overwrite:",
            plan.conflict_count,
            if plan.conflict_count == 1 {
                "of them was"
            } else {
                "of them were"
            }
        )?;
        write_conflicts(out, &plan.conflicts, plan.conflict_count)?;
    }
    Ok(())
}

fn show(store: &mut dyn Store, id: i64, json: bool, out: &mut dyn Write) -> Result<i32> {
    let rec = settled(store, id)?;
    let plan = store.undo_plan(id)?;
    if json {
        let mut v = serde_json::to_value(&rec)?;
        v["undo_plan"] = plan_json(&plan);
        writeln!(out, "{v}")?;
        return Ok(0);
    }
    let c = counts(&rec);
    let n = |k: &str| c.get(k).and_then(Value::as_u64).unwrap_or(0);
    writeln!(
        out,
        "import {} ({}): {}",
        rec.id,
        rec.kind,
        status_text(&rec)
    )?;
    writeln!(out, "started by {} at {}", rec.started_by, rec.started_at)?;
    if let Some(f) = &rec.finished_at {
        writeln!(out, "finished at {f}")?;
    }
    writeln!(
        out,
        "file: {} ({} bytes, sha256 {})",
        rec.file_name.as_deref().unwrap_or("not recorded"),
        rec.total_bytes,
        rec.checksum.as_deref().unwrap_or("not known")
    )?;
    writeln!(out, "options: {}", rec.options)?;
    writeln!(
        out,
        "rows {} created {} updated {} unchanged {} rejected {}",
        n("rows"),
        n("created"),
        n("updated"),
        n("unchanged"),
        n("rejected")
    )?;
    if let Some(errors) = c.get("errors").and_then(Value::as_array) {
        for e in errors.iter().take(20) {
            writeln!(
                out,
                "  line {}: {}{}",
                e["line"],
                e["column"]
                    .as_str()
                    .map(|c| format!("{c}: "))
                    .unwrap_or_default(),
                e["message"].as_str().unwrap_or("")
            )?;
        }
        if errors.len() > 20 {
            writeln!(out, "  … and {} more errors", errors.len() - 20)?;
        }
    }
    if let Some(failure) = c.get("failure").and_then(Value::as_str) {
        writeln!(out, "failure: {failure}")?;
    }
    if let Some(at) = &rec.journal_pruned_at {
        writeln!(out, "journal pruned at {at}")?;
    }
    if rec.undo.is_object() {
        let u = &rec.undo;
        writeln!(
            out,
            "undo {} by {} at {}: deleted {}, restored {}, overwrote {} later change{}{}",
            if u["state"] == "done" {
                "done"
            } else {
                "stopped half-way"
            },
            u["by"].as_str().unwrap_or("?"),
            u["started_at"].as_str().unwrap_or("?"),
            u["deleted"],
            u["restored"],
            u["overwritten"],
            if u["overwritten"] == 1 { "" } else { "s" },
            if u["forced"] == true {
                " (--force)"
            } else {
                ""
            }
        )?;
    }
    if rec.status != "undone" || plan.resumes {
        write_plan(out, &plan, true)?;
    }
    Ok(0)
}

fn undo(
    store: &mut dyn Store,
    id: i64,
    dry_run: bool,
    force: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<i32> {
    // A running import whose importer is gone is interrupted (and undoable).
    settled(store, id)?;
    if dry_run {
        let plan = store.undo_plan(id)?;
        let code = if plan.refused.is_some() {
            2
        } else if plan.conflict_count > 0 && !force {
            1
        } else {
            0
        };
        if json {
            let mut v = plan_json(&plan);
            v["id"] = json!(id);
            v["kind"] = json!(plan.kind);
            v["dry_run"] = json!(true);
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "import {id} ({}), dry run: nothing was changed",
                plan.kind
            )?;
            write_plan(out, &plan, true)?;
        }
        return Ok(code);
    }
    let by = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    );
    let done = match store.undo_import(id, force, &by) {
        Ok(d) => d,
        Err(StoreError::Conflict(m)) | Err(StoreError::Stale(m)) => bail!("{m}"),
        Err(e) => return Err(e.into()),
    };
    let kind = roster_store::undo::RecordKind::parse(&done.kind)
        .unwrap_or(roster_store::undo::RecordKind::Contacts);
    if json {
        writeln!(out, "{}", serde_json::to_string(&done)?)?;
    } else {
        writeln!(
            out,
            "undid import {id}: deleted {} {} it created, restored {} it changed",
            done.deleted,
            kind.noun(done.deleted),
            done.restored
        )?;
        if done.overwritten_count > 0 {
            writeln!(
                out,
                "--force overwrote {} later change{}:",
                done.overwritten_count,
                if done.overwritten_count == 1 { "" } else { "s" }
            )?;
            write_conflicts(out, &done.overwritten, done.overwritten_count)?;
        }
    }
    Ok(0)
}

/// `30d`, `12h`, `90m`, `45s`, `2w` as seconds.
pub(crate) fn parse_duration(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        anyhow::anyhow!(
            "--older-than '{s}' is not a duration; write a number and a unit: 30d, 12h, 90m, 45s or 2w"
        )
    })?;
    let unit_secs = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" | "" => 86_400,
        "w" => 7 * 86_400,
        other => bail!(
            "--older-than '{s}' has an unknown unit '{other}'; use s, m, h, d or w (30d is thirty days)"
        ),
    };
    n.checked_mul(unit_secs)
        .ok_or_else(|| anyhow::anyhow!("--older-than '{s}' is too long; give at most a few years"))
}

fn prune(store: &mut dyn Store, older_than: &str, out: &mut dyn Write) -> Result<i32> {
    let secs = parse_duration(older_than)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let cutoff = roster_store::rfc3339_from_unix_millis(
        now.saturating_sub((secs as i64).saturating_mul(1000)),
    );
    let ids = store.prune_journals(&cutoff)?;
    if ids.is_empty() {
        writeln!(
            out,
            "no import that ended before {cutoff} still had a journal"
        )?;
    } else {
        writeln!(
            out,
            "dropped the undo journal of {} import{} that ended before {cutoff} ({}); their records and counts stay, and they can no longer be undone",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            ids.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_duration("12h").unwrap(), 12 * 3600);
        assert_eq!(parse_duration("0s").unwrap(), 0);
        assert_eq!(parse_duration("2w").unwrap(), 14 * 86_400);
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3y")
            .unwrap_err()
            .to_string()
            .contains("unit"));
    }
}
