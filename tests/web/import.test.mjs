// Importing in the browser: an Outlook export that needs mapping, the
// suggested mapping, a dry run, the import with its live progress (through a
// reload), the result, the rejected rows, the downloads, and undo from the
// history. A real `roster serve`, Debian's chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN, newDatabase, startServer, launch, newPage, signIn, axe, screenshot, apiClient, cli,
} from './harness.mjs';

// An Outlook "Comma Separated Values" export: its header needs mapping.
const OUTLOOK = ['First Name', 'Middle Name', 'Last Name', 'Title', 'Company', 'Job Title', 'Business Phone', 'Mobile Phone', 'E-mail Address', 'E-mail Display Name', 'E-mail 2 Address', 'Notes', 'Categories'];
const ROWS = Number(process.env.ROSTER_WEB_ROWS || 60000);
const broken = [];
function outlookCsv() {
  const lines = [OUTLOOK.join(',')];
  for (let i = 0; i < ROWS; i++) {
    let email = `person${i}@example.com`;
    if (i % 997 === 500) { email = `broken${i}@@example.com`; broken.push(i + 2); }
    const cat = i % 3 === 0 ? 'Trial' : (i % 3 === 1 ? 'VIP' : '');
    lines.push([`First${i}`, '', `Last${i}`, '', `Company ${i % 50}`, 'Buyer', '+1 555 0100', '', email, `"First${i} Last${i} (${email})"`, '', `"note, with comma ${i}"`, cat].join(','));
  }
  // Three later rows for emails an earlier row had: counted as repeated.
  for (let i = 0; i < 3; i++) lines.push([`Again${i}`, '', `Last${i}`, '', '', '', '', '', `person${i}@example.com`, '', '', '', ''].join(','));
  return lines.join('\r\n') + '\r\n';
}

let db;
let server;
let browser;
let api;
let csvPath;
let importId;
const problems = [];

async function check(page, name) {
  await screenshot(page, name);
  const violations = await axe(page);
  assert.deepEqual(violations, [], `axe on ${name}`);
  problems.push(...page.problems.map((p) => `${name}: ${p}`));
  page.problems.length = 0;
}

