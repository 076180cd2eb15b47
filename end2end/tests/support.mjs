// Helpers for virtdeck's browser tests: start the release server on a free
// port with a fresh database and the built-in demo fleet, launch the system
// Chromium through playwright-core, log in, and poll without fixed sleeps.
//
// Run from the repository root after `scripts/build`:
//   node --test --test-concurrency=1 end2end/tests/

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { chromium } from 'playwright-core';

/** The repository root (this file is end2end/tests/support.mjs). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** Where logs and screenshots go. */
export const resultsDir = join(repoRoot, 'end2end', 'test-results');
mkdirSync(resultsDir, { recursive: true });

const serverBinary = join(repoRoot, 'target', 'release', 'virtdeck');
const siteRoot = join(repoRoot, 'target', 'site');

/** Generous but bounded default for anything that waits on the app. */
export const TIMEOUT = 15_000;

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** An error that stops `waitFor` at once instead of being retried. */
export class FatalError extends Error {}

/**
 * Polls `fn` until it returns a truthy value (which is returned) or
 * `timeoutMs` passes; then throws with `message` and the last error or value.
 * Errors thrown by `fn` are retried, except a `FatalError`.
 */
export async function waitFor(fn, timeoutMs = TIMEOUT, message = 'condition') {
  const deadline = Date.now() + timeoutMs;
  let last;
  let delay = 50;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      last = value;
    } catch (err) {
      if (err instanceof FatalError) throw err;
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message} (last: ${why})`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}

function tail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts `target/release/virtdeck` with a fresh SQLite database, no config
 * file (so the built-in demo fleet is served) and a random admin password.
 * Resolves once `GET /login` answers 200; rejects (never skips) otherwise.
 *
 * @param {string} [name] used in the log file's name
 * @param {string} [config] the text of a virtdeck.toml (default: none, the demo fleet)
 * @returns {Promise<{url: string, password: string, log: string, stop: () => Promise<void>}>}
 */
export async function startServer(name = 'server', config = null) {
  if (!existsSync(serverBinary)) {
    throw new Error(
      `server binary ${serverBinary} is missing: run \`scripts/build\` first`,
    );
  }
  if (!existsSync(siteRoot)) {
    throw new Error(`site root ${siteRoot} is missing: run \`scripts/build\` first`);
  }

  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'virtdeck-e2e-'));
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const url = `http://127.0.0.1:${port}`;
  const log = join(resultsDir, `${basename(name).replace(/[^\w.-]+/g, '_')}-server.log`);
  const logStream = createWriteStream(log);
  const configFile = join(dir, config ? 'virtdeck.toml' : 'none.toml');
  if (config) writeFileSync(configFile, config);

  const child = spawn(serverBinary, [], {
    cwd: repoRoot,
    env: {
      ...process.env,
      VIRTDECK_LISTEN: `127.0.0.1:${port}`,
      VIRTDECK_DATABASE_URL: `sqlite://${join(dir, 'virtdeck.db')}`,
      VIRTDECK_DATA_DIR: join(dir, 'data'),
      VIRTDECK_CONFIG: configFile,
      VIRTDECK_ADMIN_PASSWORD: password,
      LEPTOS_OUTPUT_NAME: 'virtdeck',
      LEPTOS_SITE_ROOT: 'target/site',
      LEPTOS_SITE_PKG_DIR: 'pkg',
      LEPTOS_ENV: 'PROD',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(logStream, { end: false });
  child.stderr.pipe(logStream, { end: false });

  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    child.once('error', (err) => {
      exited = { code: null, signal: null, error: err };
      resolve(exited);
    });
  });

  // Never leave the server behind, even when the test process dies.
  const killOnExit = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 5_000);
      await exitPromise;
      clearTimeout(timer);
    }
    process.removeListener('exit', killOnExit);
    await new Promise((r) => logStream.end(r));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(
      async () => {
        if (exited) {
          throw new FatalError(
            `server exited early (${exited.error?.message ?? `code ${exited.code}, signal ${exited.signal}`})`,
          );
        }
        const res = await fetch(`${url}/login`, {
          redirect: 'manual',
          signal: AbortSignal.timeout(2_000),
        }).catch(() => null);
        return res?.status === 200;
      },
      60_000,
      `GET ${url}/login to answer 200`,
    );
    // The login page is served while the hosts connect; everything else
    // waits for the start (at most 5 s for a hung host). Any answer here,
    // even 401, means the start is over.
    await fetch(`${url}/api/hosts`, { signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    await stop();
    throw new Error(`${err.message}\n--- ${log} (tail) ---\n${tail(log)}`);
  }

  return { url, password, log, stop };
}

