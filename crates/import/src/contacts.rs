//! The contacts import: parsing a row's cells, and folding each
//! batch's rows, in file order, into the final state of every contact.

use std::collections::{HashMap, HashSet};

use rustc_hash::FxHashMap;

use roster_core::field::{CustomField, CONTACT_COLUMNS};
use roster_store::{Contact, ContactWrite, Store, StoreError};

use crate::header::{Column, Plan};
use crate::pipeline::{self, Item, Kind, RowParser};
use crate::{ImportError, Input, OnExisting, Options, Outcome, Report, RowError};

const FIRST_NAME: usize = 1;
const LAST_NAME: usize = 2;
const COMPANY_ID: usize = 3;
const LABELS: usize = 4;
const LABELS_ID: usize = 5;

/// Rows per batch (one transaction each) unless `Options::batch_size` says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 4096;

/// Imports a contacts CSV into `store`.
pub fn import_contacts(
    store: &mut dyn Store,
    input: Input,
    opts: &mut Options,
) -> Result<Report, ImportError> {
    let fields = store.fields()?;
    let known_labels = store
        .labels()?
        .into_iter()
        .map(|l| (l.name, l.id))
        .collect();
    let mut kind = ContactsKind {
        fields,
        known_labels,
        on_existing: opts.on_existing,
        create_labels: opts.create_labels,
        replace_labels: opts.replace_labels,
        keep: Keep::default(),
        labels: None,
        companies: HashSet::new(),
        missing_companies: HashSet::new(),
        reloaded: false,
        created_pending: Vec::new(),
        created: Vec::new(),
    };
    pipeline::run(&mut kind, store, input, opts)
}

/// A contact row, parsed and typed; labels are still names.
pub(crate) struct ContactRow {
    first_name: Option<String>,
    last_name: Option<String>,
    company_id: Option<i64>,
    /// Ids of the `labels` names known when the import started.
    named_ids: Vec<i64>,
    /// `labels` names unknown when the import started.
    label_names: Vec<String>,
    label_ids: Vec<i64>,
    /// (field id, canonical value)
    custom: Vec<(i64, String)>,
}

#[derive(Default)]
struct Keep {
    first_name: bool,
    last_name: bool,
    company: bool,
    labels: bool,
    custom: HashSet<i64>,
}

struct LabelCache {
    by_name: HashMap<String, i64>,
    ids: HashSet<i64>,
    /// lowercase name → names, for the "did you mean" of a case mismatch.
    by_lower: HashMap<String, Vec<String>>,
}

impl LabelCache {
    fn load(store: &mut dyn Store) -> Result<Self, StoreError> {
        let mut c = LabelCache {
            by_name: HashMap::new(),
            ids: HashSet::new(),
            by_lower: HashMap::new(),
        };
        for l in store.labels()? {
            c.add(l.id, l.name);
        }
        Ok(c)
    }
    fn add(&mut self, id: i64, name: String) {
        self.ids.insert(id);
        self.by_lower
            .entry(name.to_lowercase())
            .or_default()
            .push(name.clone());
        self.by_name.insert(name, id);
    }
}

struct ContactsKind {
    fields: Vec<CustomField>,
    /// Label names and ids when the import started (for the parser).
    known_labels: HashMap<String, i64>,
    on_existing: OnExisting,
    create_labels: bool,
    replace_labels: bool,
    keep: Keep,
    /// Loaded at the first batch; dropped after a rollback.
    labels: Option<LabelCache>,
    /// Company ids known to exist.
    companies: HashSet<i64>,
    /// Company ids found missing during this batch: asked once a batch, not
    /// once a row (a file can name the same wrong id thousands of times).
    missing_companies: HashSet<i64>,
    /// Whether the label cache was reloaded during this batch already.
    reloaded: bool,
    /// Labels `--create-labels` made since the last commit, and before it.
    created_pending: Vec<String>,
    created: Vec<String>,
}

struct ContactParser {
    /// For each file column: the custom field it feeds, if any.
    fields: Vec<Option<CustomField>>,
    /// The labels that existed when the import started, by exact name, so
    /// the writer thread only looks up names created since.
    known_labels: HashMap<String, i64>,
}

