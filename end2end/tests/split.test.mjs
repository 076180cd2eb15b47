// The WebAssembly split by page (scripts/build: cargo leptos build --split):
// - the budget: what a first visit to /login, and to /guests, loads from the
//   server, each file compressed with brotli as the server does (quality 11,
//   window 22), stays within its budget (BUDGETS); a failure names the files;
// - a first visit fetches its page's chunks in one bundle, and one by one
//   when the bundle cannot be fetched;
// - a page chunk that cannot be fetched tells the user to reload, and the
//   reload works once the network is back;
// - a browser that offers no brotli (Chromium over plain HTTP) loads the
//   LZMA copies of the main module and the bundle, decoded by the page's
//   script, within the 350 KB goal as sent, and the module's gzip when the
//   LZMA copy cannot be fetched; the decoder gives back every LZMA copy the
//   server wrote, byte for byte.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { constants, brotliCompressSync } from 'node:zlib';
import { after, describe, test } from 'node:test';

import {
  MOBILE,
  expectText,
  launch,
  login,
  newContext,
  startServer,
  waitFor,
  waitForHydration,
  waitForPath,
} from './support.mjs';

const KB = 1000;
// The README's budgets, the goals of issue 19: /login 300 KB, /guests 330 KB
// (/guests was 548 KB when the split landed, 526 KB with opt-level "s" and
// one JSON decoder per type, 414 KB with Either instead of AnyView on the
// fleet pages and the hosts page in an area of its own, 392 KB with /ws
// messages decoded per kind without serde's buffered path, 377 KB with the
// running migrations only and a lazy confirmation, 355 KB with its chunks in
// one bundle, 318 KB with opt-level "z" and erased views hydrated only
// synchronously, vendor/README.md).
const BUDGETS = { '/login': 300 * KB, '/guests': 330 * KB };
// Issue 19's goal for a first visit as sent, for browsers without brotli too.
const GOAL_AS_SENT = 350 * KB;
const PKG = join(import.meta.dirname, '..', '..', 'target', 'site', 'pkg');
const NO_BROTLI = { 'Accept-Encoding': 'gzip, deflate' };

let server;
let browser;
let starting;

function ready() {
  starting ??= (async () => {
    server = await startServer('split');
    browser = await launch();
    await bundlesReady();
    return browser;
  })();
  return starting;
}

/**
 * Waits until the guest list's HTML, asked for with `headers`, matches
 * `pattern` (the server writes what it links a moment after it starts).
 */
async function guestsHtmlMatches(headers, pattern, what) {
  const context = await browser.newContext();
  try {
    const res = await context.request.post(`${server.url}/api/login`, {
      data: { username: 'admin', password: server.password },
    });
    assert.equal(res.status(), 200, 'login through the API');
    await waitFor(
      async () => pattern.test(await (await context.request.get(`${server.url}/guests`, { headers })).text()),
      180_000,
      what,
    );
  } finally {
    await context.close();
  }
}

/**
 * The server writes the pages' chunk bundles (and their compressed copies)
 * a moment after it starts, once per build; until then pages preload their
 * chunks one by one. The figures here are those of the bundles.
 */
function bundlesReady() {
  return guestsHtmlMatches({}, /\/pkg\/bundle_/, "the guest list's HTML to preload its chunk bundle");
}

let lzma;

/**
 * The LZMA copies follow the bundles: a browser without brotli gets them
 * once the guest list's HTML (asked without brotli) preloads them. Once.
 */
