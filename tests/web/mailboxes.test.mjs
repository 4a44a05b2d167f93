// The mailboxes page (admins): list, add with aliases and capture, remove.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, AGENT, newDatabase, startServer, launch, newPage, signIn, axe, screenshot } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer(newDatabase());
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('add a mailbox with an alias, see it listed, remove it; agents are refused', async () => {
  const page = await newPage(browser, server.base);
  await signIn(page, ADMIN);
  await page.goto('/mailboxes');
  await page.getByText(/No mailboxes yet/).waitFor();
  await page.getByLabel('Name').fill('support');
  await page.getByLabel('Address').fill('not an address');
  await page.getByRole('button', { name: 'Add the mailbox' }).click();
  await page.locator('.field-error:not([hidden]), .notice.error').first().waitFor();
  await page.getByLabel('Address').fill('support@example.com');
  await page.getByLabel('Aliases').fill('help@example.com, hello@example.com');
  await page.getByLabel('Who becomes a contact').selectOption('senders');
  await page.getByRole('button', { name: 'Add the mailbox' }).click();
  await page.getByText('The mailbox “support” was added.').waitFor();
  const row = page.getByRole('row').filter({ hasText: 'support@example.com' });
  await row.getByText('hello@example.com, help@example.com').waitFor();
  await row.getByText('senders only').waitFor();
  await screenshot(page, '18-mailboxes');
  assert.deepEqual(await axe(page), []);
  await row.getByRole('button', { name: 'Remove the mailbox support' }).click();
  await page.getByText('The mailbox “support” was removed.').waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();

  const agent = await newPage(browser, server.base);
  await signIn(agent, AGENT);
  await agent.goto('/mailboxes');
  await agent.getByRole('heading', { name: 'Not allowed' }).waitFor();
  await agent.context().close();
});
