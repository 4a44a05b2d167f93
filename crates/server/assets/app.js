// Roster's web UI: a small single-page app over the JSON API. No build step:
// the browser loads these ES modules as they are, embedded in the binary.
import { h, mount, field, setFieldError, notice } from './dom.js';
import { ApiError, get, post, del, setCsrf, errorField } from './api.js';
import { contactsPage, contactPage, contactEditPage } from './contacts.js';
import { importPage, importJobPage, historyPage } from './imports.js';
import { usersPage, catalogPage, fieldsPage, mailboxesPage } from './admin.js';

export const state = { user: null };

const routes = [
  [/^\/signin$/, signInPage, { public: true }],
  [/^\/setup$/, setupPage, { public: true }],
  [/^\/$/, () => navigate('/contacts', true)],
  [/^\/contacts$/, contactsPage],
  [/^\/contacts\/(\d+)$/, contactPage],
  [/^\/contacts\/(\d+)\/edit$/, contactEditPage],
  [/^\/import$/, importPage, { admin: 'Only admins can import; ask an admin of your team to run the import.' }],
  [/^\/imports$/, historyPage, { admin: 'Only admins can see the import history.' }],
  [/^\/imports\/(\d+)$/, importJobPage, { admin: 'Only admins can see imports.' }],
  [/^\/users$/, usersPage, { admin: 'Only admins can manage users.' }],
  [/^\/labels$/, (el) => catalogPage(el, 'labels')],
  [/^\/companies$/, (el) => catalogPage(el, 'companies')],
  [/^\/fields$/, fieldsPage],
  [/^\/mailboxes$/, mailboxesPage, { admin: 'Only admins can manage mailboxes.' }],
];

const NAV = [
  ['/contacts', 'Contacts'],
  ['/import', 'Import', true],
  ['/imports', 'History', true],
  ['/users', 'Users', true],
  ['/labels', 'Labels'],
  ['/companies', 'Companies'],
  ['/fields', 'Fields'],
  ['/mailboxes', 'Mailboxes', true],
];

export const isAdmin = () => state.user && state.user.role === 'admin';

let renderSeq = 0;
/** Each page gets a fresh `main`; a page that outlives its visit checks `alive()`. */
export function alive(seq) {
  return seq === renderSeq;
}
export function currentSeq() {
  return renderSeq;
}

export function navigate(path, replace = false) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

function renderNav() {
  const nav = document.getElementById('nav');
  if (!state.user) {
    mount(nav);
    return;
  }
  const here = location.pathname;
  const links = NAV.filter(([, , admin]) => !admin || isAdmin()).map(([href, text]) => {
    const current = here === href || (href !== '/import' && here.startsWith(href + '/'))
      || (href === '/imports' && /^\/imports\/\d+$/.test(here));
    return h('a', { href, 'aria-current': current ? 'page' : null }, text);
  });
  const u = state.user;
  mount(nav, links, h('span.who',
    h('span', `${u.email} (${u.role})`),
    h('button.secondary', { type: 'button', onclick: signOut }, 'Sign out')));
}

async function signOut() {
  try { await del('/api/session'); } catch { /* signed out either way */ }
  state.user = null;
  setCsrf(null);
  navigate('/signin');
}

async function loadSession() {
  try {
    const s = await get('/api/session');
    state.user = s.user || s;
    setCsrf(s.csrf_token || s.csrf);
  } catch (e) {
    state.user = null;
    if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 404)) throw e;
  }
}

export async function render() {
  const seq = ++renderSeq;
  const main = document.getElementById('main');
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const found = routes.find(([re]) => re.test(path));
  if (!found) {
    renderNav();
    mount(main, h('h1', 'Page not found'), h('p', 'There is no page at this address. ', h('a', { href: '/contacts' }, 'Go to the contacts.')));
    document.title = 'Not found · Roster';
    return;
  }
  const [re, page, opts = {}] = found;
  if (!opts.public && !state.user) {
    const next = location.pathname + location.search;
    history.replaceState(null, '', `/signin${next && next !== '/' ? '?next=' + encodeURIComponent(next) : ''}`);
    renderNav();
    return signInPage(main);
  }
  renderNav();
  if (opts.admin && !isAdmin()) {
    document.title = 'Not allowed · Roster';
    mount(main, h('h1', 'Not allowed'), notice('error', opts.admin), h('p', h('a', { href: '/contacts' }, 'Go to the contacts')));
    main.focus();
    return;
  }
  const args = re.exec(path).slice(1);
  mount(main);
  try {
    await page(main, ...args);
  } catch (e) {
    if (!alive(seq)) return;
    mount(main, h('h1', 'Something went wrong'), notice('error', e.message || String(e)));
  }
  if (alive(seq)) {
    const h1 = main.querySelector('h1');
    if (h1) document.title = `${h1.textContent} · Roster`;
  }
}

// Sign in ------------------------------------------------------------------

