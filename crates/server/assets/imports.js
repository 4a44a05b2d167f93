// Import in steps (file → columns → options → dry run → import), the live
// progress of one import, and the history with undo.
import { h, mount, field, notice, table, fmtNumber, fmtBytes, fmtTime, fmtDuration, announce } from './dom.js';
import { ApiError, get, post, qs } from './api.js';
import { alive, currentSeq, navigate } from './app.js';

const STANDARD = {
  contacts: ['email', 'first_name', 'last_name', 'company_id', 'labels', 'labels_id'],
  users: ['email', 'first_name', 'last_name', 'password', 'password_hash', 'active', 'role'],
};
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'undone']);
const PREVIEW_BYTES = 1 << 20;

// The wizard's state lives as long as the tab: moving between steps keeps it.
let wiz = null;
function fresh() {
  return { step: 1, kind: 'contacts', file: null, preview: null, mapping: {}, options: { create_labels: false, replace_labels: false, on_existing: 'update', keep: [], atomic: false }, dry: null };
}

const STEP_NAMES = ['File', 'Columns', 'Options', 'Dry run'];

function steps(current) {
  return h('ol.steps', { 'aria-label': 'Import steps' }, STEP_NAMES.map((s, i) =>
    h('li', { 'aria-current': i + 1 === current ? 'step' : null }, `${i + 1}. ${s}`)));
}

export async function importPage(main) {
  if (!wiz) wiz = fresh();
  if (wiz.step > 1 && !wiz.file) wiz.step = 1;
  const render = () => {
    const seq = currentSeq();
    const body = [stepFile, stepColumns, stepOptions, stepDryRun][wiz.step - 1](render, seq);
    mount(main, h('h1', 'Import'), steps(wiz.step), body);
    const focus = main.querySelector('h2');
    if (focus) { focus.tabIndex = -1; focus.focus(); }
  };
  render();
}

/** The query string of the import as the user set it up. */
function importQuery(extra = {}) {
  const o = wiz.options;
  const maps = [];
  let ignored = false;
  for (const col of wiz.preview.columns) {
    const to = wiz.mapping[col.name];
    if (!to) ignored = true;
    else if (to !== col.name) maps.push(`${col.name}=${to}`);
  }
  return qs({
    kind: wiz.kind,
    name: wiz.file.name,
    map: maps,
    ignore_unknown_columns: ignored,
    create_labels: wiz.kind === 'contacts' && o.create_labels,
    replace_labels: wiz.kind === 'contacts' && o.replace_labels,
    on_existing: o.on_existing,
    keep: o.keep,
    atomic: o.atomic,
    encoding: wiz.preview.encoding_flag || null,
    ...extra,
  });
}

// Step 1: kind and file ------------------------------------------------------

function stepFile(render) {
  const status = h('div');
  const kinds = h('fieldset', h('legend', 'What does the file hold?'),
    ['contacts', 'users'].map((k) => h('label.check',
      h('input', { type: 'radio', name: 'kind', value: k, checked: wiz.kind === k, onchange: () => { wiz.kind = k; } }),
      k === 'contacts' ? 'Contacts (the people who write in)' : 'Users (your team, who sign in)')));
  const input = h('input', { type: 'file', accept: '.csv,.txt,text/csv' });
  const drop = h('div.drop', h('p', 'Drop a CSV file here, or choose one:'), field('CSV file', input, { name: 'file', hint: 'Exports from Google Contacts, Outlook, HubSpot and others are recognised; you check every column next.' }));
  async function take(file) {
    if (!file) return;
    mount(status, notice('ok', `Reading the columns of ${file.name}…`));
    try {
      const partial = file.size > PREVIEW_BYTES;
      const preview = await post(`/api/imports/preview${qs({ kind: wiz.kind, partial })}`, partial ? file.slice(0, PREVIEW_BYTES) : file, { headers: { 'Content-Type': 'text/csv' } });
      wiz.file = file;
      wiz.preview = preview;
      wiz.mapping = {};
      for (const c of preview.columns) wiz.mapping[c.name] = c.suggested || '';
      wiz.dry = null;
      wiz.step = 2;
      render();
    } catch (e) {
      mount(status, notice('error', e.message));
    }
  }
  input.addEventListener('change', () => take(input.files[0]));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); take(e.dataTransfer.files[0]); });
  return h('section', h('h2', 'Choose what to import'), kinds, drop, status,
    h('p.muted', 'Nothing is written until the last step; a dry run shows what would happen first.'));
}