before(async () => {
  db = newDatabase();
  csvPath = join(db.dir, 'outlook-contacts.csv');
  writeFileSync(csvPath, outlookCsv());
  // The worker pauses 2 s after its third committed batch (a test hook), so
  // the page is seen mid-import however fast this machine is.
  server = await startServer(db, { env: { ROSTER_TEST_PAUSE_AFTER_BATCHES: '3', ROSTER_TEST_PAUSE_SECS: '2' } });
  browser = await launch();
  const token = cli(db.db, ['tokens', 'create', '--user', ADMIN.email, '--name', 'web tests']);
  api = apiClient(server.base, token);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('import an Outlook export: mapping, dry run, live progress surviving a reload, result, downloads', async () => {
  const page = await newPage(browser, server.base);
  await signIn(page, ADMIN);
  await page.goto('/import');
  await page.getByRole('heading', { name: 'Choose what to import' }).waitFor();
  await check(page, '03-import-file');
  await page.getByLabel('CSV file').setInputFiles(csvPath);

  // Mapping: each column with samples and fill counts, prefilled as --map auto would.
  await page.getByRole('heading', { name: /Columns of outlook-contacts.csv/ }).waitFor();
  const emailSelect = page.getByLabel('Import column “E-mail Address” as');
  assert.equal(await emailSelect.inputValue(), 'email', 'E-mail Address is suggested as email');
  assert.equal(await page.getByLabel('Import column “First Name” as').inputValue(), 'first_name');
  assert.equal(await page.getByLabel('Import column “Last Name” as').inputValue(), 'last_name');
  assert.equal(await page.getByLabel('Import column “Notes” as').inputValue(), '', 'Notes is ignored');
  const emailRow = page.getByRole('row').filter({ hasText: 'E-mail Address' }).first();
  await emailRow.getByText('person0@example.com').waitFor();
  // Changeable: Categories become labels; the labels that would be created are listed.
  await page.getByLabel('Import column “Categories” as').selectOption('labels');
  const fresh = page.getByText('Labels in the file that do not exist yet');
  await fresh.waitFor();
  await page.locator('.notice .chip', { hasText: 'Trial' }).waitFor();
  await page.locator('.notice .chip', { hasText: 'VIP' }).waitFor();
  await check(page, '04-import-columns');
  await page.getByRole('button', { name: 'Next: options' }).click();

  await page.getByRole('heading', { name: 'Options' }).waitFor();
  await page.getByLabel(/Create labels that do not exist yet/).check();
  await check(page, '05-import-options');
  await page.getByRole('button', { name: 'Next: dry run' }).click();

  // Dry run: counts and the first rejected rows, nothing written.
  await page.getByRole('heading', { name: 'Dry run' }).waitFor();
  await page.getByText('If you import now:').waitFor({ timeout: 120000 });
  const count = async (k) => Number((await page.locator(`[data-count="${k}"] b`).first().textContent()).replace(/,/g, ''));
  assert.equal(await count('rows'), ROWS + 3);
  assert.equal(await count('rejected'), broken.length);
  assert.equal(await count('created'), ROWS - broken.length);
  assert.equal(await count('repeated'), 3);
  const firstRejected = page.getByRole('table', { name: 'First rejected rows of the dry run' });
  await firstRejected.getByRole('cell', { name: String(broken[0]), exact: true }).waitFor();
  await check(page, '06-import-dry-run');
  const contactsAfterDry = await api('GET', '/api/contacts?limit=1');
  assert.equal(contactsAfterDry.json.items.length, 0, 'the dry run wrote nothing');

  // The import: the bar moves, a reload keeps following it.
  await page.getByRole('button', { name: 'Import outlook-contacts.csv' }).click();
  await page.waitForURL(/\/imports\/\d+$/);
  importId = Number(new URL(page.url()).pathname.split('/').pop());
  const percent = async () => Number((await page.getByTestId('percent').textContent()).replace(/[^0-9]/g, ''));
  const status = async () => (await page.getByTestId('status').textContent()).trim();
  await page.getByTestId('status').waitFor();
  const seen = new Set();
  let reloaded = false;
  const deadline = Date.now() + 180000;
  while (Date.now() < deadline) {
    const s = await status();
    const p = await percent();
    seen.add(`${s}:${p}`);
    if (s === 'running' && p > 0 && !reloaded) {
      await screenshot(page, '07-import-running');
      await page.reload();
      await page.getByTestId('status').waitFor();
      const after = await percent();
      assert.ok(after >= p || (await status()) === 'succeeded', `after a reload the bar goes on from ${p} % (shows ${after} %)`);
      reloaded = true;
    }
    if (s === 'succeeded') break;
    await page.waitForTimeout(150);
  }
  assert.equal(await status(), 'succeeded');
  const running = [...seen].filter((x) => x.startsWith('running:')).map((x) => Number(x.split(':')[1]));
  assert.ok(running.some((p) => p > 0 && p < 100), `the bar showed a value between 0 and 100 while running (saw ${[...seen].join(', ')})`);
  assert.ok(reloaded, 'the page was reloaded mid-import');

  // Counts and rejected rows agree with the API.
  const job = (await api('GET', `/api/imports/${importId}`)).json;
  await page.getByRole('heading', { name: 'Result' }).waitFor();
  for (const k of ['rows', 'created', 'updated', 'unchanged', 'repeated', 'rejected']) {
    assert.equal(await count(k), job.report[k], `${k} on the page matches the API`);
  }
  assert.equal(job.report.rejected, broken.length);
  const rejected = page.getByRole('table', { name: 'Rejected rows' });
  await rejected.getByRole('cell', { name: String(broken[0]), exact: true }).waitFor();
  await rejected.getByRole('cell', { name: `broken${broken[0] - 2}@@example.com` }).waitFor();
  await check(page, '08-import-result');

  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download errors.csv' }).click();
  const file = await (await download).path();
  const fromPage = readFileSync(file, 'utf8');
  const fromApi = (await api('GET', `/api/imports/${importId}/errors.csv`)).text;
  assert.equal(fromPage, fromApi, 'the downloaded errors.csv is the API\'s');
  assert.equal(fromPage.trim().split('\n').length, broken.length + 1);
  await page.context().close();
});

test('undo the import from history: the conflict list, then force after asking', async () => {
  const page = await newPage(browser, server.base);
  await signIn(page, ADMIN);
  await page.goto('/imports');
  await page.getByRole('heading', { name: 'Import history' }).waitFor();
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: `#${importId}`, exact: true }) });
  await row.getByText('outlook-contacts.csv').waitFor();
  await row.getByText('admin@example.com').waitFor();
  await check(page, '12-history');
  // Someone edits an imported contact afterwards: undo asks before overwriting it.
  const p7 = (await api('GET', '/api/contacts?q=person7%40example')).json.items[0];
  assert.equal((await api('PATCH', `/api/contacts/${p7.id}`, { first_name: 'Edited later' })).status, 200);
  await row.getByRole('button', { name: `Undo import #${importId}` }).click();
  await page.getByRole('listitem').filter({ hasText: 'person7@example.com' }).waitFor();
  await check(page, '13-undo-conflict');
  await page.getByRole('button', { name: `Undo #${importId} anyway` }).click();
  await page.getByText(`Import #${importId} was undone.`).waitFor();
  const job = (await api('GET', `/api/imports/${importId}`)).json;
  assert.equal(job.status, 'undone');
  const left = (await api('GET', '/api/contacts?q=person1234%40&limit=5')).json.items;
  assert.equal(left.length, 0, 'the imported contacts are gone');
  await page.context().close();
});

