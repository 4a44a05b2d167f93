// Users, labels, companies, custom fields and mailboxes. Every form posts
// to the API and shows its sentence next to the field it names.
import { h, mount, field, setFieldError, notice, table } from './dom.js';
import { ApiError, get, post, patch, del, errorField } from './api.js';
import { alive, currentSeq, isAdmin, state } from './app.js';

const list = (x) => (Array.isArray(x) ? x : (x && x.items) || []);

/** A form of labelled fields that posts `build()` and places errors. */
function apiForm({ title, fields, submit, onDone, button }) {
  const status = h('div');
  const btn = h('button', { type: 'submit' }, button);
  const form = h('form', { novalidate: true, 'aria-label': title }, h('h2', title), Object.values(fields), status, h('div.actions', btn));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    mount(status);
    Object.values(fields).forEach((f) => setFieldError(f, null));
    btn.disabled = true;
    try {
      const res = await submit();
      await onDone(res);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const [which, msg] = errorField(e, Object.keys(fields));
      if (which) {
        setFieldError(fields[which], msg);
        fields[which].querySelector('input, select')?.focus();
      } else {
        mount(status, notice('error', e.message));
      }
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

// Users --------------------------------------------------------------------

export async function usersPage(main, flash) {
  const seq = currentSeq();
  const users = list(await get('/api/users'));
  if (!alive(seq)) return;
  const status = h('div', { 'aria-live': 'polite' }, flash ? notice('ok', flash) : null);
  const reload = (msg) => usersPage(main, msg);
  const act = async (fn, msg) => {
    try { await fn(); await reload(msg); } catch (e) { mount(status, notice('error', e.message)); }
  };
  const rows = users.map((u) => {
    const me = state.user && String(state.user.id) === String(u.id);
    const role = h('select', { 'aria-label': `Role of ${u.email}`, disabled: me },
      ['agent', 'admin'].map((r) => h('option', { value: r, selected: u.role === r }, r)));
    role.addEventListener('change', () => act(() => patch(`/api/users/${u.id}`, { role: role.value }), `${u.email} is now ${role.value === 'admin' ? 'an admin' : 'an agent'}.`));
    const pw = h('input', { type: 'password', autocomplete: 'new-password', placeholder: 'New password', 'aria-label': `New password for ${u.email}` });
    const pwForm = h('form.inline', { onsubmit: (e) => { e.preventDefault(); if (pw.value) act(() => patch(`/api/users/${u.id}`, { password: pw.value }), `The password of ${u.email} was changed.`); } },
      pw, h('button.secondary', { type: 'submit' }, 'Set'));
    return [
      u.email,
      [u.first_name, u.last_name].filter(Boolean).join(' ') || '—',
      role,
      u.active ? 'active' : 'inactive',
      me ? h('span.muted', 'you') : h('button.secondary', { type: 'button', onclick: () => act(() => patch(`/api/users/${u.id}`, { active: !u.active }), `${u.email} was ${u.active ? 'deactivated: they can no longer sign in' : 'activated'}.`) }, u.active ? 'Deactivate' : 'Activate'),
      pwForm,
    ];
  });
  const inputs = {
    email: h('input', { type: 'email', autocomplete: 'off' }),
    first_name: h('input', { type: 'text', autocomplete: 'off' }),
    last_name: h('input', { type: 'text', autocomplete: 'off' }),
    role: h('select', h('option', { value: 'agent' }, 'agent'), h('option', { value: 'admin' }, 'admin')),
    password: h('input', { type: 'password', autocomplete: 'new-password' }),
  };
  const fields = {
    email: field('Email', inputs.email, { name: 'email' }),
    first_name: field('First name', inputs.first_name, { name: 'first_name' }),
    last_name: field('Last name', inputs.last_name, { name: 'last_name' }),
    role: field('Role', inputs.role, { name: 'role', hint: 'Agents read and edit contacts; admins may do everything.' }),
    password: field('Password', inputs.password, { name: 'password', hint: 'At least 6 characters.' }),
  };
  const form = apiForm({
    title: 'Add a user', button: 'Add the user', fields,
    submit: () => post('/api/users', {
      email: inputs.email.value.trim(), first_name: inputs.first_name.value.trim(), last_name: inputs.last_name.value.trim(),
      role: inputs.role.value, password: inputs.password.value, active: true,
    }),
    onDone: (u) => reload(`${(u && u.email) || inputs.email.value.trim()} was added.`),
  });
  mount(main, h('h1', 'Users'), status,
    users.length ? table('Users', [{ title: 'Email' }, { title: 'Name' }, { title: 'Role' }, { title: 'Status' }, { title: 'Access' }, { title: 'Password' }], rows) : h('p.muted', 'No users.'),
    form);
}

// Labels and companies ------------------------------------------------------

const CATALOG = {
  labels: { title: 'Labels', one: 'label', hint: 'Label names are case-sensitive: “VIP” and “vip” are two labels.', filter: 'label' },
  companies: { title: 'Companies', one: 'company', hint: 'A contact belongs to at most one company.', filter: 'company' },
};

export async function catalogPage(main, kind, flash) {
  const seq = currentSeq();
  const c = CATALOG[kind];
  const items = list(await get(`/api/${kind}`));
  if (!alive(seq)) return;
  const name = h('input', { type: 'text', autocomplete: 'off' });
  const fields = { name: field('Name', name, { name: 'name', hint: c.hint }) };
  const form = isAdmin() ? apiForm({
    title: `Add a ${c.one}`, button: `Add the ${c.one}`, fields,
    submit: () => post(`/api/${kind}`, { name: name.value.trim() }),
    onDone: (x) => catalogPage(main, kind, `The ${c.one} “${(x && x.name) || name.value.trim()}” was added.`),
  }) : null;
  mount(main, h('h1', c.title), flash ? notice('ok', flash) : null,
    items.length ? table(c.title, [{ title: 'Name' }, { title: 'Id', num: true }, { title: 'Contacts' }],
      items.map((x) => [x.name, String(x.id), h('a', { href: `/contacts?${c.filter}=${x.id}` }, `Contacts with this ${c.one}`)]))
      : h('p.muted', `No ${kind} yet.`),
    form);
}

// Custom fields ----------------------------------------------------------------

export async function fieldsPage(main, flash) {
  const seq = currentSeq();
  const items = list(await get('/api/fields'));
  if (!alive(seq)) return;
  const inputs = {
    variable_name: h('input', { type: 'text', autocomplete: 'off', pattern: '[a-z][a-z0-9_]*' }),
    name: h('input', { type: 'text', autocomplete: 'off' }),
    type: h('select', ['text', 'number', 'boolean', 'date', 'select'].map((t) => h('option', { value: t }, t))),
    options: h('input', { type: 'text', autocomplete: 'off' }),
  };
  const fields = {
    variable_name: field('Variable name', inputs.variable_name, { name: 'variable_name', hint: 'The CSV column name: lowercase letters, digits and _, starting with a letter.' }),
    name: field('Shown name', inputs.name, { name: 'name' }),
    type: field('Type', inputs.type, { name: 'type' }),
    options: field('Options (for select)', inputs.options, { name: 'options', hint: 'Comma-separated, e.g. gold,silver,bronze.' }),
  };
  // Options matter only to a select field.
  const showOptions = () => { fields.options.hidden = inputs.type.value !== 'select'; };
  inputs.type.addEventListener('change', showOptions);
  showOptions();
  const form = isAdmin() ? apiForm({
    title: 'Add a custom field', button: 'Add the field', fields,
    submit: () => post('/api/fields', {
      variable_name: inputs.variable_name.value.trim(), name: inputs.name.value.trim() || inputs.variable_name.value.trim(), type: inputs.type.value,
      options: inputs.type.value === 'select' ? inputs.options.value.split(',').map((s) => s.trim()).filter(Boolean) : [],
    }),
    onDone: (x) => fieldsPage(main, `The field “${(x && x.variable_name) || inputs.variable_name.value.trim()}” was added.`),
  }) : null;
  mount(main, h('h1', 'Custom fields'), flash ? notice('ok', flash) : null,
    items.length ? table('Custom fields', [{ title: 'Variable name' }, { title: 'Shown name' }, { title: 'Type' }, { title: 'Options' }],
      items.map((f) => [h('code', f.variable_name), f.name || '—', f.type, (f.options || []).join(', ') || '—']))
      : h('p.muted', 'No custom fields yet.'),
    form);
}

// Mailboxes ----------------------------------------------------------------

export async function mailboxesPage(main, flash) {
  const seq = currentSeq();
  const items = list(await get('/api/mailboxes'));
  if (!alive(seq)) return;
  const status = h('div', flash ? notice('ok', flash) : null);
  const inputs = {
    name: h('input', { type: 'text', autocomplete: 'off' }),
    address: h('input', { type: 'email', autocomplete: 'off' }),
    aliases: h('input', { type: 'text', autocomplete: 'off' }),
    capture: h('select',
      h('option', { value: 'all' }, 'Everyone on the message (From, Reply-To, To, Cc)'),
      h('option', { value: 'senders' }, 'Senders only (From, Reply-To)')),
  };
  const fields = {
    name: field('Name', inputs.name, { name: 'name' }),
    address: field('Address', inputs.address, { name: 'address', hint: 'Mail to this address creates contacts from its senders and recipients.' }),
    aliases: field('Aliases', inputs.aliases, { name: 'aliases', hint: 'Other addresses of this mailbox, comma-separated.' }),
    capture: field('Who becomes a contact', inputs.capture, { name: 'capture', hint: 'The mailbox’s own addresses and your team’s are never stored.' }),
  };
  const form = apiForm({
    title: 'Add a mailbox', button: 'Add the mailbox', fields,
    submit: () => post('/api/mailboxes', {
      name: inputs.name.value.trim(), address: inputs.address.value.trim(),
      aliases: inputs.aliases.value.split(',').map((s) => s.trim()).filter(Boolean),
      capture: inputs.capture.value,
    }),
    onDone: (x) => mailboxesPage(main, `The mailbox “${(x && x.name) || inputs.name.value.trim()}” was added.`),
  });
  const remove = async (m) => {
    try {
      await del(`/api/mailboxes/${m.id}`);
      await mailboxesPage(main, `The mailbox “${m.name}” was removed.`);
    } catch (e) { mount(status, notice('error', e.message)); }
  };
  mount(main, h('h1', 'Mailboxes'), status,
    items.length ? table('Mailboxes', [{ title: 'Name' }, { title: 'Address' }, { title: 'Aliases' }, { title: 'Captures' }, { title: 'Remove' }],
      items.map((m) => [m.name, m.address, (m.aliases || []).join(', ') || '—', m.capture === 'senders' ? 'senders only' : 'everyone on the message',
        h('button.secondary', { type: 'button', 'aria-label': `Remove the mailbox ${m.name}`, onclick: () => remove(m) }, 'Remove')]))
      : h('p.muted', 'No mailboxes yet. Contacts are captured from mail delivered to a mailbox.'),
    form);
}