function lzmaReady() {
  lzma ??= ready().then(() => guestsHtmlMatches(
    NO_BROTLI,
    /\/pkg\/bundle_[^"]*\.wasm\.lzma"/,
    "the guest list's HTML, asked without brotli, to preload the bundle's LZMA copy",
  ));
  return lzma;
}

/** A new phone-sized page logged in through the API, `route` (if any) applied. */
async function loggedInPage(route) {
  const context = await newContext(await ready(), MOBILE);
  const res = await context.request.post(`${server.url}/api/login`, {
    data: { username: 'admin', password: server.password },
  });
  assert.equal(res.status(), 200, 'login through the API');
  if (route) await route(context);
  const page = await context.newPage();
  return { context, page };
}

/**
 * Opens /guests logged in as a browser that offers no brotli, with `route`
 * (if any) applied first; answers every response's size as sent (bytes on
 * the wire, headers included, as the phone benchmark counts) by path, the
 * WebAssembly files asked for, and the page.
 */
async function openGuestsWithoutBrotli(route) {
  const { context, page } = await loggedInPage(route);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setExtraHTTPHeaders', { headers: NO_BROTLI });
  const urls = new Map();
  const sent = new Map();
  const encodings = new Set();
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.responseReceived', (e) => {
    const [, encoding] = Object.entries(e.response.headers).find(([k]) => k.toLowerCase() === 'content-encoding') ?? [];
    if (encoding) encodings.add(encoding);
  });
  cdp.on('Network.loadingFinished', (e) => {
    const url = urls.get(e.requestId);
    if (url?.startsWith(server.url)) sent.set(new URL(url).pathname, e.encodedDataLength);
  });
  const wasm = [];
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (/\.wasm(\.lzma)?$/.test(path)) wasm.push(path.slice(path.lastIndexOf('/') + 1));
  });
  await page.goto(`${server.url}/guests`);
  await waitForHydration(page);
  await page.waitForLoadState('networkidle').catch(() => {});
  return { context, page, wasm, sent, encodings };
}

/** The guest list works: rows, and a filter that runs the page's code. */
async function guestListWorks(page) {
  await page.getByRole('heading', { name: 'Guests', exact: true }).waitFor();
  assert.ok((await page.locator('table.guests tbody tr').count()) > 0, 'the guest list has rows');
  await page.getByLabel('Filter by state').selectOption('running');
  await waitFor(
    async () => {
      const states = await page.locator('table.guests tbody td.state').allTextContents();
      return states.length > 0 && states.every((text) => text.includes('running'));
    },
    15_000,
    'only running guests after filtering by state',
  );
  assert.equal(new URL(page.url()).searchParams.get('state'), 'running', 'the filter in the address');
  assert.equal(await page.locator('#stopped').count(), 0, 'no "stopped" banner');
}

/**
 * Opens /guests logged in, in a fresh context, with `route` (if any) applied
 * first; answers the WebAssembly files the page fetched (their names) and
 * the page.
 */
async function openGuests(route) {
  const { context, page } = await loggedInPage(route);
  const wasm = [];
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (path.endsWith('.wasm')) wasm.push(path.slice(path.lastIndexOf('/') + 1));
  });
  await page.goto(`${server.url}/guests`);
  await waitForHydration(page);
  return { context, page, wasm };
}

function brotliSize(body) {
  return brotliCompressSync(body, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_LGWIN]: 22,
      [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
    },
  }).length;
}

/**
 * Opens `path` in a context with an empty cache (logged in first through the
 * API when `loggedIn`), waits for hydration and a quiet network, and returns
 * every response of the server's origin with its brotli size.
 */
async function firstVisit(path, loggedIn) {
  const context = await newContext(await ready(), MOBILE);
  try {
    if (loggedIn) {
      const res = await context.request.post(`${server.url}/api/login`, {
        data: { username: 'admin', password: server.password },
      });
      assert.equal(res.status(), 200, 'login through the API');
    }
    const page = await context.newPage();
    const bodies = [];
    page.on('response', (response) => {
      if (response.url().startsWith(server.url) && response.status() === 200) {
        bodies.push(response.body().then((body) => ({ url: response.url(), body }), () => null));
      }
    });
    await page.goto(`${server.url}${path}`);
    await waitForHydration(page);
    await page.waitForLoadState('networkidle').catch(() => {});
    const files = new Map();
    for (const r of await Promise.all(bodies)) {
      if (r) files.set(new URL(r.url).pathname, brotliSize(r.body));
    }
    return [...files].map(([file, bytes]) => ({ file, bytes })).sort((a, b) => b.bytes - a.bytes);
  } finally {
    await context.close();
  }
}

