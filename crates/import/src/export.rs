//! `roster export contacts|users`: CSV that imports back as a no-op.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Result;
use roster_store::{Store, StoreError};

fn out_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("cannot write the export: {e}"))
}

/// Header `email,first_name,last_name,company_id,labels,labels_id` and the
/// custom fields in creation order; rows by email, labels by name (UTF-8
/// byte order both).
pub fn contacts(store: &mut dyn Store, out: &mut dyn Write) -> Result<()> {
    let fields = store.fields()?;
    let names: HashMap<i64, String> = store
        .labels()?
        .into_iter()
        .map(|l| (l.id, l.name))
        .collect();
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<&str> = roster_core::field::CONTACT_COLUMNS.to_vec();
    header.extend(fields.iter().map(|f| f.variable_name.as_str()));
    w.write_record(&header)?;
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
        w.write_record(&record).map_err(out_err)
    })?;
    w.flush()?;
    Ok(())
}

/// `email,first_name,last_name,active`, by email; never a password.
pub fn users(store: &mut dyn Store, out: &mut dyn Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["email", "first_name", "last_name", "active"])?;
    store.each_user(&mut |u| {
        w.write_record([
            u.email.as_str(),
            u.first_name.as_deref().unwrap_or(""),
            u.last_name.as_deref().unwrap_or(""),
            if u.active { "true" } else { "false" },
        ])
        .map_err(out_err)
    })?;
    w.flush()?;
    Ok(())
}
