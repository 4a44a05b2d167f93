// Contacts in the browser: search as you type, label and company filters,
// paging, a contact's page, edit with the API's message next to the field,
// and the conflict when someone else changed the contact meanwhile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN, AGENT, newDatabase, startServer, launch, newPage, signIn, axe, screenshot, apiClient, cli } from './harness.mjs';

let db;
let server;
let browser;
let api;
const problems = [];

async function check(page, name) {
  await screenshot(page, name);
  assert.deepEqual(await axe(page), [], `axe on ${name}`);
  problems.push(...page.problems.map((p) => `${name}: ${p}`));
  page.problems.length = 0;
}

before(async () => {
  db = newDatabase();
  const acme = cli(db.db, ['companies', 'add', 'Acme Ltd']);
  cli(db.db, ['companies', 'add', 'Globex']);
  cli(db.db, ['fields', 'add', 'renewal', '--type', 'date', '--name', 'Renewal date']);
  cli(db.db, ['fields', 'add', 'plan', '--type', 'select', '--options', 'gold,silver', '--name', 'Plan']);
  const lines = ['email,first_name,last_name,company_id,labels,renewal,plan'];
  for (let i = 0; i < 130; i++) {
    lines.push([`person${i}@example.com`, `First${i}`, `Last${i}`, i % 3 === 0 ? acme : '', i % 2 ? 'VIP:Trial' : 'Trial', i % 5 ? '' : '2027-01-31', i % 4 ? 'gold' : ''].join(','));
  }
  const file = join(db.dir, 'contacts.csv');
  writeFileSync(file, lines.join('\n') + '\n');
  cli(db.db, ['import', 'contacts', file, '--create-labels']);
  server = await startServer(db);
  browser = await launch();
  api = apiClient(server.base, cli(db.db, ['tokens', 'create', '--user', ADMIN.email]));
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

const rows = (page) => page.locator('main tbody tr');

test('search as you type, filter by label and company, page through', async () => {
  const page = await newPage(browser, server.base);
  await signIn(page, AGENT);
  await page.getByRole('heading', { name: 'Contacts' }).waitFor();
  await page.getByText(/^Showing 1–50\./).waitFor();
  assert.equal(await rows(page).count(), 50);

  await page.getByLabel('Search').pressSequentially('PERSON12', { delay: 30 });
  await page.getByText(/^Showing 1–11 \(the last page\)/).waitFor();
  const emails = await rows(page).locator('td:first-child').allTextContents();
  // Email byte order: '0' comes before '@'.
  assert.deepEqual(emails, [...Array.from({ length: 10 }, (_, i) => `person12${i}@example.com`), 'person12@example.com']);
  assert.match(page.url(), /q=PERSON12/, 'the search is in the address, so a reload keeps it');

  await page.getByLabel('Search').fill('');
  await page.getByLabel('Label').selectOption({ label: 'VIP' });
  await page.getByText(/^Showing 1–50\./).waitFor();
  for (const labels of await rows(page).locator('td:nth-child(4)').allTextContents()) assert.match(labels, /VIP/);
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByText(/^Showing 51–65 \(the last page\)/).waitFor();
  await page.getByRole('button', { name: 'Previous page' }).click();
  await page.getByText(/^Showing 1–50\./).waitFor();

  await page.getByLabel('Company').selectOption({ label: 'Acme Ltd' });
  await page.getByText(/^Showing 1–22 \(the last page\)/).waitFor();
  for (const c of await rows(page).locator('td:nth-child(3)').allTextContents()) assert.equal(c, 'Acme Ltd');
  await check(page, '09-contacts');

  await page.getByLabel('Search').fill('nobody-at-all');
  await page.getByText('No contact matches these filters.').waitFor();
  await page.context().close();
});

test('a search that walks the list in stretches still fills its pages and finds every match', async () => {
  // A server that answers from the index only for 1 candidate and walks 10
  // contacts per request: "9@example" (13 matches among 130) is found by
  // walking, stretch after stretch, as a common text is among millions.
  const walker = await startServer(db, { env: { ROSTER_SEARCH_INDEX_CANDIDATES: '1', ROSTER_SEARCH_SCAN_BUDGET: '10' } });
  try {
    const page = await newPage(browser, walker.base);
    await signIn(page, AGENT);
    await page.getByRole('heading', { name: 'Contacts' }).waitFor();
    await page.getByText(/^Showing 1–50\./).waitFor();
    // Settled: the search's request answered and its page shown.
    const settled = (before) => page.waitForFunction((prev) => {
      const busy = document.querySelector('main [aria-busy]');
      const text = document.querySelector('main [aria-live]').textContent;
      return location.search.includes('q=') && busy && busy.getAttribute('aria-busy') === 'false' && text && text !== prev;
    }, before);
    let summary = 'Showing 1–50.';
    await page.getByLabel('Search').fill('9@example');
    const seen = [];
    for (let turn = 0; turn < 20; turn++) {
      await settled(summary);
      summary = await page.locator('main [aria-live]').textContent();
      assert.doesNotMatch(summary, /No contact matches/, 'a page the walk has not finished is never "no match"');
      const shown = await rows(page).locator('td:first-child').allTextContents();
      if (shown.length) assert.match(summary, new RegExp(`^Showing ${seen.length + 1}–${seen.length + shown.length}\\b`), 'numbered on from the pages before');
      seen.push(...shown);
      if (/the last page/.test(summary)) break;
      await page.getByRole('button', { name: 'Next page' }).click();
    }
    const expected = Array.from({ length: 130 }, (_, i) => `person${i}@example.com`).filter((e) => e.includes('9@example'));
    assert.deepEqual([...seen].sort(), [...expected].sort(), 'every match exactly once');
    assert.ok(seen.length > 0);
    await page.context().close();
  } finally {
    await walker.stop();
  }
});

test('a contact\'s page: labels, company, custom fields, where it came from', async () => {
  const page = await newPage(browser, server.base);
  await signIn(page, AGENT);
  await page.goto('/contacts?q=person15%40');
  await page.getByRole('link', { name: 'person15@example.com' }).click();
  await page.getByRole('heading', { name: 'First15 Last15' }).waitFor();
  const facts = page.locator('dl.facts');
  await facts.getByText('Acme Ltd').waitFor();
  await facts.locator('.chip', { hasText: 'VIP' }).waitFor();
  await facts.locator('.chip', { hasText: 'Trial' }).waitFor();
  await facts.getByText('2027-01-31').waitFor();
  await facts.getByText('Imported from a file').waitFor();
  await check(page, '10-contact');
  await page.context().close();
});

test('edit: the API\'s message next to the field, a good edit, and the conflict message', async () => {
  const page = await newPage(browser, server.base);
  await signIn(page, AGENT);
  const c = (await api('GET', '/api/contacts?q=person20%40')).json.items[0];
  await page.goto(`/contacts/${c.id}/edit`);
  await page.getByLabel('Renewal date').fill('31/01/2027');
  await page.getByRole('button', { name: 'Save' }).click();
  const field = page.locator('.field', { has: page.getByLabel('Renewal date') });
  const err = field.locator('.field-error');
  await err.waitFor();
  assert.match(await err.textContent(), /YYYY-MM-DD|date/i, 'the API\'s date rule, next to the field');
  assert.equal(await page.getByLabel('Renewal date').getAttribute('aria-invalid'), 'true');
  await check(page, '11-contact-edit-error');

  await page.getByLabel('Renewal date').fill('2027-02-28');
  await page.getByLabel('First name').fill('Twentieth');
  await page.getByLabel('VIP').check();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { name: 'Twentieth Last20' }).waitFor();
  const saved = (await api('GET', `/api/contacts/${c.id}`)).json;
  assert.equal(saved.first_name, 'Twentieth');
  assert.equal(saved.custom.renewal, '2027-02-28');

  // Someone else changes it while this page is open: nothing is saved.
  await page.goto(`/contacts/${c.id}/edit`);
  await page.getByLabel('First name').waitFor();
  const other = await api('PATCH', `/api/contacts/${c.id}`, { last_name: 'Changed-Elsewhere' });
  assert.equal(other.status, 200, other.text);
  await page.getByLabel('First name').fill('Mine');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('alert').getByText(/Someone else changed this contact/).waitFor();
  await check(page, '11b-contact-edit-conflict');
  assert.equal((await api('GET', `/api/contacts/${c.id}`)).json.first_name, 'Twentieth');
  await page.getByRole('link', { name: 'Load their version' }).click();
  assert.equal(await page.getByLabel('Last name').inputValue(), 'Changed-Elsewhere');
  await page.context().close();
});

test('no page error and no CSP violation on these pages', () => {
  assert.deepEqual(problems, []);
});
