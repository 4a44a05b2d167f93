// Sign-in, sign-out, roles and the security headers of the web UI: a real
// `roster serve`, Debian's chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, AGENT, newDatabase, startServer, launch, newPage, signIn, axe, screenshot } from './harness.mjs';

let server;
let browser;
const problems = [];

async function check(page, name) {
  await screenshot(page, name);
  assert.deepEqual(await axe(page), [], `axe on ${name}`);
  problems.push(...page.problems.map((p) => `${name}: ${p}`));
  page.problems.length = 0;
}

before(async () => {
  server = await startServer(newDatabase());
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('every response carries the security headers; the shell has no inline script', async () => {
  const r = await fetch(`${server.base}/contacts`);
  assert.equal(r.status, 200);
  const csp = r.headers.get('content-security-policy');
  // Scripts only from Roster itself: script-src 'self', or default-src 'self' without a script-src.
  assert.ok(/script-src 'self'/.test(csp) || (/default-src 'self'/.test(csp) && !/script-src/.test(csp)), csp);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  const html = await r.text();
  assert.doesNotMatch(html, /<script>|\son[a-z]+=/i);
  const js = await fetch(`${server.base}/assets/app.js`);
  assert.match(js.headers.get('content-type'), /javascript/);
  assert.equal((await fetch(`${server.base}/assets/nope.js`)).status, 404);
});

test('sign in: a wrong password is refused in plain words, the right one signs in, sign out', async () => {
  const page = await newPage(browser, server.base);
  await page.goto('/contacts');
  await page.waitForURL(/\/signin/);
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').getByText(/email or password is wrong/i).waitFor();
  await check(page, '01-signin-error');
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/contacts/);
  await page.getByText(`${ADMIN.email} (admin)`).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/signin/);
  await page.goto('/users');
  await page.waitForURL(/\/signin/);
  await page.context().close();
});

test('an agent finds the import, history and users pages refused', async () => {
  const page = await newPage(browser, server.base);
  await signIn(page, AGENT);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Contacts' }).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'Import' }).count(), 0);
  assert.equal(await nav.getByRole('link', { name: 'Users' }).count(), 0);
  for (const [path, text] of [['/import', 'Only admins can import'], ['/users', 'Only admins can manage users'], ['/imports', 'Only admins']]) {
    await page.goto(path);
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    await page.getByText(text).first().waitFor();
  }
  await check(page, '02-agent-refused');
  // The API refuses too: the page only reflects it.
  const csrf = (await (await page.request.get('/api/session')).json()).csrf_token;
  const r = await page.request.post('/api/imports/preview?kind=contacts', { headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'text/csv' }, data: 'email\na@example.com\n' });
  assert.equal(r.status(), 403);
  await page.context().close();
});


test('a wrong password again and again: sign-in pauses and the page says why', async () => {
  const page = await newPage(browser, server.base);
  await page.goto('/signin');
  await page.getByLabel('Email').fill(AGENT.email);
  for (let i = 0; i < 8; i++) {
    await page.getByLabel('Password').fill(`wrong ${i}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    if (await page.getByRole('alert').getByText(/too many/i).count()) break;
  }
  await page.getByRole('alert').getByText(/too many/i).waitFor();
  await page.getByRole('alert').getByText(/nobody can guess a password/).waitFor();
  await check(page, '01-signin-rate-limited');
  await page.context().close();
});

test('no page error and no CSP violation on these pages', () => {
  assert.deepEqual(problems, []);
});
