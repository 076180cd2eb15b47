// Browser tests of the live fleet, on the lab's two real libvirt hosts
// (scripts/lab up; scripts/test starts it) plus a test-driver host of 250
// generated guests:
// - what someone does with virsh on a host shows on an open guest list, with
//   no reload;
// - a host whose daemon stops is announced, its guests stay listed as "last
//   seen", and it comes back by itself;
// - the list pages through a fleet larger than one page;
// - without JavaScript (or before the wasm arrives) one can log in and read
//   the list.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';

import {
  MOBILE,
  expectGuests,
  expectState,
  expectText,
  guestRow,
  labConfig,
  labEnv,
  launch,
  login,
  repoRoot,
  scenarios,
  startServer,
  virsh,
  waitFor,
} from './support.mjs';

const BIG = 250;

let server;
let browser;
let lab;
let starting;
const fixtures = mkdtempSync(join(tmpdir(), 'virtdeck-e2e-fleet-'));
const defined = [];

/** A test-driver fixture with `count` guests big-000.. (every third shut off). */
function bigFleet(count) {
  const domains = Array.from({ length: count }, (_, i) => {
    const n = String(i).padStart(3, '0');
    const state = i % 3 === 2 ? '<test:runstate>5</test:runstate>' : '';
    return `<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
      <name>big-${n}</name><uuid>${randomUUID()}</uuid><memory unit='MiB'>512</memory><vcpu>1</vcpu>
      <os><type arch='x86_64'>hvm</type></os>${state}</domain>`;
  });
  const file = join(fixtures, 'big.xml');
  writeFileSync(file, `<node><memory>67108864</memory>${domains.join('\n')}</node>`);
  return file;
}

function ready() {
  starting ??= (async () => {
    lab = labEnv();
    const config = `${labConfig(lab)}[[hosts]]\nname = "big"\nuri = "test://${bigFleet(BIG)}"\n`;
    server = await startServer('fleet', config);
    browser = await launch();
    return browser;
  })();
  return starting;
}

/** Defines a diskless guest with virsh, outside virtdeck; started if asked. */
function defineWithVirsh(uri, name) {
  const file = join(fixtures, `${name}.xml`);
  writeFileSync(
    file,
    `<domain type='qemu'><name>${name}</name><uuid>${randomUUID()}</uuid>
    <memory unit='MiB'>128</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type></os>
    <devices><emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices></domain>`,
  );
  assert.notEqual(virsh(uri, 'define', file), null, `virsh define ${name}`);
  defined.push([uri, name]);
}

/** `scripts/lab stop|start a|b` (the lab's own PID files). */
function labCtl(action, host) {
  execFileSync(join(repoRoot, 'scripts', 'lab'), [action, host], { stdio: 'ignore', timeout: 120_000 });
}

