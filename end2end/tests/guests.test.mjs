// Browser tests of virtdeck's guest list against the built-in demo fleet.
//
//   scripts/build
//   node --test --test-concurrency=1 end2end/tests/
//
// One server for this file (fresh database, random admin password), one
// fresh browser context per test. The tests run in order and each leaves the
// fleet as it found it (every guest back in its demo state).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe } from 'node:test';

import {
  MOBILE,
  TIMEOUT,
  expectGuests,
  expectState,
  expectText,
  gotoApp,
  guestRow,
  guestState,
  launch,
  login,
  newContext,
  pathOf,
  resultsDir,
  startServer,
  waitFor,
  waitForPath,
  scenarios,
} from './support.mjs';

const ALL_GUESTS = [
  'web01@demo-alpha',
  'db01@demo-alpha',
  'build01@demo-alpha',
  'cache01@demo-alpha',
  'mail01@demo-beta',
  'backup01@demo-beta',
  'ci-runner@demo-beta',
];
const BETA_GUESTS = ALL_GUESTS.filter((g) => g.endsWith('@demo-beta'));

let server;
let browser;
let starting;

/**
 * Starts the server and the browser once, on first use. Not a `before` hook:
 * when the server cannot start (binary missing, crash) every test must fail
 * with that reason, not be reported as cancelled.
 */
function ready() {
  starting ??= (async () => {
    server = await startServer('guests');
    browser = await launch();
    return browser;
  })();
  return starting;
}