fn parse_id(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl RowParser for ContactParser {
    type Row = ContactRow;

    fn parse(
        &self,
        plan: &Plan,
        cells: &[&str],
        line: u64,
        errors: &mut Vec<RowError>,
    ) -> Option<ContactRow> {
        let cell = |s: usize| plan.cell(cells, s);
        let text = |s: usize| Some(cell(s)).filter(|c| !c.is_empty()).map(str::to_string);
        let mut err = |column: &str, value: &str, message: String| {
            errors.push(RowError {
                line,
                column: Some(column.into()),
                value: Some(value.into()),
                message,
            })
        };
        let company = cell(COMPANY_ID);
        let company_id = if company.is_empty() {
            None
        } else {
            let id = parse_id(company);
            if id.is_none() {
                let hint = if company.contains(['e', 'E'])
                    && company.bytes().any(|b| b.is_ascii_digit())
                {
                    "Excel writes long numbers as 1.23457E+11; format the column as Text or Number with no decimals and export again"
                } else {
                    "use the number `roster companies list` shows"
                };
                err(
                    "company_id",
                    company,
                    format!("'{company}' is not a company id: {hint}"),
                );
            }
            id
        };
        let mut named_ids = Vec::new();
        let mut label_names = Vec::new();
        for name in cell(LABELS)
            .split(':')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match self.known_labels.get(name) {
                Some(id) => named_ids.push(*id),
                None => label_names.push(name.to_string()),
            }
        }
        let mut label_ids = Vec::new();
        for part in cell(LABELS_ID)
            .split(':')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match parse_id(part) {
                Some(id) => label_ids.push(id),
                None => err(
                    "labels_id",
                    cell(LABELS_ID),
                    format!("'{part}' is not a label id: use numbers separated by ':' (e.g. 3:7), as `roster labels list` shows"),
                ),
            }
        }
        let mut custom = Vec::new();
        for (i, f) in self.fields.iter().enumerate() {
            if let Some(f) = f {
                if !cells[i].is_empty() {
                    match f.canonicalize(cells[i]) {
                        Ok(v) => custom.push((f.id, v)),
                        Err(m) => err(&f.variable_name, cells[i], m),
                    }
                }
            }
        }
        Some(ContactRow {
            first_name: text(FIRST_NAME),
            last_name: text(LAST_NAME),
            company_id,
            named_ids,
            label_names,
            label_ids,
            custom,
        })
    }
}

impl Kind for ContactsKind {
    type Parser = ContactParser;