describe('the WebAssembly split by page', { concurrency: false }, () => {
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const [path, budget] of Object.entries(BUDGETS)) {
    test(`a first visit to ${path} loads at most ${budget / KB} KB (brotli)`, { timeout: 120_000 }, async () => {
      const files = await firstVisit(path, path !== '/login');
      const total = files.reduce((sum, f) => sum + f.bytes, 0);
      const table = files.map((f) => `  ${(f.bytes / KB).toFixed(1).padStart(7)} KB  ${f.file}`).join('\n');
      console.log(`${path}: ${(total / KB).toFixed(1)} KB brotli in ${files.length} files\n${table}`);
      assert.ok(files.some((f) => f.file.endsWith('.wasm')), `${path} loaded no WebAssembly:\n${table}`);
      assert.ok(
        total <= budget,
        `${path} loads ${(total / KB).toFixed(1)} KB brotli, over its budget of ${budget / KB} KB; ` +
          `the largest file is ${files[0].file} (${(files[0].bytes / KB).toFixed(1)} KB):\n${table}`,
      );
    });
  }

  test("a first visit to /guests fetches its page's chunks in one bundle", { timeout: 240_000 }, async () => {
    const { context, page, wasm } = await openGuests();
    try {
      const bundles = wasm.filter((f) => f.startsWith('bundle_fleet_area_'));
      const chunks = wasm.filter((f) => /^(chunk_|split_)/.test(f));
      assert.equal(bundles.length, 1, `one bundle, fetched once: ${wasm.join(', ')}`);
      assert.deepEqual(chunks, [], `no chunk fetched on its own: ${wasm.join(', ')}`);
      assert.equal(wasm.length, 2, `the main module and the bundle: ${wasm.join(', ')}`);
      // The page works from the bundle's chunks.
      await guestListWorks(page);
    } finally {
      await context.close();
    }
  });

  test('when the bundle cannot be fetched, the page fetches its chunks one by one', { timeout: 240_000 }, async () => {
    let blocked = 0;
    const { context, page, wasm } = await openGuests((ctx) =>
      ctx.route(/\/pkg\/bundle_[^/]*$/, (route) => {
        blocked += 1;
        return route.abort('internetdisconnected');
      }));
    try {
      assert.ok(blocked > 0, `the page asked for its bundle: ${wasm.join(', ')}`);
      const chunks = wasm.filter((f) => /^(chunk_|split_)/.test(f));
      assert.ok(chunks.some((f) => f.startsWith('split_fleet_area_')), `the page's own chunk on its own: ${wasm.join(', ')}`);
      await page.getByRole('heading', { name: 'Guests', exact: true }).waitFor();
      assert.ok((await page.locator('table.guests tbody tr').count()) > 0, 'the guest list has rows');
      assert.equal(await page.locator('#stopped').count(), 0, 'no "stopped" banner');
    } finally {
      await context.close();
    }
  });

  test('a page chunk that cannot be fetched tells the user to reload, and the reload works', { timeout: 120_000 }, async () => {
    const context = await newContext(await ready());
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    try {
      await login(page, server.url, server.password);
      assert.equal(await page.locator('#stopped').count(), 0, 'no banner on a working page');
      // The network drops every WebAssembly chunk from now on.
      let blocked = 0;
      await context.route(/\/pkg\/.*\.wasm$/, (route) => {
        blocked += 1;
        return route.abort('internetdisconnected');
      });
      await page.getByRole('link', { name: 'Storage', exact: true }).click();
      const banner = page.getByRole('alert').filter({ hasText: 'This page stopped working' });
      await expectText(
        banner,
        'This page stopped working: part of virtdeck could not be loaded ' +
          '(a network problem, or virtdeck was updated). Reload the page',
      );
      assert.ok(blocked > 0, 'the storage page asked for a chunk');
      assert.ok(pageErrors.length > 0, 'the failed chunk stopped the module (and was reported)');
      // The network is back: the banner's link reloads the page, and the
      // storage page opens.
      await context.unroute(/\/pkg\/.*\.wasm$/);
      const link = banner.getByRole('link', { name: 'Reload the page' });
      const reloadPath = new URL(await link.evaluate((a) => a.href)).pathname;
      // A new document: the old one stays marked hydrated until it is replaced.
      await Promise.all([page.waitForEvent('load'), link.click()]);
      await waitForPath(page, reloadPath);
      await waitForHydration(page);
      assert.equal(await page.locator('#stopped').count(), 0, 'no banner after the reload');
      if (reloadPath !== '/storage') {
        await page.getByRole('link', { name: 'Storage', exact: true }).click();
        await waitForPath(page, '/storage');
      }
      await page.getByRole('heading', { name: 'Storage', exact: true }).waitFor();
      assert.equal(await page.locator('#stopped').count(), 0, 'no banner on the storage page');
    } finally {
      await context.close();
    }
  });
  test('a browser without brotli loads /guests from LZMA copies within 350 KB as sent, and it works', { timeout: 300_000 }, async () => {
    await lzmaReady();
    const { context, page, wasm, sent, encodings } = await openGuestsWithoutBrotli();
    try {
      const files = [...sent].map(([file, bytes]) => ({ file, bytes })).sort((a, b) => b.bytes - a.bytes);
      const total = files.reduce((sum, f) => sum + f.bytes, 0);
      const table = files.map((f) => `  ${(f.bytes / KB).toFixed(1).padStart(7)} KB  ${f.file}`).join('\n');
      console.log(`/guests without brotli: ${(total / KB).toFixed(1)} KB as sent in ${files.length} responses ` +
        `(content-encoding ${[...encodings].join(', ')})\n${table}`);
      assert.ok(!encodings.has('br'), `nothing came as brotli: ${[...encodings].join(', ')}`);
      const main = wasm.filter((f) => /^virtdeck\.[^/]*\.wasm\.lzma$/.test(f));
      const bundle = wasm.filter((f) => /^bundle_fleet_area_[^/]*\.wasm\.lzma$/.test(f));
      assert.equal(main.length, 1, `the main module's LZMA copy: ${wasm.join(', ')}`);
      assert.equal(bundle.length, 1, `the bundle's LZMA copy: ${wasm.join(', ')}`);
      assert.equal(wasm.length, 2, `nothing else, no gzip of either: ${wasm.join(', ')}`);
      assert.ok(
        total <= GOAL_AS_SENT,
        `/guests without brotli sends ${(total / KB).toFixed(1)} KB, over the ${GOAL_AS_SENT / KB} KB goal:\n${table}`,
      );
      await guestListWorks(page);
    } finally {
      await context.close();
    }
  });

  test("when the LZMA copies cannot be fetched, the page loads the module's gzip and its chunks", { timeout: 300_000 }, async () => {
    await lzmaReady();
    let blocked = 0;
    const { context, page, wasm } = await openGuestsWithoutBrotli((ctx) =>
      ctx.route(/\.wasm\.lzma$/, (route) => {
        blocked += 1;
        return route.abort('internetdisconnected');
      }));
    try {
      assert.ok(blocked >= 2, `the page asked for both LZMA copies: ${wasm.join(', ')}`);
      assert.ok(wasm.some((f) => /^virtdeck\.[^/]*\.wasm$/.test(f)), `the main module itself: ${wasm.join(', ')}`);
      assert.ok(wasm.some((f) => f.startsWith('split_fleet_area_')), `the page's own chunk on its own: ${wasm.join(', ')}`);
      await guestListWorks(page);
    } finally {
      await context.close();
    }
  });

  test("the page's LZMA decoder gives back every LZMA copy the server wrote, and refuses a cut one", { timeout: 300_000 }, async () => {
    await lzmaReady();
    const lzmaDecode = vm.runInNewContext(
      `${readFileSync(join(import.meta.dirname, '..', '..', 'app', 'src', 'lzma.js'), 'utf8')}; lzmaDecode`,
      {},
    );
    const copies = readdirSync(PKG).filter((f) => f.endsWith('.wasm.lzma'));
    assert.ok(copies.some((f) => f.startsWith('bundle_')) && copies.some((f) => f.startsWith('virtdeck.')),
      `the main module's and the bundles' copies: ${copies.join(', ')}`);
    for (const copy of copies) {
      const packed = readFileSync(join(PKG, copy));
      const original = readFileSync(join(PKG, copy.slice(0, -'.lzma'.length)));
      const decoded = lzmaDecode(new Uint8Array(packed));
      assert.ok(Buffer.from(decoded.buffer, decoded.byteOffset, decoded.byteLength).equals(original), `${copy} decodes to its file`);
      assert.ok(packed.length < original.length * 0.5, `${copy}: ${packed.length} of ${original.length} bytes`);
      assert.throws(() => lzmaDecode(new Uint8Array(packed.subarray(0, packed.length - 100))), /lzma: truncated/, `${copy} cut short`);
    }
  });
});