describe('virtdeck live fleet (lab)', () => {
  after(async () => {
    for (const [uri, name] of defined) {
      virsh(uri, 'destroy', name);
      virsh(uri, 'undefine', name);
    }
    await browser?.close().catch(() => {});
    await server?.stop();
    rmSync(fixtures, { recursive: true, force: true });
  });

  const scenario = scenarios(ready, { timeout: 240_000 });
  const marker = (page) => page.evaluate(() => (window.__marker = 1));
  const notReloaded = async (page) =>
    assert.equal(await page.evaluate(() => window.__marker), 1, 'the page was not reloaded');
  const search = (page) => page.locator('input[aria-label="Search by name"]');

  scenario('guests defined, started, stopped and removed with virsh show up on the open page', async (page) => {
    const name = `e2e-live-${randomBytes(3).toString('hex')}`;
    await login(page, server.url, server.password);
    await search(page).fill(name);
    await expectText(page.locator('p.empty'), 'No guest matches these filters.');
    await marker(page);

    defineWithVirsh(lab.LAB_HOST_A_URI, name);
    await expectState(page, name, 'lab-a', 'shut off', 5_000);
    assert.notEqual(virsh(lab.LAB_HOST_A_URI, 'start', name), null, 'virsh start');
    await expectState(page, name, 'lab-a', 'running', 5_000);
    await page.getByRole('button', { name: `Pause ${name}`, exact: true }).waitFor();
    assert.notEqual(virsh(lab.LAB_HOST_A_URI, 'destroy', name), null, 'virsh destroy');
    await expectState(page, name, 'lab-a', 'shut off', 5_000);
    assert.notEqual(virsh(lab.LAB_HOST_A_URI, 'undefine', name), null, 'virsh undefine');
    await expectGuests(page, [], 5_000);
    await expectText(page.locator('p.empty'), 'No guest matches these filters.');
    await notReloaded(page);
  });

  scenario('a host that goes down is announced, its guests stay as last seen, and it comes back by itself', async (page) => {
    const name = `e2e-down-${randomBytes(3).toString('hex')}`;
    defineWithVirsh(lab.LAB_HOST_B_URI, name);
    await login(page, server.url, server.password);
    await search(page).fill(name);
    await expectState(page, name, 'lab-b', 'shut off');
    await marker(page);
    const banner = page.locator('.notice.warn[role=status]', { hasText: 'lab-b' });
    const lastSeen = guestRow(page, name, 'lab-b').locator('.tag.stale');
    assert.equal(await banner.count(), 0, 'no banner while lab-b is connected');

    labCtl('stop', 'b');
    try {
      await expectText(banner, /^lab-b is unreachable; its guests are shown as last seen\./, 20_000);
      await expectText(lastSeen, 'last seen');
      await expectState(page, name, 'lab-b', 'shut off');
      // The other host is unaffected.
      assert.equal(await page.locator('.notice.warn[role=status]', { hasText: 'lab-a' }).count(), 0);
      await page.screenshot({ path: join(repoRoot, 'end2end', 'test-results', 'fleet-host-down.png'), fullPage: true });
    } finally {
      labCtl('start', 'b');
    }
    await waitFor(async () => (await banner.count()) === 0, 60_000, 'the lab-b banner to go once it is back');
    await waitFor(async () => (await lastSeen.count()) === 0, 10_000, 'the row to be current again');
    await notReloaded(page);
  });

  scenario('a fleet larger than a page is paged, counted and searched on the server; the URL keeps the view', async (page) => {
    await login(page, server.url, server.password);
    const host = page.locator('select[aria-label="Filter by host"]');
    await host.selectOption('big');
    const pager = page.locator('nav.pager').first();
    const next = pager.getByRole('link', { name: 'Next', exact: true });
    await expectText(pager.locator('span.muted'), `1–100 of ${BIG}`);
    await expectText(page.locator('p.count'), new RegExp(`^${BIG} of \\d+ guests · `));
    assert.equal(await page.locator('table.guests tbody tr').count(), 100, 'one page of rows');
    await guestRow(page, 'big-000', 'big').waitFor();
    assert.match(page.url(), /[?&]host=big(&|$)/);

    await next.click();
    await expectText(pager.locator('span.muted'), `101–200 of ${BIG}`);
    await guestRow(page, 'big-100', 'big').waitFor();
    assert.equal(await guestRow(page, 'big-000', 'big').count(), 0, 'the first page is gone');
    await next.click();
    await expectText(pager.locator('span.muted'), `201–${BIG} of ${BIG}`);
    await waitFor(
      async () => (await page.locator('table.guests tbody tr').count()) === BIG - 200,
      5_000,
      `the last ${BIG - 200} rows`,
    );
    assert.equal(await next.count(), 0, 'no link past the last page');
    await expectText(pager.locator('[aria-disabled=true]'), 'Next');

    // A reload (or a shared link) shows the same view.
    await page.reload();
    await expectText(page.locator('nav.pager span.muted').first(), `201–${BIG} of ${BIG}`);
    assert.equal(await page.locator('select[aria-label="Filter by host"]').inputValue(), 'big');
    await guestRow(page, 'big-249', 'big').waitFor();

    // A search runs over the whole host, not only the page shown, and starts again at page one.
    await search(page).fill('big-01');
    await expectGuests(page, Array.from({ length: 10 }, (_, i) => `big-01${i}@big`));
    assert.equal(await page.locator('nav.pager').count(), 0, 'one page: no pager');
    assert.match(page.url(), /[?&]q=big-01(&|$)/);
    assert.doesNotMatch(page.url(), /page=/);
  });

  scenario('on a phone a page of a big host fits the screen and the pager is easy to tap', async (page) => {
    await login(page, server.url, server.password);
    await page.locator('select[aria-label="Filter by host"]').selectOption('big');
    await expectText(page.locator('nav.pager span.muted').first(), `1–100 of ${BIG}`);
    const box = await page.locator('nav.pager').first().getByRole('link', { name: 'Next' }).boundingBox();
    assert.ok(box && box.height >= 40, `"Next" is ${box?.height}px high (want >= 40)`);
    const { scrollWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth }));
    assert.ok(scrollWidth <= MOBILE.viewport.width, `page is ${scrollWidth}px wide`);
  }, MOBILE);

  scenario('without JavaScript one can log in and read the guest list', async (_page, context) => {
    const noJs = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await noJs.newPage();
      await page.goto(`${server.url}/guests?host=big`);
      await page.waitForURL(/\/login/);
      await page.locator('input[name=username]').fill('admin');
      await page.locator('input[name=password]').fill(`${server.password}-wrong`);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
      await page.waitForURL(/failed=1/);
      await expectText(page.locator('[role=alert]'), /wrong username or password/i);

      await page.locator('input[name=username]').fill('admin');
      await page.locator('input[name=password]').fill(server.password);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
      await page.waitForURL(/\/guests\?host=big$/);
      await guestRow(page, 'big-000', 'big').waitFor();
      assert.equal(await page.locator('table.guests tbody tr').count(), 100, 'the first page of big only');

      // The filter form and the pager work as plain HTML.
      await page.getByRole('link', { name: 'Next', exact: true }).first().click();
      await page.waitForURL(/page=2/);
      await guestRow(page, 'big-100', 'big').waitFor();
      await page.locator('input[name=q]').fill('big-24');
      await page.getByRole('button', { name: 'Apply', exact: true }).click();
      await page.waitForURL(/q=big-24/);
      await waitFor(async () => (await page.locator('table.guests tbody tr').count()) === 10, 10_000, '10 rows');
      await expectText(guestRow(page, 'big-242', 'big').locator('td.state .badge').first(), 'shut off');
      await expectText(page.locator('p.count'), /guests · /);
    } finally {
      await noJs.close();
    }
    assert.ok(context, 'the scenario context stays unused');
  });
});