    fn name(&self) -> &'static str {
        "contacts"
    }

    fn standard_columns(&self) -> &'static [&'static str] {
        CONTACT_COLUMNS
    }

    fn custom_columns(&self) -> Vec<String> {
        self.fields
            .iter()
            .map(|f| f.variable_name.clone())
            .collect()
    }

    fn parser(&self, plan: &Plan) -> ContactParser {
        ContactParser {
            fields: plan
                .columns
                .iter()
                .map(|c| match c {
                    Column::Custom(i) => Some(self.fields[*i].clone()),
                    _ => None,
                })
                .collect(),
            known_labels: self.known_labels.clone(),
        }
    }

    fn default_batch_size(&self) -> usize {
        DEFAULT_BATCH_SIZE
    }

    fn check_options(&mut self, _plan: &Plan, opts: &Options) -> Result<(), ImportError> {
        for k in &opts.keep {
            match k.as_str() {
                "first_name" => self.keep.first_name = true,
                "last_name" => self.keep.last_name = true,
                "company_id" => self.keep.company = true,
                "labels" | "labels_id" => self.keep.labels = true,
                "email" => {
                    return Err(ImportError::Options(
                        "--keep email: the email is how rows match contacts and never changes; remove that --keep".into(),
                    ))
                }
                other => match self.fields.iter().find(|f| f.variable_name == other) {
                    Some(f) => {
                        self.keep.custom.insert(f.id);
                    }
                    None => {
                        let mut names: Vec<&str> = CONTACT_COLUMNS[1..].to_vec();
                        names.extend(self.fields.iter().map(|f| f.variable_name.as_str()));
                        return Err(ImportError::Options(format!(
                            "--keep '{other}' is not a contacts column; use one of: {}",
                            names.join(", ")
                        )));
                    }
                },
            }
        }
        Ok(())
    }

    fn apply(
        &mut self,
        store: &mut dyn Store,
        import_id: Option<i64>,
        items: &mut [Item<ContactRow>],
    ) -> Result<(), StoreError> {
        if self.labels.is_none() {
            self.labels = Some(LabelCache::load(store)?);
        }
        self.reloaded = false;
        self.missing_companies.clear();
        // 1. Names and ids that must exist.
        let mut resolved: Vec<Option<Vec<i64>>> = Vec::with_capacity(items.len());
        for item in items.iter_mut() {
            let Ok(row) = &item.row else {
                resolved.push(None);
                continue;
            };
            match self.resolve(store, item.line, row)? {
                Ok(ids) => resolved.push(Some(ids)),
                Err(e) => {
                    item.reject(e);
                    resolved.push(None);
                }
            }
        }
        // 2. The stored state of every email of the batch.
        let mut emails: Vec<&str> = items
            .iter()
            .filter(|i| i.row.is_ok())
            .map(|i| i.email.as_str())
            .collect();
        emails.sort_unstable();
        emails.dedup();
        let mut state: FxHashMap<String, Slot> =
            FxHashMap::with_capacity_and_hasher(emails.len(), Default::default());
        for c in store.load_contacts(&emails)? {
            state.insert(
                c.email.clone(),
                Slot {
                    stored: Some(c),
                    current: None,
                },
            );
        }
        crate::hooks::reached("load");
        // 3. Fold the rows in file order. A contact is copied only when a
        // row changes it.
        for (item, labels) in items.iter_mut().zip(resolved) {
            let (Ok(row), Some(labels)) = (&item.row, labels) else {
                continue;
            };
            let (outcome, message) = match state.get_mut(&item.email) {
                None => {
                    let mut c = Contact {
                        email: item.email.clone(),
                        ..Contact::default()
                    };
                    self.apply_row(&mut c, row, labels, false);
                    state.insert(
                        item.email.clone(),
                        Slot {
                            stored: None,
                            current: Some(c),
                        },
                    );
                    (Outcome::Created, "")
                }
                Some(_) if self.on_existing == OnExisting::Skip => (
                    Outcome::Unchanged,
                    "skipped: a contact with this email exists (--on-existing skip)",
                ),
                Some(slot) => {
                    let changes = match (&slot.current, &slot.stored) {
                        (Some(c), _) | (None, Some(c)) => self.changes(c, row, &labels),
                        (None, None) => false,
                    };
                    if changes {
                        if slot.current.is_none() {
                            slot.current = slot.stored.clone();
                        }
                        if let Some(c) = &mut slot.current {
                            self.apply_row(c, row, labels, true);
                        }
                        (Outcome::Updated, "")
                    } else {
                        (Outcome::Unchanged, "")
                    }
                }
            };
            item.outcome = outcome;
            if !message.is_empty() || !item.message.is_empty() {
                item.message = message.to_string();
            }
        }
        // 4. One write per changed contact, in email order.
        let mut writes: Vec<ContactWrite> = state
            .into_values()
            .filter_map(|s| match (s.stored, s.current) {
                (before, Some(after)) if before.as_ref().is_none_or(|b| !b.same_data(&after)) => {
                    Some(ContactWrite { before, after })
                }
                _ => None,
            })
            .collect();
        writes.sort_unstable_by(|a, b| a.after.email.cmp(&b.after.email));
        roster_store::fault::check("store.before_write")?;
        store.write_contacts(import_id, &writes)?;
        roster_store::fault::check("store.after_write")
    }

    fn rolled_back(&mut self) {
        self.labels = None;
        self.companies.clear();
        self.created_pending.clear();
    }

    fn committed(&mut self) {
        self.created.append(&mut self.created_pending);
    }

    fn finish(&mut self, report: &mut crate::Report) {
        report.labels_created = self.created.len() as u64;
        report.created_labels = self
            .created
            .iter()
            .take(crate::report::MAX_LISTED_LABELS)
            .map(|n| crate::report::clip_value(n))
            .collect();
    }
}

struct Slot {
    /// The contact as stored before this batch (None: new in this batch).
    stored: Option<Contact>,
    /// Its state after the batch's rows so far, once one changed it.
    current: Option<Contact>,
}