/** Launches the system Chromium, headless. */
export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** Desktop browser context options. */
export const DESKTOP = { viewport: { width: 1280, height: 800 } };
/** A phone: 390x844 with touch. */
export const MOBILE = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
};

/** A fresh browser context. */
export async function newContext(browser, options = DESKTOP) {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(TIMEOUT);
  return context;
}

/** Waits until the app's wasm has loaded and hydrated the current document. */
export async function waitForHydration(page, timeout = 30_000) {
  try {
    // app::hydrate marks <body data-hydrated> once hydration, lazy page chunks included, is done.
    await page.waitForSelector('body[data-hydrated]', { state: 'attached', timeout });
  } catch (err) {
    throw new Error(`the page ${page.url()} did not hydrate within ${timeout} ms: ${err.message}`);
  }
}

/** Opens `path` of the app and waits for hydration. */
export async function gotoApp(page, url, path) {
  await page.goto(`${url}${path}`);
  await waitForHydration(page);
}

/** The path part of a page's URL. */
export function pathOf(page) {
  return new URL(page.url()).pathname;
}

/** Waits until the page's path is `path` (query and hash ignored). */
export function waitForPath(page, path, timeout = TIMEOUT) {
  return page.waitForURL((u) => u.pathname === path, { timeout });
}

/**
 * Logs in as "admin" on the login page and waits for the guest list.
 * The "Log in" button is disabled until hydration; click() waits for it.
 */
export async function login(page, url, password) {
  await page.goto(`${url}/login`);
  await page.locator('input[name=username]').fill('admin');
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click({ timeout: 30_000 });
  await waitForPath(page, '/guests', 30_000);
  await waitForHydration(page);
  // The page, not its data: the count line is there once the guests were
  // read, also when there are none ("0 guests" on a fresh lab). Tests that
  // need a row wait for it after making their guests.
  await page.locator('p.count[aria-live]').first().waitFor({ timeout: TIMEOUT });
}

/** The row of guest `name` on `host`. */
export function guestRow(page, name, host) {
  return page.locator(`table.guests tbody tr[data-guest="${name}"][data-host="${host}"]`);
}

/** The text of a guest's state badge, trimmed. */
export async function guestState(page, name, host) {
  return (await guestRow(page, name, host).locator('td.state .badge').textContent())?.trim();
}

/** Waits until the state badge of `name` on `host` reads `state`. */
export async function expectState(page, name, host, state, timeout = TIMEOUT) {
  await waitFor(
    async () => (await guestState(page, name, host)) === state,
    timeout,
    `${name}@${host} to be "${state}"`,
  ).catch(async (err) => {
    const now = await guestState(page, name, host).catch(() => '(no row)');
    throw new Error(`${err.message}; it reads "${now}"`);
  });
}

/** Waits until `locator`'s trimmed text equals `text` (or matches a RegExp). */
export async function expectText(locator, text, timeout = TIMEOUT) {
  const ok = (t) => (text instanceof RegExp ? text.test(t) : t === text);
  let seen;
  await waitFor(
    async () => {
      seen = ((await locator.first().textContent({ timeout: 1_000 })) ?? '').trim();
      return ok(seen);
    },
    timeout,
    `text ${text}`,
  ).catch((err) => {
    throw new Error(`${err.message}; saw "${seen}"`);
  });
}

/** The sorted `name@host` keys of the rows shown now. */
export function visibleGuests(page) {
  return page
    .locator('table.guests tbody tr')
    .evaluateAll((rows) =>
      rows.map((r) => `${r.dataset.guest}@${r.dataset.host}`).sort(),
    );
}