describe('virtdeck guests (demo fleet)', () => {
  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  const scenario = scenarios(ready);

  const button = (page, name) => page.getByRole('button', { name, exact: true });
  const notice = (page) => page.locator('.notice.ok[role=status]');

  scenario('without a session the guest list leads to the login page, which rejects a wrong password', async (page) => {
    await page.goto(`${server.url}/guests`);
    await waitForPath(page, '/login');
    await page.locator('main.login form').waitFor();
    assert.equal(await page.locator('table.guests').count(), 0, 'no guest table without a session');

    await page.locator('input[name=username]').fill('admin');
    await page.locator('input[name=password]').fill(`${server.password}-wrong`);
    await button(page, 'Log in').click({ timeout: 30_000 });

    await expectText(page.locator('[role=alert]'), /wrong username or password/i);
    assert.equal(pathOf(page), '/login', 'still on the login page');
    await page.locator('input[name=password]').waitFor();
  });

  scenario('logged in, the guests of both hosts are listed and pause/resume update the row in place', async (page) => {
    await login(page, server.url, server.password);

    await guestRow(page, 'web01', 'demo-alpha').waitFor();
    await guestRow(page, 'mail01', 'demo-beta').waitFor();
    await expectGuests(page, ALL_GUESTS);
    await expectText(page.locator('p.count'), '7 guests · 3 running, 2 paused, 2 shut off');
    await expectState(page, 'web01', 'demo-alpha', 'running');
    await expectState(page, 'build01', 'demo-alpha', 'shut off');
    await expectState(page, 'ci-runner', 'demo-beta', 'paused');

    // A reload would drop this marker.
    await page.evaluate(() => {
      window.__marker = 1;
    });

    await button(page, 'Pause web01').click();
    await expectState(page, 'web01', 'demo-alpha', 'paused');
    await expectText(notice(page), 'Paused web01 on demo-alpha: now paused.');
    assert.equal(await page.evaluate(() => window.__marker), 1, 'the page was not reloaded');
    await button(page, 'Resume web01').waitFor();
    assert.equal(await button(page, 'Pause web01').count(), 0, 'a paused guest offers no "Pause"');

    await button(page, 'Resume web01').click();
    await expectState(page, 'web01', 'demo-alpha', 'running');
    await expectText(notice(page), 'Resumed web01 on demo-alpha: now running.');
    assert.equal(await page.evaluate(() => window.__marker), 1, 'the page was not reloaded');
    assert.equal(pathOf(page), '/guests');

    await page.screenshot({ path: join(resultsDir, 'guests-desktop.png'), fullPage: true });
  });

  scenario('a change made in another window shows up live, without reload', async (page) => {
    await login(page, server.url, server.password);
    await expectState(page, 'mail01', 'demo-beta', 'running');
    await page.evaluate(() => {
      window.__marker = 1;
    });

    // A second user session (another browser window, another person).
    const other = await newContext(browser);
    try {
      const otherPage = await other.newPage();
      await login(otherPage, server.url, server.password);
      await button(otherPage, 'Pause mail01').click();
      await expectState(otherPage, 'mail01', 'demo-beta', 'paused');

      // The first window learns of it over the WebSocket.
      await expectState(page, 'mail01', 'demo-beta', 'paused');
      assert.equal(await page.evaluate(() => window.__marker), 1, 'the page was not reloaded');

      await button(page, 'Resume mail01').click();
      await expectState(page, 'mail01', 'demo-beta', 'running');
      await expectState(otherPage, 'mail01', 'demo-beta', 'running');
    } finally {
      await other.close();
    }
  });

  scenario('an action after the session ended says so and offers to log in again', async (page) => {
    // The page's socket is one that has not noticed yet (a session that
    // expired a moment ago, a socket that is reconnecting): it says nothing.
    await page.routeWebSocket(/\/ws$/, () => {});
    await login(page, server.url, server.password);
    await expectState(page, 'web01', 'demo-alpha', 'running');
    // The session ends behind the page's back.
    const res = await page.request.post(`${server.url}/api/logout`, { data: {} });
    assert.equal(res.status(), 200);

    await button(page, 'Pause web01').click();
    const alert = page.locator('.notice.error[role=alert]');
    await expectText(alert, /session has expired/);
    await alert.getByRole('link', { name: /log in again/i }).waitFor();
    assert.equal(await guestState(page, 'web01', 'demo-alpha'), 'running', 'nothing changed');
  });

  scenario('a logout in another tab sends the open page to the login page at once', async (page) => {
    await login(page, server.url, server.password);
    await expectState(page, 'web01', 'demo-alpha', 'running');
    const res = await page.request.post(`${server.url}/api/logout`, { data: {} });
    assert.equal(res.status(), 200);
    // The socket is closed with 4001 as the session ends; the page follows.
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/guests', { timeout: 5_000 });
  });

  scenario("a session that ends before the page's socket opens still sends the page to the login page", async (page) => {
    await login(page, server.url, server.password);
    // The page's HTML arrives, and the session ends before its WebAssembly
    // has loaded: its socket is refused (no 4001 ever comes).
    await page.goto(`${server.url}/guests`, { waitUntil: 'commit' });
    const res = await page.request.post(`${server.url}/api/logout`, { data: {} });
    assert.equal(res.status(), 200);
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/guests', { timeout: 15_000 });
  });

  scenario('force off asks for confirmation first', async (page) => {
    await login(page, server.url, server.password);
    await expectState(page, 'db01', 'demo-alpha', 'running');
    const dialog = page.getByRole('alertdialog');

    // Escape closes the dialog and nothing happens.
    await button(page, 'Force off db01').click();
    await dialog.waitFor({ state: 'visible' });
    await expectText(dialog.locator('h2'), 'Force off db01?');
    await waitFor(
      () => page.evaluate(() => document.activeElement?.textContent?.trim() === 'Cancel'),
      TIMEOUT,
      'the safe choice ("Cancel") to have the focus',
    );
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await guestState(page, 'db01', 'demo-alpha'), 'running', 'Escape did not force off');

    // So does "Cancel".
    await button(page, 'Force off db01').click();
    await dialog.waitFor({ state: 'visible' });
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await guestState(page, 'db01', 'demo-alpha'), 'running', 'Cancel did not force off');
    assert.equal(await notice(page).count(), 0, 'no action ran');

    // Confirming forces it off.
    await button(page, 'Force off db01').click();
    await dialog.waitFor({ state: 'visible' });
    await dialog.getByRole('button', { name: 'Force off', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    await expectState(page, 'db01', 'demo-alpha', 'shut off');
    await expectText(notice(page), 'Forced off db01 on demo-alpha: now shut off.');

    await button(page, 'Start db01').click();
    await expectState(page, 'db01', 'demo-alpha', 'running');
    await expectText(notice(page), 'Started db01 on demo-alpha: now running.');
  });

  scenario('filters narrow the list by host, state and name', async (page) => {
    await login(page, server.url, server.password);
    const host = page.locator('select[aria-label="Filter by host"]');
    const state = page.locator('select[aria-label="Filter by state"]');
    const search = page.locator('input[aria-label="Search by name"]');
    const count = page.locator('p.count');
    await expectGuests(page, ALL_GUESTS);

    await host.selectOption('demo-beta');
    await expectGuests(page, BETA_GUESTS);
    await expectText(count, /^3 of 7 guests · /);

    await state.selectOption('paused');
    await expectGuests(page, ['ci-runner@demo-beta']);
    await expectText(count, /^1 of 7 guests · /);

    await host.selectOption('');
    await expectGuests(page, ['cache01@demo-alpha', 'ci-runner@demo-beta']);
    await expectText(count, /^2 of 7 guests · /);

    await state.selectOption('');
    await search.fill('web');
    await expectGuests(page, ['web01@demo-alpha']);
    await expectText(count, /^1 of 7 guests · /);

    await search.fill('no-such-guest');
    await expectGuests(page, []);
    await expectText(page.locator('p.empty'), 'No guest matches these filters.');

    await search.fill('');
    await expectGuests(page, ALL_GUESTS);
    await expectText(count, /^7 guests · /);
  });

  scenario('the hosts page shows both demo hosts as connected', async (page) => {
    await login(page, server.url, server.password);
    await page.locator('header.topbar nav').getByRole('link', { name: 'Hosts', exact: true }).click();
    await waitForPath(page, '/hosts');

    for (const name of ['demo-alpha', 'demo-beta']) {
      const card = page.locator(`section.card.host[data-host="${name}"]`);
      await card.waitFor();
      await expectText(card.locator('h2'), name);
      await expectText(card.locator('.badge'), 'connected');
    }
    await expectText(
      page.locator('header.topbar nav a[aria-current="page"]'),
      'Hosts',
    );

    await page.locator('header.topbar nav').getByRole('link', { name: 'Guests', exact: true }).click();
    await waitForPath(page, '/guests');
    await guestRow(page, 'web01', 'demo-alpha').waitFor();
  });

  scenario(
    'on a phone the guest list fits the screen and pause/resume work by tapping',
    async (page) => {
      await login(page, server.url, server.password);
      await expectGuests(page, ALL_GUESTS);

      const noHorizontalScroll = async (what) => {
        const { scrollWidth, innerWidth } = await page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
        }));
        // A mobile browser may widen the layout viewport to fit wide content,
        // so compare with the configured width too.
        const width = Math.min(innerWidth, page.viewportSize().width);
        assert.ok(
          scrollWidth <= width,
          `${what}: page is ${scrollWidth}px wide in a ${width}px viewport`,
        );
      };
      await noHorizontalScroll('guest list');

      const pause = button(page, 'Pause web01');
      const box = await pause.boundingBox();
      assert.ok(box && box.height >= 40, `the Pause button is ${box?.height}px high (want >= 40)`);

      await page.evaluate(() => {
        window.__marker = 1;
      });
      await pause.tap();
      await expectState(page, 'web01', 'demo-alpha', 'paused');
      await expectText(notice(page), 'Paused web01 on demo-alpha: now paused.');
      await button(page, 'Resume web01').tap();
      await expectState(page, 'web01', 'demo-alpha', 'running');
      await expectText(notice(page), 'Resumed web01 on demo-alpha: now running.');
      assert.equal(await page.evaluate(() => window.__marker), 1, 'the page was not reloaded');
      await noHorizontalScroll('guest list with a notice');

      await page.screenshot({ path: join(resultsDir, 'guests-mobile.png'), fullPage: true });

      await gotoApp(page, server.url, '/hosts');
      await page.locator('section.card.host[data-host="demo-beta"]').waitFor();
      await noHorizontalScroll('hosts page');
    },
    MOBILE,
  );

  scenario('logging out returns to the login page and ends the session', async (page) => {
    await login(page, server.url, server.password);
    await expectText(page.locator('header.topbar .user .name'), 'admin');
    await expectText(page.locator('header.topbar .user .role'), 'admin');

    await button(page, 'Log out').click();
    await waitForPath(page, '/login');
    await page.locator('input[name=password]').waitFor();

    await page.goto(`${server.url}/guests`);
    await waitForPath(page, '/login');
    assert.equal(await page.locator('table.guests').count(), 0, 'no guest table after logging out');
  });
});
