// First run: `roster serve` on a database without an admin prints a
// one-time setup link; the setup page creates the first admin with it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newDatabase, startServer, launch, newPage, axe, screenshot } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer(newDatabase({ admin: false }));
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('the setup link creates the first admin once, then stops working', async () => {
  const m = /http:\/\/127\.0\.0\.1:\d+\/setup#token=([0-9a-f]+)/.exec(server.output());
  assert.ok(m, `roster serve printed a setup link:\n${server.output()}`);
  const link = m[0];
  const page = await newPage(browser, server.base);
  await page.goto(link);
  await page.getByRole('heading', { name: 'Set up Roster' }).waitFor();
  assert.equal(new URL(page.url()).hash, '', 'the code leaves the address bar at once');
  // A password the API refuses: its sentence next to the field, the link still works.
  await page.getByLabel('Your email').fill('owner@example.com');
  await page.getByLabel('Password').fill('123');
  await page.getByRole('button', { name: 'Create the admin and sign in' }).click();
  const err = page.locator('.field', { has: page.getByLabel('Password') }).locator('.field-error');
  await err.waitFor();
  assert.match(await err.textContent(), /6 characters/);
  assert.deepEqual(await axe(page), []);
  await screenshot(page, '00-setup');
  await page.getByLabel('Password').fill('a good password');
  await page.getByRole('button', { name: 'Create the admin and sign in' }).click();
  await page.waitForURL(/\/contacts$/);
  await page.getByText('owner@example.com (admin)').waitFor();
  assert.deepEqual(page.problems, []);

  // Used once: the same code is refused, in the page and over the API.
  const again = await fetch(`${server.base}/api/setup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: m[1], email: 'intruder@example.com', password: 'another password' }),
  });
  assert.equal(again.status, 403);
  const other = await newPage(browser, server.base);
  await other.goto(link);
  await other.getByLabel('Your email').fill('intruder@example.com');
  await other.getByLabel('Password').fill('another password');
  await other.getByRole('button', { name: 'Create the admin and sign in' }).click();
  await other.getByRole('alert').getByText(/already used/).waitFor();
  await page.context().close();
  await other.context().close();
});
