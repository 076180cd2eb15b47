// A first visit on a phone in a maintenance window: headless Chromium with
// Chrome's "Slow 4G" preset (1.6 Mbit/s down, 750 kbit/s up, 150 ms round
// trip) and a 4x CPU slowdown. For /login and for /guests, five cold runs
// each (empty cache), over HTTPS (browsers offer brotli there: a local TLS
// proxy in front of the server, self-signed) and over plain HTTP (gzip, and
// the WebAssembly as LZMA); then a second visit. Prints the median bytes transferred, the time until
// the page is readable and until it is interactive (hydrated), against the
// goals (350 KB, 3 s). Figures only, no thresholds.
//
// Run by scripts/bench with BENCH_URL and BENCH_PASSWORD of a running
// server; RUNS overrides the number of cold runs.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

const url = process.env.BENCH_URL;
const password = process.env.BENCH_PASSWORD;
const RUNS = Number(process.env.RUNS ?? 5);
if (!url || !password) {
  console.error('phone.mjs: set BENCH_URL and BENCH_PASSWORD (scripts/bench does)');
  process.exit(2);
}
const GOAL_BYTES = 350 * 1000;
const GOAL_MS = 3000;

/** A self-signed certificate for 127.0.0.1 and its SPKI hash (for Chromium to trust it). */
function certificate() {
  const dir = mkdtempSync(join(tmpdir(), 'phone-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const spki = execFileSync('sh', ['-c',
      `openssl x509 -in ${join(dir, 'cert.pem')} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`]).toString().trim();
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')), spki };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A TLS proxy on a free loopback port in front of `target`; answers its URL. */
async function tlsProxy(target, { key, cert }) {
  const { hostname, port } = new URL(target);
  const server = createHttpsServer({ key, cert }, (req, res) => {
    const upstream = httpRequest(
      { host: hostname, port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  // WebSockets: the raw bytes both ways after replaying the request head.
  server.on('upgrade', (req, socket, head) => {
    const up = connect(Number(port), hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `https://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** What a page shows once readable. */
const READABLE = { '/login': 'input[name=password]', '/guests': 'table.guests tbody tr' };

/**
 * One visit of `path` through `base` in `context`: bytes, readable,
 * interactive. `gzipOnly`: the browser offers gzip, not brotli, as browsers
 * do over plain HTTP to another machine (to 127.0.0.1 Chromium offers brotli
 * even without TLS).
 */
async function visit(context, base, path, gzipOnly) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  if (gzipOnly) await cdp.send('Network.setExtraHTTPHeaders', { headers: { 'Accept-Encoding': 'gzip, deflate' } });
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1024 * 1024) / 8,
    uploadThroughput: (750 * 1024) / 8,
  });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  const urls = new Map();
  const files = new Map();
  const encodings = new Set();
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.responseReceived', (e) => {
    const enc = Object.entries(e.response.headers).find(([k]) => k.toLowerCase() === 'content-encoding');
    if (enc) encodings.add(enc[1]);
  });
  cdp.on('Network.loadingFinished', (e) => {
    files.set(e.requestId, { path: new URL(urls.get(e.requestId) ?? base).pathname, bytes: e.encodedDataLength });
  });
  const start = Date.now();
  await page.goto(`${base}${path}`, { waitUntil: 'commit' });
  await page.locator(READABLE[path]).first().waitFor({ timeout: 120_000 });
  const readable = Date.now() - start;
  await page.waitForSelector('body[data-hydrated]', { state: 'attached', timeout: 120_000 });
  const interactive = Date.now() - start;
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.close();
  const list = [...files.values()].filter((f) => f.bytes > 0).sort((a, b) => b.bytes - a.bytes);
  const bytes = list.reduce((s, f) => s + f.bytes, 0);
  return { bytes, readable, interactive, list, encodings: [...encodings].join(',') || 'none' };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (b) => `${(b / 1000).toFixed(1)} KB`;

/**
 * The server writes the pages' chunk bundles a moment after it starts, then
 * their LZMA copies (for browsers without brotli); until then pages preload
 * their chunks one by one. The figures are those of the bundles and copies.
 */
async function bundlesReady() {
  const login = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  if (!login.ok) throw new Error(`login: HTTP ${login.status}`);
  const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  for (let i = 0; i < 600; i++) {
    const html = await (await fetch(`${url}/guests`, { headers: { cookie, 'accept-encoding': 'gzip, deflate' } })).text();
    if (/\/pkg\/bundle_[^"]*\.wasm\.lzma"/.test(html)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the guest list still preloads no chunk bundle's LZMA copy after 120 s");
}

await bundlesReady();
const tls = certificate();
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  // The proxy's certificate is trusted (not merely ignored: Chromium does not
  // cache what comes with a certificate error, and the second visit would not
  // be one).
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', `--ignore-certificate-errors-spki-list=${tls.spki}`],
});
const proxy = await tlsProxy(url, tls);
try {
  for (const [scheme, base] of [['HTTPS (brotli)', proxy.url], ['HTTP (gzip)', url]]) {
    for (const path of ['/login', '/guests']) {
      const runs = [];
      let second = null;
      for (let i = 0; i < RUNS; i++) {
        const context = await browser.newContext({
          viewport: { width: 390, height: 844 },
          isMobile: true,
          hasTouch: true,
          deviceScaleFactor: 2,
          // For the login request made from Node (the browser trusts the certificate).
          ignoreHTTPSErrors: true,
        });
        if (path !== '/login') {
          // The session cookie, without loading any page (the cache stays empty).
          const res = await context.request.post(`${base}/api/login`, { data: { username: 'admin', password } });
          if (!res.ok()) throw new Error(`login: HTTP ${res.status()}`);
        }
        const gzipOnly = base === url;
        runs.push(await visit(context, base, path, gzipOnly));
        if (i === RUNS - 1) second = await visit(context, base, path, gzipOnly);
        await context.close();
      }
      const m = {
        bytes: median(runs.map((r) => r.bytes)),
        readable: median(runs.map((r) => r.readable)),
        interactive: median(runs.map((r) => r.interactive)),
      };
      const verdict = (ok) => (ok ? 'within' : 'OVER');
      console.log(`phone, Slow 4G, ${scheme}, ${path}, median of ${RUNS} cold runs (content-encoding ${runs[0].encodings}):`);
      console.log(`  transferred ${kb(m.bytes)} (${verdict(m.bytes <= GOAL_BYTES)} the ${kb(GOAL_BYTES)} goal); ` +
        `readable ${m.readable} ms; interactive ${m.interactive} ms (${verdict(m.interactive <= GOAL_MS)} the ${GOAL_MS} ms goal)`);
      console.log(`  runs: ${runs.map((r) => `${kb(r.bytes)}/${r.readable}/${r.interactive} ms`).join(', ')}`);
      for (const f of runs[0].list.slice(0, 8)) console.log(`    ${kb(f.bytes).padStart(9)}  ${f.path}`);
      console.log(`  second visit: transferred ${kb(second.bytes)} in ${second.list.length} responses; ` +
        `readable ${second.readable} ms, interactive ${second.interactive} ms`);
    }
  }
} finally {
  proxy.close();
  await browser.close();
}
