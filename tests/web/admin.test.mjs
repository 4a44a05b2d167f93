// The admin pages: users, labels, companies, custom fields.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

let db;

before(async () => {
  db = newDatabase();
  server = await startServer(db);
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('admin pages: users, labels, companies, custom fields', async () => {
  const page = await newPage(browser, server.base);
  await signIn(page, ADMIN);
  await page.goto('/users');
  await page.getByRole('cell', { name: AGENT.email }).waitFor();
  const form = page.getByRole('form', { name: 'Add a user' });
  await form.getByLabel('Email').fill('new.agent@example.com');
  await form.getByLabel('Password').fill('123');
  await page.getByRole('button', { name: 'Add the user' }).click();
  const pwError = form.locator('.field', { has: page.getByLabel('Password', { exact: true }) }).locator('.field-error');
  await pwError.waitFor();
  assert.match(await pwError.textContent(), /6/, 'the API\'s password rule, next to the field');
  await form.getByLabel('Password').fill('long enough');
  await page.getByRole('button', { name: 'Add the user' }).click();
  await page.getByText('new.agent@example.com was added.').waitFor();
  const row = () => page.getByRole('row').filter({ hasText: 'new.agent@example.com' });
  await row().getByRole('button', { name: 'Deactivate' }).click();
  await page.getByText(/new.agent@example.com was deactivated/).waitFor();
  await row().getByText('inactive').waitFor();
  const other = await newPage(browser, server.base);
  await other.goto('/signin');
  await other.getByLabel('Email').fill('new.agent@example.com');
  await other.getByLabel('Password').fill('long enough');
  await other.getByRole('button', { name: 'Sign in' }).click();
  await other.getByRole('alert').waitFor();
  await row().getByRole('button', { name: 'Activate' }).click();
  await page.getByText('new.agent@example.com was activated.').waitFor();
  await row().getByLabel('New password for new.agent@example.com').fill('brand new pass');
  await row().getByRole('button', { name: 'Set' }).click();
  await page.getByText('The password of new.agent@example.com was changed.').waitFor();
  await row().getByLabel('Role of new.agent@example.com').selectOption('admin');
  await page.getByText('new.agent@example.com is now an admin.').waitFor();
  await signIn(other, { email: 'new.agent@example.com', password: 'brand new pass' });
  await other.getByText('new.agent@example.com (admin)').waitFor();
  await other.context().close();
  await check(page, '14-users');

  await page.goto('/labels');
  await page.getByLabel('Name').fill('Newsletter');
  await page.getByRole('button', { name: 'Add the label' }).click();
  await page.getByText('The label “Newsletter” was added.').waitFor();
  await page.getByRole('cell', { name: 'Newsletter' }).waitFor();
  await check(page, '15-labels');

  await page.goto('/companies');
  await page.getByLabel('Name').fill('Acme Ltd');
  await page.getByRole('button', { name: 'Add the company' }).click();
  await page.getByRole('cell', { name: 'Acme Ltd' }).waitFor();
  await check(page, '16-companies');

  await page.goto('/fields');
  await page.getByLabel('Variable name').fill('Bad Name');
  await page.getByRole('button', { name: 'Add the field' }).click();
  await page.locator('.field-error:not([hidden]), .notice.error').first().waitFor();
  await page.getByLabel('Variable name').fill('plan');
  await page.getByLabel('Type').selectOption('select');
  await page.getByLabel('Options (for select)').fill('gold,silver');
  await page.getByRole('button', { name: 'Add the field' }).click();
  await page.getByRole('cell', { name: 'gold, silver' }).waitFor();
  await check(page, '17-fields');

  await page.context().close();
});


test('an agent reads labels, companies and fields, and cannot add them', async () => {
  const page = await newPage(browser, server.base);
  await signIn(page, AGENT);
  await page.goto('/labels');
  await page.getByRole('cell', { name: 'Newsletter' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Add the label' }).count(), 0);
  await page.goto('/fields');
  await page.getByRole('cell', { name: 'gold, silver' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Add the field' }).count(), 0);
  await page.context().close();
});

test('import users through the wizard: passwords never shown, a short one rejected, the others sign in', async () => {
  const file = join(db.dir, 'team.csv');
  writeFileSync(file, 'email,first_name,last_name,password,role\nann@example.com,Ann,Lee,ann secret 1,agent\nbob@example.com,Bob,Ray,123,agent\ncat@example.com,Cat,Kim,cat secret 2,admin\n');
  const page = await newPage(browser, server.base);
  await signIn(page, ADMIN);
  await page.goto('/import');
  await page.getByLabel(/^Users/).check();
  await page.getByLabel('CSV file').setInputFiles(file);
  await page.getByRole('heading', { name: /Columns of team.csv/ }).waitFor();
  const pwRow = page.getByRole('row').filter({ has: page.getByText('password', { exact: true }) });
  await pwRow.getByText('••••••').waitFor();
  assert.equal(await page.getByText('ann secret 1').count(), 0, 'no password on the page');
  await page.getByRole('button', { name: 'Next: options' }).click();
  await page.getByRole('button', { name: 'Next: dry run' }).click();
  await page.getByText('If you import now:').waitFor({ timeout: 60000 });
  const count = async (k) => Number(await page.locator(`[data-count="${k}"] b`).first().textContent());
  assert.deepEqual([await count('rows'), await count('created'), await count('rejected')], [3, 2, 1]);
  await page.getByRole('button', { name: 'Import team.csv' }).click();
  await page.getByTestId('status').getByText('succeeded').waitFor({ timeout: 60000 });
  await page.getByRole('table', { name: 'Rejected rows' }).getByRole('cell', { name: '3', exact: true }).waitFor();
  assert.equal(await page.getByText('123', { exact: true }).count(), 0, 'the rejected password is not echoed');
  await page.context().close();
  const ann = await newPage(browser, server.base);
  await signIn(ann, { email: 'ann@example.com', password: 'ann secret 1' });
  await ann.getByText('ann@example.com (agent)').waitFor();
  await ann.context().close();
});

test('no page error and no CSP violation on these pages', () => {
  assert.deepEqual(problems, []);
});