/** Waits until exactly `expected` (name@host keys) are listed. */
export async function expectGuests(page, expected, timeout = TIMEOUT) {
  const want = [...expected].sort();
  let seen;
  await waitFor(
    async () => {
      seen = await visibleGuests(page);
      return JSON.stringify(seen) === JSON.stringify(want);
    },
    timeout,
    `guests ${want.join(', ')}`,
  ).catch((err) => {
    throw new Error(`${err.message}; saw ${seen?.join(', ')}`);
  });
}

/** The lab's facts (scripts/lab up writes them); throws when the lab is not up. */
export function labEnv() {
  const file = join(process.env.VIRTDECK_LAB ?? '/tmp/virtdeck-lab', 'lab.env');
  if (!existsSync(file)) {
    throw new Error(`the lab is not up (${file} is missing): run scripts/lab up`);
  }
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]),
  );
}

/** A virtdeck.toml with the lab's two hosts, lab-a and lab-b. */
export function labConfig(lab) {
  return `[[hosts]]\nname = "lab-a"\nuri = "${lab.LAB_HOST_A_URI}"\n[[hosts]]\nname = "lab-b"\nuri = "${lab.LAB_HOST_B_URI}"\n`;
}

/** Runs virsh against a lab URI; returns its output, or null when it fails. */
export function virsh(uri, ...args) {
  try {
    return execFileSync('timeout', ['60', 'virsh', '-q', '-c', uri, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/**
 * Returns `scenario(name, fn, options)`: a test with its own browser context
 * (DESKTOP unless `options` says otherwise). `ready()` resolves to the shared
 * browser (started on first use, so that a server that cannot start fails
 * every test with its reason instead of cancelling them). `before(page)`, if
 * given, runs first (a login). Uncaught errors in the page (a wasm panic, a
 * hydration error) fail the test; on failure a screenshot is saved to
 * end2end/test-results/failed-<slug>.png.
 */
export function scenarios(ready, { timeout = 180_000, before = null } = {}) {
  return function scenario(name, fn, options = DESKTOP) {
    test(name, { timeout }, async () => {
      const browser = await ready();
      const context = await newContext(browser, options);
      const page = await context.newPage();
      const pageErrors = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      // The content security policy is on in every test: anything it blocks fails the test.
      page.on('console', (msg) => {
        if (/Content Security Policy/i.test(msg.text())) pageErrors.push(msg.text());
      });
      try {
        if (before) await before(page);
        await fn(page, context);
        assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
      } catch (err) {
        const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 60);
        await page
          .screenshot({ path: join(resultsDir, `failed-${slug}.png`), fullPage: true })
          .catch(() => {});
        if (pageErrors.length && !/uncaught errors/.test(err.message)) {
          err.message += `\npage errors: ${pageErrors.join(' | ')}`;
        }
        throw err;
      } finally {
        await context.close();
      }
    });
  };
}

/**
 * Defines and starts a diskless 256 MiB BIOS guest (TCG) on the lab host at
 * `uri`; its name is pushed onto `guests` so the test's `after` removes it.
 */
export function bootBiosGuest(uri, name, guests) {
  const xml = `<domain type='qemu'><name>${name}</name><uuid>${randomUUID()}</uuid>
    <memory unit='MiB'>256</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
    <devices><emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices></domain>`;
  const file = join(tmpdir(), `${name}.xml`);
  writeFileSync(file, xml);
  if (virsh(uri, 'define', file) === null) throw new Error(`cannot define ${name}`);
  guests.push(name);
  if (virsh(uri, 'start', name) === null) throw new Error(`cannot start ${name}`);
}

/** Removes the guests named from every lab host. */
export function removeGuests(lab, guests) {
  for (const name of guests.splice(0)) {
    for (const uri of [lab.LAB_HOST_A_URI, lab.LAB_HOST_B_URI, lab.LAB_HOST_C_URI]) {
      virsh(uri, 'destroy', name);
      virsh(uri, 'undefine', name);
    }
  }
}
