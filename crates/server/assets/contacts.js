// Contacts: search as you type, label and company filters, paging by
// cursor, a contact's page and its edit form.
import { h, mount, field, setFieldError, notice, table, fmtTime } from './dom.js';
import { ApiError, api, get, patch, qs, errorField } from './api.js';
import { alive, currentSeq, navigate } from './app.js';

const PAGE = 50;
// Requests one page may make to follow a search through the list (see load).
const MAX_STRETCHES = 10;

export async function loadCatalog() {
  const [labels, companies, fields] = await Promise.all([
    get('/api/labels'), get('/api/companies'), get('/api/fields'),
  ]);
  const list = (x) => (Array.isArray(x) ? x : (x && x.items) || []);
  return { labels: list(labels), companies: list(companies), fields: list(fields) };
}

function byId(items) {
  return new Map(items.map((x) => [String(x.id), x]));
}

export async function contactsPage(main) {
  const seq = currentSeq();
  const params = new URLSearchParams(location.search);
  const cat = await loadCatalog();
  if (!alive(seq)) return;
  const labels = byId(cat.labels);
  const companies = byId(cat.companies);

  const q = h('input', { type: 'search', value: params.get('q') || '', autocomplete: 'off', placeholder: 'Email or name' });
  const label = h('select', h('option', { value: '' }, 'Any label'),
    cat.labels.map((l) => h('option', { value: l.id, selected: String(l.id) === params.get('label') }, l.name)));
  const company = h('select', h('option', { value: '' }, 'Any company'),
    cat.companies.map((c) => h('option', { value: c.id, selected: String(c.id) === params.get('company') }, c.name)));
  const summaryEl = h('p.muted', { 'aria-live': 'polite' });
  const results = h('div', { 'aria-busy': 'false' });
  const pager = h('div.actions');
  const form = h('form.row', { role: 'search', onsubmit: (e) => e.preventDefault() },
    h('div.grow', field('Search', q, { name: 'q' })),
    h('div', field('Label', label, { name: 'label' })),
    h('div', field('Company', company, { name: 'company' })));

  mount(main, h('h1', 'Contacts'), form, summaryEl, results, pager);

  // Where each page starts: its cursor, and how many contacts the pages
  // before it showed (a page of a walking search may be short).
  let cursors = [null];
  let offsets = [0];
  let pageIndex = 0;
  let controller = null;

  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    const filters = { q: q.value.trim(), label: label.value, company: company.value };
    history.replaceState(null, '', `/contacts${qs(filters)}`);
    results.setAttribute('aria-busy', 'true');
    let page;
    const items = [];
    try {
      // A search of a common text walks the list in email order, a stretch
      // per request, and may answer a short or empty page with a cursor to
      // go on from: follow it (a few stretches) so the page fills up.
      let cursor = cursors[pageIndex];
      for (let stretch = 0; ; stretch++) {
        page = await get(`/api/contacts${qs({ ...filters, limit: PAGE - items.length, cursor })}`, { signal: controller.signal });
        items.push(...(page.items || []));
        if (!page.next || items.length >= PAGE || stretch >= MAX_STRETCHES) break;
        cursor = page.next;
      }
    } catch (e) {
      if (e.name === 'AbortError' || !alive(seq)) return;
      mount(results, notice('error', e.message));
      return;
    } finally {
      results.setAttribute('aria-busy', 'false');
    }
    if (!alive(seq)) return;
    if (pageIndex + 1 >= cursors.length && page.next) {
      cursors.push(page.next);
      offsets.push(offsets[pageIndex] + items.length);
    }
    const first = offsets[pageIndex] + 1;
    const summary = items.length
      ? `Showing ${first}–${first + items.length - 1}${page.next ? '' : ' (the last page)'}.`
      : page.next
        ? 'No match among the contacts searched so far; “Next page” searches on.'
        : (filters.q || filters.label || filters.company ? 'No contact matches these filters.' : 'No contacts yet. Import a file or add contacts through the API.');
    summaryEl.textContent = summary;
    mount(results,
      items.length ? table('Contacts', [
        { title: 'Email' }, { title: 'Name' }, { title: 'Company' }, { title: 'Labels' },
      ], items.map((c) => [
        h('a', { href: `/contacts/${c.id}` }, c.email),
        [c.first_name, c.last_name].filter(Boolean).join(' ') || '—',
        c.company_id ? (companies.get(String(c.company_id)) || { name: `#${c.company_id}` }).name : '—',
        (c.labels || []).map((id) => h('span.chip', (labels.get(String(id)) || { name: `#${id}` }).name)),
      ])) : null);
    mount(pager,
      h('button.secondary', { type: 'button', disabled: pageIndex === 0, onclick: () => { clearTimeout(typing); pageIndex--; load(); } }, 'Previous page'),
      h('button.secondary', { type: 'button', disabled: !page.next, onclick: () => { clearTimeout(typing); pageIndex++; load(); } }, 'Next page'));
  }
  // Typing waits for a pause (200 ms); a filter or a page button acts at
  // once and drops a search still waiting, so it cannot undo the click.
  let typing = null;
  const restart = () => { clearTimeout(typing); cursors = [null]; offsets = [0]; pageIndex = 0; load(); };
  q.addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(restart, 200); });
  label.addEventListener('change', restart);
  company.addEventListener('change', restart);
  await load();
}

