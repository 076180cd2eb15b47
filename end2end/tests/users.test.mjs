// Users and roles in the browser: an admin creates a viewer on the Users
// page; the viewer must choose a password first, then reads the fleet without
// any action buttons or host addresses; disabled by the admin, the viewer's
// open page goes back to the login page by itself.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, describe } from 'node:test';

import {
  expectText,
  launch,
  login,
  newContext,
  scenarios,
  startServer,
  waitFor,
  waitForHydration,
  waitForPath,
} from './support.mjs';

/** RFC 6238: the 6-digit code of a base32 secret at unix time `t`. */
function totp(secret, t) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

let server;
let browser;
let starting;

function ready() {
  starting ??= (async () => {
    server = await startServer('users');
    browser = await launch();
    return browser;
  })();
  return starting;
}

describe('virtdeck users and roles (demo fleet)', { concurrency: false }, () => {
  after(async () => {
    await browser?.close();
    await server?.stop();
  });
  const scenario = scenarios(ready);

  scenario('a viewer created on the Users page changes the first password, reads without acting, and is sent out when disabled', async (page) => {
    await login(page, server.url, server.password);
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await waitForPath(page, '/users');
    await waitForHydration(page);
    const form = page.getByRole('form', { name: 'New user' });
    await form.locator('input[name=username]').fill('vera');
    await form.locator('input[name=password]').fill('vera');
    await expectText(form.locator('[role=alert]'), /at least 12 characters/);
    await form.locator('input[name=password]').fill('first-password-for-vera');
    await form.locator('select[name=role]').selectOption('viewer');
    await form.getByRole('button', { name: 'Create user' }).click();
    await expectText(form.locator('[role=status]'), 'Created vera (viewer).');
    await page.locator('table.users tr[data-user="vera"]').waitFor();

    // Vera, in her own browser.
    const vera = await newContext(browser);
    try {
      const p = await vera.newPage();
      const sockets = [];
      p.on('websocket', (ws) => sockets.push(ws.url()));
      await p.goto(`${server.url}/login`);
      await p.locator('input[name=username]').fill('vera');
      await p.locator('input[name=password]').fill('first-password-for-vera');
      await p.getByRole('button', { name: 'Log in', exact: true }).click({ timeout: 30_000 });
      await waitForPath(p, '/account', 30_000);
      await waitForHydration(p);
      await expectText(p.locator('.notice.warn'), /choose your own/);
      // The server refuses /ws until the password is chosen: the page does
      // not ask for it (it used to retry again and again). A negative check
      // needs time: longer than the first two retries (2 s, then 4 s) took.
      await p.waitForTimeout(5_000);
      assert.deepEqual(sockets, [], 'no socket before the password is chosen');
      const pw = p.getByRole('form', { name: 'Change password' });
      await pw.locator('input[name=current]').fill('first-password-for-vera');
      await pw.locator('input[name=new]').fill('veras-own-password');
      await pw.locator('input[name=repeat]').fill('veras-own-password');
      await pw.getByRole('button', { name: 'Change password' }).click();
      await expectText(pw.locator('[role=status]'), /Password changed/);
      await waitFor(() => sockets.length === 1, 10_000, 'the socket opens once the password is chosen');
      assert.match(sockets[0], /\/ws$/);

      await p.goto(`${server.url}/guests`);
      await waitForHydration(p);
      await p.locator('table.guests tbody tr').first().waitFor();
      await expectText(p.locator('.topbar .user .role'), 'viewer');
      assert.ok((await p.locator('table.guests td.actions button').count()) > 0, 'the rows carry buttons');
      const visibleButtons = await p.locator('table.guests td.actions button').evaluateAll(
        (bs) => bs.filter((b) => b.offsetParent !== null).length,
      );
      assert.equal(visibleButtons, 0, 'a viewer sees no action buttons');
      assert.equal(await p.getByRole('link', { name: 'Users', exact: true }).count(), 0);
      await p.goto(`${server.url}/hosts`);
      await waitForHydration(p);
      await p.locator('.cards').first().waitFor();
      assert.equal(await p.locator('p.uri').count(), 0, 'no host URIs for a viewer');

      // The admin disables vera: her open page leaves for the login page.
      await p.goto(`${server.url}/guests`);
      await waitForHydration(p);
      await page.goto(`${server.url}/users`);
      await waitForHydration(page);
      await page.locator('table.users tr[data-user="vera"]').getByRole('button', { name: 'Disable' }).click();
      await expectText(page.locator('.notice.ok'), 'vera is now viewer, disabled.');
      await waitFor(() => new URL(p.url()).pathname === '/login', 15_000, "vera's page to go to the login page");
    } finally {
      await vera.close();
    }

    // The audit page shows what happened to vera, refused attempts included.
    await page.goto(`${server.url}/audit?object=vera`);
    await waitForHydration(page);
    const actions = await page.locator('table.audit tbody td[data-label=Action]').allTextContents();
    for (const a of ['user.create', 'user.disable']) {
      assert.ok(actions.includes(a), `${a} in ${actions}`);
    }
    await page.goto(`${server.url}/audit?user=vera&action=user.password`);
    await page.locator('table.audit tbody tr').first().waitFor();
    assert.equal(await page.locator('table.audit tbody tr').count(), 1);
  });

  scenario('a token made on the Account page works for a script until it is revoked', async (page) => {
    await login(page, server.url, server.password);
    await page.locator('header.topbar a.user').click();
    await waitForPath(page, '/account');
    await waitForHydration(page);
    const form = page.getByRole('form', { name: 'New token' });
    await form.locator('input[name=name]').fill('nightly report');
    await form.locator('select[name=role]').selectOption('viewer');
    await form.getByRole('button', { name: 'Create token' }).click();
    const token = ((await page.locator('code.secret').textContent()) ?? '').trim();
    assert.match(token, /^vdk_\d+_\w{40}$/);
    const asScript = () =>
      fetch(`${server.url}/api/guests`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    assert.equal(await asScript(), 200);
    const row = page.locator('table.tokens tr[data-token="nightly report"]');
    await expectText(row.locator('td[data-label=Role]'), 'viewer');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await expectText(row.locator('.tag'), 'revoked');
    assert.equal(await asScript(), 401);
  });

  scenario('two-factor login is set up on the Account page and then asked for at login', async (page, context) => {
    await login(page, server.url, server.password);
    await page.goto(`${server.url}/account`);
    await waitForHydration(page);
    const section = page.getByRole('region', { name: 'Two-factor login' });
    await section.locator('input[name=password]').fill(server.password);
    await section.getByRole('button', { name: 'Set up two-factor login' }).click();
    await section.locator('.qr svg').waitFor();
    const secret = ((await section.locator('code.secret').textContent()) ?? '').trim();
    assert.match(secret, /^[A-Z2-7]+=*$/);
    const now = Date.now() / 1000;
    await section.locator('input[name=code]').fill(totp(secret, now));
    await section.getByRole('button', { name: 'Turn on' }).click();
    await expectText(section.locator('[role=status] p'), /recovery codes/);
    assert.equal(await section.locator('.recovery-codes li').count(), 10);

    const other = await newContext(browser);
    try {
      const p = await other.newPage();
      await p.goto(`${server.url}/login`);
      await p.locator('input[name=username]').fill('admin');
      await p.locator('input[name=password]').fill(server.password);
      await p.getByRole('button', { name: 'Log in', exact: true }).click({ timeout: 30_000 });
      await p.locator('input[name=code]').waitFor();
      await p.locator('input[name=code]').fill('000000');
      await p.getByRole('button', { name: 'Verify' }).click();
      await expectText(p.locator('[role=alert]'), /wrong or was used/);
      // The code used to turn it on is spent; the next step's works.
      await p.locator('input[name=code]').fill(totp(secret, now + 30));
      await p.getByRole('button', { name: 'Verify' }).click();
      await waitForPath(p, '/guests', 30_000);
      await p.locator('table.guests tbody tr').first().waitFor();
    } finally {
      await other.close();
    }

    // With their own on, an admin can require it for every admin.
    await page.goto(`${server.url}/users`);
    await waitForHydration(page);
    await page.locator('input[name=require_totp_for_admins]').check();
    await waitFor(
      async () => (await (await context.request.get(`${server.url}/api/settings`)).json()).require_totp_for_admins === true,
      10_000,
      'the setting to be saved',
    );
  });
});
