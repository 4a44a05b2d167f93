// Test harness: a real `roster serve` on a free 127.0.0.1 port with a temp
// SQLite database, and Debian's chromium driven by playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..');
export const shots = join(here, 'screenshots');
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const ADMIN = { email: 'admin@example.com', password: 'correct horse battery' };
export const AGENT = { email: 'agent@example.com', password: 'agent password 1' };

/** The debug binary, built by the caller (scripts/test builds it first). */
export function binary() {
  const target = process.env.CARGO_TARGET_DIR || join(repo, 'target');
  const bin = process.env.ROSTER_BIN || join(target, 'debug', 'roster');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run cargo build first (scripts/test does)`);
  return bin;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const ENV = { ...process.env, ROSTER_INSECURE_FAST_HASH: '1', RUST_LOG: process.env.RUST_LOG || 'warn' };

/** Runs the CLI against `db`; throws with its stderr when it fails. */
export function cli(db, args, input) {
  const r = spawnSync(binary(), ['--database', db, ...args], { input, env: ENV, encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`roster ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A temp directory with an empty database; `admin: true` creates the admin and an agent. */
export function newDatabase({ admin = true } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'roster-web-'));
  const db = `sqlite://${join(dir, 'roster.db')}`;
  cli(db, ['init']);
  if (admin) {
    cli(db, ['users', 'create-admin', ADMIN.email, '--first-name', 'Ada', '--last-name', 'Admin'], `${ADMIN.password}\n`);
    const agents = join(dir, 'agents.csv');
    writeFileSync(agents, `email,first_name,last_name,password,role\n${AGENT.email},Aggie,Agent,${AGENT.password},agent\n`);
    cli(db, ['import', 'users', agents]);
  }
  return { dir, db };
}

/** Starts `roster serve` (on `port`, or a free one; `env` adds variables); resolves once /api/health answers. */
export async function startServer({ dir, db }, { port, env = {} } = {}) {
  port = port || await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(binary(), ['--database', db, 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data')], { env: { ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((r) => child.on('exit', r));
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`roster serve exited ${child.exitCode}:\n${output}`);
    try {
      const r = await fetch(`${base}/api/health`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`roster serve did not answer /api/health within 30 s:\n${output}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base, port, child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      await exited;
    },
  };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** A fresh browser context (its own cookies) watching for page errors and CSP violations. */
export async function newPage(browser, base, viewport = DESKTOP) {
  const context = await browser.newContext({ baseURL: base, viewport, acceptDownloads: true });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) page.problems.push(`CSP: ${m.text()}`);
  });
  return page;
}

export async function signIn(page, who) {
  await page.goto('/signin');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/signin'));
}

/** axe-core on the current page: the serious and critical violations. */
export async function axe(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
}

/** Saves the page at desktop and phone width under screenshots/. */
export async function screenshot(page, name) {
  mkdirSync(shots, { recursive: true });
  const size = page.viewportSize();
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(shots, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(shots, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(size || DESKTOP);
}

/** An API client with a bearer token, for checks beside the browser. */
export function apiClient(base, token) {
  return async (method, path, body) => {
    const r = await fetch(base + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': typeof body === 'string' ? 'text/csv' : 'application/json' } : {}) },
      body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* CSV or empty */ }
    return { status: r.status, headers: r.headers, text, json };
  };
}