const SOURCES = { import: 'Imported from a file', email: 'Captured from an email', api: 'Added through the API or this site' };

async function loadContact(id) {
  const res = await api('GET', `/api/contacts/${id}`, undefined, { raw: true });
  const contact = await res.json();
  return { contact, etag: res.headers.get('ETag') };
}

export async function contactPage(main, id) {
  const seq = currentSeq();
  const [{ contact: c }, cat] = await Promise.all([loadContact(id), loadCatalog()]);
  if (!alive(seq)) return;
  const labels = byId(cat.labels);
  const company = c.company_id ? byId(cat.companies).get(String(c.company_id)) : null;
  const name = [c.first_name, c.last_name].filter(Boolean).join(' ');
  const custom = c.custom || {};
  mount(main,
    h('p', h('a', { href: '/contacts' }, '← Contacts')),
    h('h1', name || c.email),
    h('dl.facts',
      h('dt', 'Email'), h('dd', c.email),
      h('dt', 'First name'), h('dd', c.first_name || '—'),
      h('dt', 'Last name'), h('dd', c.last_name || '—'),
      h('dt', 'Company'), h('dd', company ? company.name : (c.company_id ? `#${c.company_id}` : '—')),
      h('dt', 'Labels'), h('dd', (c.labels || []).length ? c.labels.map((l) => h('span.chip', (labels.get(String(l)) || { name: `#${l}` }).name)) : '—'),
      cat.fields.map((f) => [h('dt', f.name || f.variable_name), h('dd', custom[f.variable_name] ?? '—')]),
      h('dt', 'Source'), h('dd', SOURCES[c.source] || c.source || '—', c.import_id ? [' (', h('a', { href: `/imports/${c.import_id}` }, `import #${c.import_id}`), ')'] : null),
      h('dt', 'Created'), h('dd', fmtTime(c.created_at)),
      h('dt', 'Last changed'), h('dd', fmtTime(c.updated_at))),
    h('div.actions', h('a.button', { href: `/contacts/${c.id}/edit` }, 'Edit')));
}