// Step 2: columns --------------------------------------------------------------

function targets() {
  const p = wiz.preview;
  const custom = wiz.kind === 'contacts' ? (p.custom_fields || []) : [];
  return STANDARD[wiz.kind].concat(custom);
}

function newLabels() {
  const out = new Set();
  for (const col of wiz.preview.columns) {
    if (wiz.mapping[col.name] === 'labels') (col.unknown_labels || []).forEach((l) => out.add(l));
  }
  return [...out];
}

function stepColumns(render) {
  const p = wiz.preview;
  const all = targets();
  const status = h('div');
  const labelsNote = h('div');
  const showLabels = () => {
    const fresh = newLabels();
    mount(labelsNote, fresh.length
      ? notice('warn', `Labels in the file that do not exist yet (${fresh.length}${p.complete ? '' : ' in the rows read'}): `,
        fresh.slice(0, 50).map((l) => h('span.chip', l)), fresh.length > 50 ? ' …' : null,
        h('div', 'The next step lets you create them; otherwise the rows that name them are rejected.'))
      : null);
  };
  const rows = p.columns.map((col) => {
    const sel = h('select', { 'aria-label': `Import column “${col.name}” as` },
      h('option', { value: '' }, 'Ignore this column'),
      all.map((t) => h('option', { value: t, selected: wiz.mapping[col.name] === t }, t)));
    sel.addEventListener('change', () => { wiz.mapping[col.name] = sel.value; showLabels(); });
    return [
      h('strong', col.name === '' ? '(no name)' : col.name),
      h('span.sample', (col.samples || []).filter(Boolean).slice(0, 3).join(' · ') || '(empty)'),
      `${fmtNumber(col.filled)} of ${fmtNumber(p.rows)}`,
      [sel, col.reason ? h('div.hint', col.suggested ? `Recognised: ${col.reason}.` : `Ignored by default: ${col.reason}.`) : null],
    ];
  });
  showLabels();
  const next = h('button', { type: 'button' }, 'Next: options');
  next.addEventListener('click', () => {
    const used = Object.values(wiz.mapping).filter(Boolean);
    const dup = used.find((t, i) => used.indexOf(t) !== i);
    if (!used.includes('email')) {
      mount(status, notice('error', 'Choose which column holds the email address: every row is matched by email.'));
      return;
    }
    if (dup) {
      mount(status, notice('error', `Two columns are set to import as “${dup}”; keep one and ignore the other.`));
      return;
    }
    wiz.options.keep = wiz.options.keep.filter((k) => used.includes(k));
    wiz.step = 3;
    render();
  });
  return h('section',
    h('h2', `Columns of ${wiz.file.name}`),
    h('p.muted', `${p.complete ? 'Read the whole file' : `Read the first ${fmtNumber(p.rows)} rows`}: ${p.encoding || 'UTF-8'}, separated by ${p.delimiter === '\t' ? 'tabs' : `“${p.delimiter || ','}”`}. Each column is set to what it looks like; change any, or ignore it.`),
    table('Columns of the file', [{ title: 'Column in the file' }, { title: 'Sample values' }, { title: 'Rows filled' }, { title: 'Import as' }], rows),
    labelsNote, status,
    h('div.actions',
      h('button.secondary', { type: 'button', onclick: () => { wiz.step = 1; render(); } }, 'Back'),
      next));
}

// Step 3: options --------------------------------------------------------------