impl ContactsKind {
    /// The row's label ids (names and ids together), or why it is rejected.
    fn resolve(
        &mut self,
        store: &mut dyn Store,
        line: u64,
        row: &ContactRow,
    ) -> Result<Result<Vec<i64>, RowError>, StoreError> {
        if let Some(id) = row.company_id {
            if !self.companies.contains(&id) {
                if !self.missing_companies.contains(&id) && store.company_exists(id)? {
                    self.companies.insert(id);
                } else {
                    self.missing_companies.insert(id);
                    return Ok(Err(RowError {
                        line,
                        column: Some("company_id".into()),
                        value: Some(id.to_string()),
                        message: format!("there is no company {id}; create it with `roster companies add NAME` or fix the id"),
                    }));
                }
            }
        }
        let mut ids =
            Vec::with_capacity(row.named_ids.len() + row.label_names.len() + row.label_ids.len());
        ids.extend_from_slice(&row.named_ids);
        // Labels to create once the whole row is known to be accepted: a
        // rejected row writes nothing, not even a label.
        let mut to_create: Vec<&String> = Vec::new();
        for name in &row.label_names {
            let cache = self
                .labels
                .as_mut()
                .expect("label cache is loaded before resolving");
            if let Some(id) = cache.by_name.get(name) {
                ids.push(*id);
                continue;
            }
            // Another process may have created it since the cache was loaded.
            if !self.reloaded {
                *cache = LabelCache::load(store)?;
                self.reloaded = true;
                if let Some(id) = cache.by_name.get(name) {
                    ids.push(*id);
                    continue;
                }
            }
            // Known labels separated by ',' are a mistake for ':', never a
            // new label to create.
            let comma_parts: Vec<&str> = name
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            let commas =
                comma_parts.len() > 1 && comma_parts.iter().all(|p| cache.by_name.contains_key(*p));
            if self.create_labels && !commas {
                // A case variant of an existing label (or of one this row
                // creates) is the classic mistake the case hint exists
                // for: never created.
                let lower = name.to_lowercase();
                let similar = cache
                    .by_lower
                    .get(&lower)
                    .and_then(|s| s.first())
                    .or_else(|| {
                        to_create
                            .iter()
                            .copied()
                            .find(|n| *n != name && n.to_lowercase() == lower)
                    });
                if let Some(existing) = similar {
                    return Ok(Err(RowError {
                        line,
                        column: Some("labels".into()),
                        value: Some(name.clone()),
                        message: format!(
                            "there is no label '{name}', and --create-labels does not create a case variant of the label '{existing}' (label names are case-sensitive); write '{existing}', or create '{name}' with `roster labels add` first"
                        ),
                    }));
                }
                if !to_create.contains(&name) {
                    to_create.push(name);
                }
                continue;
            }
            let hint = match cache.by_lower.get(&name.to_lowercase()) {
                _ if commas => format!(
                    "labels are separated by ':', not ',': write '{}'",
                    comma_parts.join(":")
                ),
                Some(similar) => format!(
                    "label names are case-sensitive: did you mean '{}'?",
                    similar.first().map(String::as_str).unwrap_or_default()
                ),
                None => "create it with `roster labels add NAME`, or pass --create-labels".into(),
            };
            return Ok(Err(RowError {
                line,
                column: Some("labels".into()),
                value: Some(name.clone()),
                message: format!("there is no label '{name}'; {hint}"),
            }));
        }
        for id in &row.label_ids {
            let cache = self
                .labels
                .as_mut()
                .expect("label cache is loaded before resolving");
            if !cache.ids.contains(id) && !self.reloaded {
                *cache = LabelCache::load(store)?;
                self.reloaded = true;
            }
            if !cache.ids.contains(id) {
                return Ok(Err(RowError {
                    line,
                    column: Some("labels_id".into()),
                    value: Some(id.to_string()),
                    message: format!("there is no label with id {id}; see `roster labels list`"),
                }));
            }
            ids.push(*id);
        }
        for name in to_create {
            let id = store.ensure_label(name)?;
            let cache = self
                .labels
                .as_mut()
                .expect("label cache is loaded before resolving");
            cache.add(id, name.clone());
            self.created_pending.push(name.clone());
            ids.push(id);
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(Ok(ids))
    }

    /// Whether applying `row` to the existing contact `c` changes anything.
    fn changes(&self, c: &Contact, row: &ContactRow, labels: &[i64]) -> bool {
        let k = &self.keep;
        let differs = |new: &Option<String>, old: &Option<String>| new.is_some() && new != old;
        (!k.first_name && differs(&row.first_name, &c.first_name))
            || (!k.last_name && differs(&row.last_name, &c.last_name))
            || (!k.company && row.company_id.is_some() && row.company_id != c.company_id)
            || (!k.labels
                && !labels.is_empty()
                && if self.replace_labels {
                    labels != c.labels.as_slice()
                } else {
                    labels.iter().any(|l| c.labels.binary_search(l).is_err())
                })
            || row
                .custom
                .iter()
                .any(|(fid, v)| !k.custom.contains(fid) && c.custom.get(fid) != Some(v))
    }

    /// Applies one row to `c`; `existing` says whether `--keep` protects it.
    /// The row itself is left as it was: after a rollback (a conflict with
    /// a concurrent writer) the same rows are applied again.
    fn apply_row(&self, c: &mut Contact, row: &ContactRow, labels: Vec<i64>, existing: bool) {
        let keep = |k: bool| existing && k;
        if row.first_name.is_some() && !keep(self.keep.first_name) {
            c.first_name.clone_from(&row.first_name);
        }
        if row.last_name.is_some() && !keep(self.keep.last_name) {
            c.last_name.clone_from(&row.last_name);
        }
        if let Some(v) = row.company_id {
            if !keep(self.keep.company) {
                c.company_id = Some(v);
            }
        }
        if !labels.is_empty() && !keep(self.keep.labels) {
            if self.replace_labels {
                c.labels = labels;
            } else {
                c.labels.extend(labels);
                c.labels.sort_unstable();
                c.labels.dedup();
            }
        }
        for (fid, v) in &row.custom {
            if !keep(self.keep.custom.contains(fid)) {
                c.custom.insert(*fid, v.clone());
            }
        }
    }
}
