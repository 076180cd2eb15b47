// The guests page on a phone in a maintenance window: headless Chromium with
// Chrome's "Slow 4G" preset (1.6 Mbit/s down, 750 kbit/s up, 150 ms round
// trip) and a 4x CPU slowdown, first with an empty cache, then a second visit.
// Prints the bytes transferred and the times until the list is readable and
// until the page is interactive (hydrated). Figures only, no thresholds.
//
// Run by scripts/bench with BENCH_URL and BENCH_PASSWORD of a running server.

import { chromium } from 'playwright-core';

const url = process.env.BENCH_URL;
const password = process.env.BENCH_PASSWORD;
if (!url || !password) {
  console.error('phone.mjs: set BENCH_URL and BENCH_PASSWORD (scripts/bench does)');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic'],
});
try {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  });
  // The session cookie, without loading any page (the cache stays empty).
  const res = await context.request.post(`${url}/api/login`, {
    data: { username: 'admin', password },
  });
  if (!res.ok()) throw new Error(`login: HTTP ${res.status()}`);

  for (const visit of ['first visit (empty cache)', 'second visit']) {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 150,
      downloadThroughput: (1.6 * 1024 * 1024) / 8,
      uploadThroughput: (750 * 1024) / 8,
    });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });

    const transferred = new Map(); // requestId -> {url, bytes}
    const urls = new Map();
    cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
    cdp.on('Network.loadingFinished', (e) => {
      transferred.set(e.requestId, { url: urls.get(e.requestId), bytes: e.encodedDataLength });
    });

    const start = Date.now();
    await page.goto(`${url}/guests`, { waitUntil: 'commit' });
    await page.locator('table.guests tbody tr').first().waitFor({ timeout: 120_000 });
    const readable = Date.now() - start;
    await page.waitForSelector('body[data-hydrated]', { state: 'attached', timeout: 120_000 });
    const interactive = Date.now() - start;
    const fcp = await page.evaluate(
      () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
    );
    await page.waitForLoadState('networkidle').catch(() => {});

    const over = [...transferred.values()].filter((t) => t.bytes > 0);
    const total = over.reduce((s, t) => s + t.bytes, 0);
    console.log(`phone, Slow 4G, ${visit}:`);
    console.log(`  transferred ${(total / 1024).toFixed(1)} KiB in ${over.length} responses`);
    for (const t of over.sort((a, b) => b.bytes - a.bytes)) {
      const path = new URL(t.url).pathname;
      console.log(`    ${(t.bytes / 1024).toFixed(1).padStart(7)} KiB  ${path}`);
    }
    console.log(
      `  readable (first row shown) ${readable} ms` +
        (fcp == null ? '' : ` (first contentful paint ${Math.round(fcp)} ms)`) +
        `; interactive (hydrated) ${interactive} ms`,
    );
    await page.close();
  }
} finally {
  await browser.close();
}