function stepOptions(render) {
  const o = wiz.options;
  const check = (key, text, hint) => h('label.check',
    h('input', { type: 'checkbox', checked: o[key], onchange: (e) => { o[key] = e.target.checked; } }),
    h('span', text, hint ? h('span.muted', ` — ${hint}`) : null));
  const mapped = Object.values(wiz.mapping).filter((t) => t && t !== 'email');
  const fresh = newLabels();
  return h('section', h('h2', 'Options'),
    wiz.kind === 'contacts' ? h('fieldset', h('legend', 'Labels'),
      check('create_labels', 'Create labels that do not exist yet', fresh.length ? `${fresh.length} would be created: ${fresh.slice(0, 8).join(', ')}${fresh.length > 8 ? ', …' : ''}` : 'otherwise a row naming an unknown label is rejected'),
      check('replace_labels', 'Replace each contact’s labels with the file’s', 'otherwise the file’s labels are added')) : null,
    h('fieldset', h('legend', 'When the email already exists'),
      ['update', 'skip'].map((v) => h('label.check',
        h('input', { type: 'radio', name: 'on_existing', value: v, checked: o.on_existing === v, onchange: () => { o.on_existing = v; } }),
        v === 'update' ? 'Update it with the file’s values (empty cells change nothing)' : 'Skip it: only create new records'))),
    mapped.length ? h('fieldset', h('legend', 'Never change these columns on existing records'),
      mapped.map((t) => h('label.check',
        h('input', { type: 'checkbox', checked: o.keep.includes(t), onchange: (e) => { o.keep = e.target.checked ? [...o.keep, t] : o.keep.filter((k) => k !== t); } }),
        t))) : null,
    h('fieldset', h('legend', 'Rejected rows'),
      check('atomic', 'All or nothing', 'one rejected row and nothing at all is written; otherwise the good rows import and the rejected ones are listed')),
    h('div.actions',
      h('button.secondary', { type: 'button', onclick: () => { wiz.step = 2; render(); } }, 'Back'),
      h('button', { type: 'button', onclick: () => { wiz.step = 4; wiz.dry = null; render(); } }, 'Next: dry run')));
}

// Step 4: dry run, then the import ------------------------------------------