test('the progress page rides out a server restart: the import resumes and finishes', async () => {
  // A second server on the same database and port, whose worker stops after
  // two committed batches (a test hook): a deterministic "mid-import".
  await server.stop();
  const port = server.port;
  server = await startServer(db, { port, env: { ROSTER_TEST_PAUSE_AFTER_BATCHES: '2', ROSTER_TEST_PAUSE_SECS: '3600', ROSTER_JOB_LEASE_SECS: '2' } });
  const maps = ['E-mail Address=email', 'First Name=first_name', 'Last Name=last_name'].map((m) => `map=${encodeURIComponent(m)}`).join('&');
  const up = await api('POST', `/api/imports?kind=contacts&name=again.csv&${maps}&ignore_unknown_columns=true`, readFileSync(csvPath, 'utf8'));
  assert.equal(up.status, 202, up.text);
  const id = up.json.id;
  const page = await newPage(browser, server.base);
  await signIn(page, ADMIN);
  await page.goto(`/imports/${id}`);
  const percent = async () => Number((await page.getByTestId('percent').textContent()).replace(/[^0-9]/g, ''));
  await page.getByTestId('status').getByText('running').waitFor({ timeout: 60000 });
  for (let i = 0; i < 100 && (await percent()) === 0; i++) await page.waitForTimeout(100);
  const before = await percent();
  assert.ok(before > 0 && before < 100, `paused mid-import at ${before} %`);

  await server.stop('SIGKILL');
  await page.getByText(/Lost contact with the server; retrying/).waitFor();
  await screenshot(page, '07b-import-server-down');
  server = await startServer(db, { port, env: { ROSTER_JOB_LEASE_SECS: '2' } });
  await page.getByTestId('status').getByText('succeeded').waitFor({ timeout: 180000 });
  assert.equal(await page.getByText(/Lost contact/).count(), 0, 'the notice goes once the server answers');
  const job = (await api('GET', `/api/imports/${id}`)).json;
  assert.equal(job.report.rows, ROWS + 3);
  assert.equal(job.report.rejected, broken.length);
  assert.equal(await page.locator('[data-count="rejected"] b').textContent(), broken.length.toLocaleString('en-US'));
  await page.context().close();
});

test('cancel an import mid-way: it stops after its batch, and the page says what stays', async () => {
  await server.stop();
  const port = server.port;
  server = await startServer(db, { port, env: { ROSTER_TEST_PAUSE_AFTER_BATCHES: '1', ROSTER_TEST_PAUSE_SECS: '3600' } });
  const maps = ['E-mail Address=email', 'First Name=first_name'].map((m) => `map=${encodeURIComponent(m)}`).join('&');
  const up = await api('POST', `/api/imports?kind=contacts&name=to-cancel.csv&${maps}&ignore_unknown_columns=true`, readFileSync(csvPath, 'utf8'));
  assert.equal(up.status, 202, up.text);
  const page = await newPage(browser, server.base);
  await signIn(page, ADMIN);
  await page.goto(`/imports/${up.json.id}`);
  await page.getByTestId('status').getByText('running').waitFor({ timeout: 60000 });
  await page.getByRole('button', { name: 'Cancel the import' }).click();
  await page.getByTestId('status').getByText('cancelled').waitFor({ timeout: 60000 });
  await page.getByText(/Cancelled\. The batches committed before the cancel stay/).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Cancel the import' }).count(), 0);
  await check(page, '08b-import-cancelled');
  const job = (await api('GET', `/api/imports/${up.json.id}`)).json;
  assert.equal(job.status, 'cancelled');
  assert.ok(job.report.rows < ROWS, `stopped early (${job.report.rows} rows)`);
  await page.context().close();
});

test('no page error and no CSP violation on any page', () => {
  assert.deepEqual(problems, []);
});
