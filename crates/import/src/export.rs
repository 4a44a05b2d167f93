//! `roster export contacts|users` (and the server's export route): CSV
//! that imports back as a no-op, or, with `formula_safe`, CSV whose cells
//! a spreadsheet never runs as formulas (see `roster_core::spreadsheet`).

use std::collections::HashMap;
use std::io::Write;

use roster_core::spreadsheet::neutralise;
use roster_store::{Store, StoreError};

fn out_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("cannot write the export: {e}"))
}

/// How an export is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Neutralise cells starting with `=`, `+`, `-`, `@`, tab or CR (a
    /// leading `'`), for a file opened in a spreadsheet. Off by default:
    /// the default export is the exact round trip.
    pub formula_safe: bool,
}

fn write_row<W: Write>(
    w: &mut csv::Writer<W>,
    record: &[impl AsRef<str>],
    opts: ExportOptions,
) -> Result<(), StoreError> {
    if opts.formula_safe {
        w.write_record(record.iter().map(|c| neutralise(c.as_ref()).into_owned()))
    } else {
        w.write_record(record.iter().map(AsRef::as_ref))
    }
    .map_err(out_err)
}

/// Header `email,first_name,last_name,company_id,labels,labels_id` and the
/// custom fields in creation order; rows by email, labels by name (UTF-8
/// byte order both).
pub fn contacts(
    store: &mut dyn Store,
    out: &mut dyn Write,
    opts: ExportOptions,
) -> Result<(), StoreError> {
    let fields = store.fields()?;
    let names: HashMap<i64, String> = store
        .labels()?
        .into_iter()
        .map(|l| (l.id, l.name))
        .collect();
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<&str> = roster_core::field::CONTACT_COLUMNS.to_vec();
    header.extend(fields.iter().map(|f| f.variable_name.as_str()));
    w.write_record(&header).map_err(out_err)?;
    let mut record: Vec<String> = Vec::with_capacity(header.len());
    store.each_contact(&mut |c| {
        let mut labels: Vec<(&str, i64)> = c
            .labels
            .iter()
            .map(|id| (names.get(id).map(String::as_str).unwrap_or(""), *id))
            .collect();
        labels.sort_unstable();
        record.clear();
        record.push(c.email);
        record.push(c.first_name.unwrap_or_default());
        record.push(c.last_name.unwrap_or_default());
        record.push(c.company_id.map(|i| i.to_string()).unwrap_or_default());
        record.push(labels.iter().map(|l| l.0).collect::<Vec<_>>().join(":"));
        record.push(
            labels
                .iter()
                .map(|l| l.1.to_string())
                .collect::<Vec<_>>()
                .join(":"),
        );
        for f in &fields {
            record.push(c.custom.get(&f.id).cloned().unwrap_or_default());
        }
        write_row(&mut w, &record, opts)
    })?;
    w.flush().map_err(out_err)?;
    Ok(())
}

/// `email,first_name,last_name,active`, by email; never a password.
pub fn users(
    store: &mut dyn Store,
    out: &mut dyn Write,
    opts: ExportOptions,
) -> Result<(), StoreError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["email", "first_name", "last_name", "active"])
        .map_err(out_err)?;
    store.each_user(&mut |u| {
        write_row(
            &mut w,
            &[
                u.email.as_str(),
                u.first_name.as_deref().unwrap_or(""),
                u.last_name.as_deref().unwrap_or(""),
                if u.active { "true" } else { "false" },
            ],
            opts,
        )
    })?;
    w.flush().map_err(out_err)?;
    Ok(())
}