function signInMessage(e) {
  if (!(e instanceof ApiError)) return e.message;
  if (e.status === 429) {
    const secs = Number(e.retryAfter);
    const wait = secs >= 90 ? `about ${Math.round(secs / 60)} minutes` : `${secs} seconds`;
    const text = Number.isFinite(secs) && secs > 0 ? e.message.replace(/in \d+ seconds/, `in ${wait}`) : e.message;
    return `${text} Roster pauses sign-in after repeated failures for one account or from one address, so nobody can guess a password by trying many.`;
  }
  if (e.status === 401) return `${e.message} Check both and try again; an admin can set a new password or reactivate an account.`;
  return e.message;
}

function signInPage(main) {
  document.title = 'Sign in · Roster';
  const email = h('input', { type: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const status = h('div');
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { novalidate: true },
    field('Email', email, { name: 'email' }),
    field('Password', password, { name: 'password' }),
    status,
    h('div.actions', button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    mount(status);
    if (!email.value.trim() || !password.value) {
      mount(status, notice('error', 'Enter your email and your password.'));
      return;
    }
    button.disabled = true;
    try {
      const s = await post('/api/session', { email: email.value.trim(), password: password.value });
      setCsrf(s && (s.csrf_token || s.csrf));
      await loadSession();
      const next = new URLSearchParams(location.search).get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/contacts', true);
    } catch (e) {
      mount(status, notice('error', signInMessage(e)));
      password.select();
    } finally {
      button.disabled = false;
    }
  });
  mount(main, h('div.card', h('h1', 'Sign in to Roster'), form));
  email.focus();
}

// First run ------------------------------------------------------------------

function setupPage(main) {
  document.title = 'Set up Roster · Roster';
  // The one-time code travels in the fragment, which browsers never send to
  // a server or put in a Referer; it is moved out of the address bar at once.
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) {
    sessionStorage.setItem('roster-setup-token', fromHash);
    history.replaceState(null, '', '/setup');
  }
  const token = fromHash || sessionStorage.getItem('roster-setup-token');
  if (!token) {
    mount(main, h('div.card', h('h1', 'Set up Roster'),
      notice('warn', 'This page needs the one-time setup link that roster serve printed on its console when it started with no admin. Open that link, or create an admin with: roster users create-admin EMAIL'),
      h('p', h('a', { href: '/signin' }, 'Go to sign in'))));
    return;
  }
  const inputs = {
    email: h('input', { type: 'email', autocomplete: 'username', required: true }),
    first_name: h('input', { type: 'text', autocomplete: 'given-name' }),
    last_name: h('input', { type: 'text', autocomplete: 'family-name' }),
    password: h('input', { type: 'password', autocomplete: 'new-password', required: true }),
  };
  const fields = {
    email: field('Your email', inputs.email, { name: 'email' }),
    first_name: field('First name', inputs.first_name, { name: 'first_name' }),
    last_name: field('Last name', inputs.last_name, { name: 'last_name' }),
    password: field('Password', inputs.password, { name: 'password', hint: 'At least 6 characters.' }),
  };
  const status = h('div');
  const button = h('button', { type: 'submit' }, 'Create the admin and sign in');
  const form = h('form', { novalidate: true }, Object.values(fields), status, h('div.actions', button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    mount(status);
    Object.values(fields).forEach((f) => setFieldError(f, null));
    const body = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.value.trim()]));
    body.password = inputs.password.value;
    body.token = token;
    button.disabled = true;
    try {
      const s = await post('/api/setup', body);
      sessionStorage.removeItem('roster-setup-token');
      setCsrf(s && (s.csrf_token || s.csrf));
      await loadSession();
      if (!state.user) {
        await post('/api/session', { email: body.email, password: body.password }).then((r) => setCsrf(r && (r.csrf_token || r.csrf)));
        await loadSession();
      }
      navigate('/contacts', true);
    } catch (e) {
      const [f, msg] = errorField(e, Object.keys(fields));
      if (f && e.status === 422) {
        setFieldError(fields[f], msg);
        inputs[f].focus();
      } else {
        mount(status, notice('error', e.message));
      }
      if (e.status === 403) sessionStorage.removeItem('roster-setup-token');
    } finally {
      button.disabled = false;
    }
  });
  mount(main, h('div.card', h('h1', 'Set up Roster'),
    h('p', 'No admin exists yet. Create the first admin account; this setup link then stops working.'), form));
  inputs.email.focus();
}

// Start ------------------------------------------------------------------

document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith('/') || href.startsWith('//') || href.startsWith('/api/') || a.hasAttribute('download') || a.target) return;
  ev.preventDefault();
  navigate(href);
});
window.addEventListener('popstate', render);
window.addEventListener('roster:unauthorized', () => {
  if (state.user) {
    state.user = null;
    render();
  }
});

(async () => {
  try {
    if (location.pathname !== '/setup') await loadSession();
  } catch (e) {
    mount(document.getElementById('main'), h('h1', 'Roster is not reachable'), notice('error', e.message));
    return;
  }
  render();
})();