/** Polls an import until it ends; calls onUpdate with each state. */
async function follow(id, onUpdate, isAlive) {
  let delay = 400;
  for (;;) {
    if (!isAlive()) return null;
    try {
      const job = await get(`/api/imports/${id}`);
      onUpdate(job, null);
      if (TERMINAL.has(job.status)) return job;
      delay = 400;
    } catch (e) {
      if (e instanceof ApiError && e.status !== 0 && e.status < 500 && e.status !== 429) throw e;
      onUpdate(null, e);
      delay = Math.min(delay * 2, 3000);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

function counts(report, { dry = false } = {}) {
  if (!report) return null;
  const items = [
    ['rows', 'rows read'],
    ['created', dry ? 'would be created' : 'created'],
    ['updated', dry ? 'would be updated' : 'updated'],
    ['unchanged', 'unchanged'],
    ['repeated', 'repeated emails'],
    ['rejected', 'rejected'],
  ];
  return h('div.counts', { 'data-testid': 'counts' }, items.map(([k, t]) => h('div', { 'data-count': k }, h('b', fmtNumber(report[k] ?? 0)), h('span', t))));
}

function errorsTable(report, limit, caption) {
  const errs = (report && report.errors) || [];
  if (!errs.length) return null;
  const shown = errs.slice(0, limit);
  return [
    table(caption, [{ title: 'Line', num: true }, { title: 'Column' }, { title: 'Value' }, { title: 'Reason' }],
      shown.map((e) => [String(e.line ?? ''), e.column || '—', h('span.sample', e.value ?? ''), e.message])),
    report.rejected > shown.length ? h('p.muted', `Showing ${fmtNumber(shown.length)} of ${fmtNumber(report.rejected)} rejected rows; errors.csv lists them all.`) : null,
  ];
}

function stepDryRun(render, seq) {
  const out = h('div', { 'aria-live': 'polite' });
  const start = h('button', { type: 'button' }, `Import ${wiz.file.name}`);
  const again = h('button.secondary', { type: 'button' }, 'Run the dry run again');
  const runDry = async () => {
    again.disabled = true;
    mount(out, notice('ok', 'Checking every row against your data; nothing is written…'));
    try {
      const job = await post(`/api/imports${importQuery({ dry_run: true })}`, wiz.file, { headers: { 'Content-Type': 'text/csv' } });
      const done = await follow(job.id, (j) => {
        if (j && j.progress && j.progress.total_bytes) mount(out, notice('ok', `Checking… ${Math.floor(100 * j.progress.bytes / j.progress.total_bytes)} %`));
      }, () => alive(seq));
      if (!done) return;
      wiz.dry = done;
      showDry();
    } catch (e) {
      mount(out, notice('error', e.message));
    } finally {
      again.disabled = false;
    }
  };
  again.addEventListener('click', runDry);
  const showDry = () => {
    const d = wiz.dry;
    const r = d.report;
    if (d.status !== 'succeeded' || !r) {
      mount(out, notice('error', (r && r.message) || (d.error && (d.error.message || d.error)) || `The dry run ended as ${d.status}.`));
      return;
    }
    mount(out,
      h('p', 'If you import now:'),
      counts(r, { dry: true }),
      (r.mapped || r.ignored) ? h('p.muted', r.ignored && r.ignored.length ? `Ignored columns: ${r.ignored.map((x) => x.column || x).join(', ')}.` : null) : null,
      r.rejected ? [h('h3', 'First rejected rows'), errorsTable(r, 10, 'First rejected rows of the dry run')] : h('p', 'No row would be rejected.'),
      wiz.options.atomic && r.rejected ? notice('warn', 'All or nothing is on: with rejected rows, the import would write nothing. Fix the file or turn the option off.') : null);
  };
  start.addEventListener('click', async () => {
    start.disabled = true;
    try {
      const job = await post(`/api/imports${importQuery()}`, wiz.file, { headers: { 'Content-Type': 'text/csv' } });
      wiz = null;
      navigate(`/imports/${job.id}`);
    } catch (e) {
      start.disabled = false;
      mount(out, notice('error', e.message));
    }
  });
  const section = h('section', h('h2', 'Dry run'),
    h('p.muted', 'A dry run reads the whole file and checks each row against your current data, then writes nothing.'),
    out,
    h('div.actions',
      h('button.secondary', { type: 'button', onclick: () => { wiz.step = 3; render(); } }, 'Back'),
      again,
      start));
  if (wiz.dry) showDry();
  else setTimeout(runDry, 0);
  return section;
}

// One import -----------------------------------------------------------------

function isDry(j) {
  return !!(j.options && (j.options.dry_run === true || j.options.dry_run === 'true'));
}

function fileName(j) {
  return j.file_name || j.filename || j.file || (j.options && j.options.file_name) || '—';
}
function who(j) {
  return j.user_email || j.started_by || (j.user && (j.user.email || j.user)) || j.created_by || '—';
}

export async function importJobPage(main, id) {
  const seq = currentSeq();
  const head = h('h1', `Import #${id}`);
  const meta = h('p.muted');
  const bar = h('progress', { max: 100, value: 0, 'aria-label': 'Import progress' });
  const facts = h('div.progress-facts');
  const conn = h('div');
  const live = h('section', { 'aria-labelledby': 'progress-h' }, h('h2#progress-h', 'Progress'), bar, facts);
  const controls = h('div.actions');
  const result = h('div');
  mount(main, h('p', h('a', { href: '/imports' }, '← Import history')), head, meta, conn, live, controls, result);

  const samples = [];
  let lastStatus = null;
  let cancelling = false;

  const update = (job, err) => {
    if (!alive(seq)) return;
    if (err) {
      mount(conn, notice('warn', 'Lost contact with the server; retrying… The import keeps running on the server (or resumes when it restarts).'));
      return;
    }
    mount(conn);
    mount(meta, `${job.kind} · ${fileName(job)} · started ${fmtTime(job.started_at || job.created_at)}`, ' · ',
      h('span', { class: `status ${job.status}`, 'data-testid': 'status' }, job.status));
    const p = job.progress || {};
    const now = Date.now();
    if (job.status === 'running') {
      samples.push([now, p.bytes || 0]);
      while (samples.length > 2 && now - samples[0][0] > 15000) samples.shift();
    }
    const pct = p.total_bytes ? Math.min(100, (100 * (p.bytes || 0)) / p.total_bytes) : (TERMINAL.has(job.status) ? 100 : 0);
    bar.value = job.status === 'succeeded' ? 100 : pct;
    bar.setAttribute('aria-valuetext', `${Math.floor(pct)} percent`);
    let left = '—';
    if (job.status === 'running' && samples.length >= 2) {
      const [t0, b0] = samples[0];
      const rate = ((p.bytes || 0) - b0) / ((now - t0) / 1000);
      if (rate > 0 && p.total_bytes) left = fmtDuration((p.total_bytes - p.bytes) / rate);
    }
    mount(facts,
      h('span', { 'data-testid': 'percent' }, `${Math.floor(pct)} %`),
      h('span', { 'data-testid': 'rows' }, `${fmtNumber(p.rows)} rows`),
      h('span', `${fmtBytes(p.bytes)} of ${fmtBytes(p.total_bytes)}`),
      h('span', job.status === 'running' ? `time left: ${left}` : (job.status === 'queued' ? 'waiting to start' : job.status === 'interrupted' ? 'interrupted: resumes from its last committed batch' : 'finished')));
    // A stopped import's bytes say little; its counts below say what was written.
    live.hidden = TERMINAL.has(job.status) && job.status !== 'succeeded';
    const cancellable = job.status === 'queued' || job.status === 'running' || job.status === 'interrupted';
    mount(controls, cancellable ? h('button.danger', {
      type: 'button', disabled: cancelling, onclick: async (ev) => {
        cancelling = true;
        ev.target.disabled = true;
        try { await post(`/api/imports/${id}/cancel`); announce('Cancelling: the import stops after its current batch.'); } catch (e) { mount(conn, notice('error', e.message)); cancelling = false; ev.target.disabled = false; }
      },
    }, cancelling ? 'Cancelling…' : 'Cancel the import') : null);
    if (job.status !== lastStatus) {
      lastStatus = job.status;
      announce(`Import ${job.status}`);
      if (TERMINAL.has(job.status)) showResult(job);
    }
  };

  const showResult = (job) => {
    const r = job.report;
    const dl = (name, text) => h('a.button.secondary', { href: `/api/imports/${id}/${name}`, download: `import-${id}-${name}` }, text);
    mount(result,
      h('h2', 'Result'),
      job.status === 'succeeded' && isDry(job) ? notice('ok', 'A dry run: every row was checked and nothing was written. The counts say what importing the file would do.') : null,
      job.status === 'succeeded' && !isDry(job) ? notice(r && r.rejected ? 'warn' : 'ok', r && r.rejected ? `Finished: ${fmtNumber(r.rejected)} rows were rejected and not written; the others were imported.` : 'Finished: every row was imported.') : null,
      job.status === 'cancelled' ? notice('warn', 'Cancelled. The batches committed before the cancel stay; the counts below say how many rows were written. Undo removes them.') : null,
      job.status === 'failed' ? notice('error', (r && r.message) || (job.error && (job.error.message || job.error)) || 'The import failed; nothing was written beyond the committed batches counted below.') : null,
      job.status === 'undone' ? notice('ok', 'This import was undone.') : null,
      counts(r, { dry: isDry(job) }),
      h('div.actions', dl('errors.csv', 'Download errors.csv'), dl('outcomes.csv', 'Download outcomes.csv'), dl('rejects.csv', 'Download rejected rows (rejects.csv)')),
      r && r.rejected ? [h('h2', 'Rejected rows'), h('p.muted', 'Fix these rows in rejects.csv (it keeps the original header) and import it again.'), errorsTable(r, 100, 'Rejected rows')] : null);
  };

  try {
    await follow(id, update, () => alive(seq));
  } catch (e) {
    if (alive(seq)) mount(main, h('h1', `Import #${id}`), notice('error', e.message));
  }
}

// History --------------------------------------------------------------------

export async function historyPage(main, flash) {
  const seq = currentSeq();
  const res = await get('/api/imports');
  if (!alive(seq)) return;
  const jobs = Array.isArray(res) ? res : (res.items || []);
  const status = h('div', { 'aria-live': 'polite' }, flash ? notice('ok', flash) : null);
  const rows = jobs.map((j) => {
    const r = j.report || {};
    const dry = isDry(j);
    const halfUndone = j.status === 'undone' && j.undo && j.undo.state === 'running';
    const undoable = !dry && !j.journal_pruned_at && (halfUndone || ['succeeded', 'cancelled', 'failed', 'interrupted'].includes(j.status));
    return [
      h('a', { href: `/imports/${j.id}` }, `#${j.id}`),
      j.kind + (dry ? ' (dry run)' : ''),
      fileName(j),
      who(j),
      fmtTime(j.created_at),
      h('span', { class: `status ${j.status}` }, halfUndone ? 'undone (incomplete)' : j.status),
      j.report ? `${fmtNumber(r.rows)} ${r.rows === 1 ? 'row' : 'rows'} · ${fmtNumber(r.created)} ${dry ? 'would be created' : 'created'} · ${fmtNumber(r.updated)} ${dry ? 'would be updated' : 'updated'} · ${fmtNumber(r.rejected)} rejected` : '—',
      undoable ? h('button.secondary', { type: 'button', 'aria-label': `Undo import #${j.id}`, onclick: () => undo(j, false) }, 'Undo')
        : h('span.muted', dry ? 'nothing was written' : (j.status === 'undone' ? 'undone' : (j.journal_pruned_at ? 'journal pruned' : '—'))),
    ];
  });
  async function undo(j, force) {
    mount(status, notice('ok', `Undoing import #${j.id}…`));
    try {
      await post(`/api/imports/${j.id}/undo${force ? '?force=true' : ''}`);
      if (alive(seq)) await historyPage(main, `Import #${j.id} was undone.`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        let list = e.body.conflicts || [];
        let text = e.message;
        // "…: 2 contacts were changed after it: a@x (edited), b@y (import 7); add force=true …"
        const m = /^(.*?changed after it):\s*(.*?);\s*add force=true.*$/s.exec(e.message);
        // The page's own button stands for "force=true"; the records are
        // listed once, below the sentence.
        if (m) {
          text = `${m[1]}:`;
          if (!list.length) list = m[2].split(/(?<=\)),\s+/);
        }
        mount(status, notice('warn',
          h('p', text),
          list.length ? h('ul', list.slice(0, 50).map((c) => h('li', typeof c === 'string' ? c : [c.email, c.reason || c.message].filter(Boolean).join(': ')))) : null,
          list.length > 50 ? h('p', `… and ${fmtNumber(list.length - 50)} more.`) : null,
          h('p', 'Undoing anyway puts back the values from before this import and overwrites those later changes.'),
          h('div.actions',
            h('button.danger', { type: 'button', onclick: () => undo(j, true) }, `Undo #${j.id} anyway`),
            h('button.secondary', { type: 'button', onclick: () => mount(status) }, 'Keep the import'))));
        status.querySelector('button.danger').focus();
      } else {
        mount(status, notice('error', e.message));
      }
    }
  }
  mount(main, h('h1', 'Import history'),
    h('div.actions', h('a.button', { href: '/import' }, 'New import')),
    status,
    jobs.length
      ? table('Imports, newest first', [{ title: 'Import' }, { title: 'Kind' }, { title: 'File' }, { title: 'By' }, { title: 'When', nowrap: true }, { title: 'Status' }, { title: 'Counts' }, { title: 'Undo' }], rows)
      : h('p.muted', 'No import yet.'));
}