export async function contactEditPage(main, id) {
  const seq = currentSeq();
  const [{ contact: c, etag }, cat] = await Promise.all([loadContact(id), loadCatalog()]);
  if (!alive(seq)) return;
  const custom = c.custom || {};
  const inputs = {
    first_name: h('input', { type: 'text', value: c.first_name || '', autocomplete: 'off' }),
    last_name: h('input', { type: 'text', value: c.last_name || '', autocomplete: 'off' }),
    company_id: h('select', h('option', { value: '' }, 'No company'),
      cat.companies.map((co) => h('option', { value: co.id, selected: co.id === c.company_id }, co.name))),
  };
  const fieldsEls = {
    first_name: field('First name', inputs.first_name, { name: 'first_name' }),
    last_name: field('Last name', inputs.last_name, { name: 'last_name' }),
    company_id: field('Company', inputs.company_id, { name: 'company_id' }),
  };
  const have = new Set((c.labels || []).map(String));
  const labelBoxes = cat.labels.map((l) => h('input', { type: 'checkbox', value: l.id, checked: have.has(String(l.id)) }));
  const labelsSet = h('fieldset', h('legend', 'Labels'),
    cat.labels.length ? cat.labels.map((l, i) => h('label.check', labelBoxes[i], l.name)) : h('p.muted', 'No labels exist yet.'),
    h('div.field-error', { hidden: true }));
  for (const f of cat.fields) {
    const v = custom[f.variable_name] ?? '';
    let input;
    if (f.type === 'select') {
      input = h('select', h('option', { value: '' }, '—'), (f.options || []).map((o) => h('option', { value: o, selected: o === v }, o)));
    } else if (f.type === 'boolean') {
      input = h('select', h('option', { value: '' }, '—'),
        h('option', { value: 'true', selected: v === 'true' }, 'Yes'), h('option', { value: 'false', selected: v === 'false' }, 'No'));
    } else {
      // Numbers and dates stay text inputs so the API's own rules and
      // messages apply (the browser would silently drop "1,5").
      input = h('input', { type: 'text', value: v, autocomplete: 'off', inputmode: f.type === 'number' ? 'decimal' : null, placeholder: f.type === 'date' ? 'YYYY-MM-DD' : null });
    }
    inputs[f.variable_name] = input;
    fieldsEls[f.variable_name] = field(f.name || f.variable_name, input, { name: f.variable_name, hint: { date: 'A date as YYYY-MM-DD.', number: 'A number such as 12 or -3.5.' }[f.type] });
  }
  const status = h('div');
  const save = h('button', { type: 'submit' }, 'Save');
  const form = h('form', { novalidate: true },
    h('dl.facts', h('dt', 'Email'), h('dd', c.email, h('div.muted', 'An email never changes: for another address, add a contact with it.'))),
    h('p'),
    fieldsEls.first_name, fieldsEls.last_name, fieldsEls.company_id,
    labelsSet, cat.fields.map((f) => fieldsEls[f.variable_name]), status,
    h('div.actions', save, h('a.button.secondary', { href: `/contacts/${c.id}` }, 'Cancel')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    mount(status);
    Object.values(fieldsEls).forEach((f) => setFieldError(f, null));
    labelsSet.querySelector('.field-error').hidden = true;
    const body = {
      first_name: inputs.first_name.value.trim() || null,
      last_name: inputs.last_name.value.trim() || null,
      company_id: inputs.company_id.value ? Number(inputs.company_id.value) : null,
      labels: labelBoxes.filter((b) => b.checked).map((b) => Number(b.value)),
    };
    const cust = {};
    for (const f of cat.fields) {
      const v = inputs[f.variable_name].value.trim();
      if (v !== (custom[f.variable_name] ?? '')) cust[f.variable_name] = v === '' ? null : v;
    }
    if (Object.keys(cust).length) body.custom = cust;
    save.disabled = true;
    try {
      await patch(`/api/contacts/${c.id}`, body, { headers: { 'If-Match': etag || `"${c.updated_at}"` } });
      navigate(`/contacts/${c.id}`);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 409 || e.status === 412) {
        mount(status, notice('error', 'Someone else changed this contact while you were editing it, so nothing was saved. ',
          h('a', { href: `/contacts/${c.id}/edit`, onclick: (x) => { x.preventDefault(); navigate(`/contacts/${c.id}/edit`, true); } }, 'Load their version'),
          ' and make your change again.'));
        return;
      }
      const [which, msg] = errorField(e, Object.keys(fieldsEls).concat(['labels']));
      if (which === 'labels') {
        const err = labelsSet.querySelector('.field-error');
        err.textContent = msg;
        err.hidden = false;
      } else if (which) {
        setFieldError(fieldsEls[which], msg);
        inputs[which].focus();
      } else {
        mount(status, notice('error', e.message));
      }
    } finally {
      save.disabled = false;
    }
  });
  mount(main, h('p', h('a', { href: `/contacts/${c.id}` }, '← Back to the contact')), h('h1', `Edit ${[c.first_name, c.last_name].filter(Boolean).join(' ') || c.email}`), form);
}
