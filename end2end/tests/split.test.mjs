// The WebAssembly split by page (scripts/build: cargo leptos build --split):
// - the budget: what a first visit to /login, and to /guests, loads from the
//   server, each file compressed with brotli as the server does (quality 11,
//   window 22), stays within its budget (BUDGETS); a failure names the files;
// - a page chunk that cannot be fetched tells the user to reload, and the
//   reload works once the network is back.

import assert from 'node:assert/strict';
import { constants, brotliCompressSync } from 'node:zlib';
import { after, describe, test } from 'node:test';

import {
  MOBILE,
  expectText,
  launch,
  login,
  newContext,
  startServer,
  waitForHydration,
  waitForPath,
} from './support.mjs';

const KB = 1000;
// The README's budgets. /login meets the goal of issue 19 (300 KB); /guests
// does not yet (goal 330 KB; 548 KB when the split landed, 526 KB with
// opt-level "s" and one JSON decoder per type, 414 KB with Either instead of
// AnyView on the fleet pages and the hosts page in an area of its own, 392 KB
// with /ws messages decoded per kind without serde's buffered path): its
// budget guards today's figure until the pages' code shrinks.
const BUDGETS = { '/login': 300 * KB, '/guests': 385 * KB };

let server;
let browser;
let starting;

function ready() {
  starting ??= (async () => {
    server = await startServer('split');
    browser = await launch();
    return browser;
  })();
  return starting;
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
});
