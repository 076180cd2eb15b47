// Browser tests of one guest's page (/guests/:host/:uuid) against the
// built-in demo fleet: overview, live usage, snapshots, lifecycle, edit,
// clone and delete, on a desktop and on a phone.
//
//   scripts/build
//   node --test --test-concurrency=1 end2end/tests/guest.test.mjs
//
// One server for this file; the tests run in order and each leaves the demo
// fleet as it found it.

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
  launch,
  login,
  pathOf,
  resultsDir,
  scenarios,
  startServer,
  waitFor,
  waitForPath,
} from './support.mjs';

const WEB01 = '6b1f7c3e-0a11-4c5e-9a01-00000000a001';
const BUILD01 = '6b1f7c3e-0a11-4c5e-9a01-00000000a003';
const ALL_GUESTS = [
  'web01@demo-alpha',
  'db01@demo-alpha',
  'build01@demo-alpha',
  'cache01@demo-alpha',
  'mail01@demo-beta',
  'backup01@demo-beta',
  'ci-runner@demo-beta',
];

let server;
let browser;
let starting;

function ready() {
  starting ??= (async () => {
    server = await startServer('guest');
    browser = await launch();
    return browser;
  })();
  return starting;
}

describe('virtdeck guest page (demo fleet)', () => {
  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  const scenario = scenarios(ready, {
    before: (page) => login(page, server.url, server.password),
  });

  const button = (scope, name) => scope.getByRole('button', { name, exact: true });
  const headState = (page) => page.locator('header.guest-head .badge');
  const pageNotice = (page) => page.locator('main > .notice.ok[role=status]');

  async function openGuest(page, uuid, name) {
    await gotoApp(page, server.url, `/guests/demo-alpha/${uuid}`);
    await expectText(page.locator('header.guest-head h1'), name);
  }

  /** The page is no wider than the viewport. */
  async function noHorizontalScroll(page, what) {
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({
      scrollWidth: document.scrollingElement.scrollWidth,
      innerWidth: window.innerWidth,
    }));
    const width = Math.min(innerWidth, page.viewportSize().width);
    assert.ok(scrollWidth <= width, `${what}: page is ${scrollWidth}px wide in a ${width}px viewport`);
  }

  /** Every visible button (and button-like link) in the page is at least 40 px tall. */
  async function tapTargets(page, what) {
    const small = await page
      .locator('main button:visible, main a.button:visible, .modal button:visible')
      .evaluateAll((els) =>
        els
          .map((e) => ({ text: e.textContent.trim() || e.getAttribute('aria-label'), h: e.getBoundingClientRect().height }))
          .filter((b) => b.h < 40),
      );
    assert.deepEqual(small, [], `${what}: buttons under 40 px`);
  }

  scenario('the page opens from the list and shows the overview, live usage and snapshots as a tree', async (page) => {
    await guestRow(page, 'web01', 'demo-alpha').locator('a.guest-name').click();
    await waitForPath(page, `/guests/demo-alpha/${WEB01}`);
    await expectText(page.locator('header.guest-head h1'), 'web01');
    await expectText(headState(page), 'running');
    await expectText(page.locator('dd[data-fact=vcpus]'), /^2 \(maximum 2\)$/);
    await expectText(page.locator('dd[data-fact=memory]'), /^2 GiB of 2 GiB maximum/);
    const disk = page.locator('table.disks tr[data-disk=vda]');
    await expectText(disk.locator('code.path'), '/var/lib/libvirt/images/web01.qcow2');
    await expectText(disk.locator('td[data-label="Pool / volume"]'), 'default / web01.qcow2');
    await expectText(disk.locator('td[data-label=Size]'), '20 GiB');

    // Usage: a sample every 2 s; the CPU chart needs two differences.
    // (A steady load is a flat line, which has no height: attached, not "visible".)
    await page.locator('.spark.cpu figure.sparkline svg').waitFor({ timeout: 20_000 });
    await page.locator('.spark.cpu figure.sparkline svg polyline').waitFor({ state: 'attached' });
    await expectText(page.locator('.spark.cpu .spark-value'), /^\d+ %$/);

    // Snapshots: a first one, then a second under it.
    const form = page.locator('form.snapshot-form');
    await form.locator('input[name=snapshot-name]').fill('before-test');
    await form.locator('textarea[name=snapshot-description]').fill('Taken by the browser test');
    await button(form, 'Take snapshot').click();
    const first = page.locator('ul.snapshot-tree li[data-snapshot="before-test"]');
    await first.waitFor();
    await expectText(first.locator('.snapshot-description'), 'Taken by the browser test');
    assert.equal(await first.getAttribute('data-depth'), '0');
    await first.locator('.tag.current').waitFor();

    await form.locator('input[name=snapshot-name]').fill('after-test');
    await button(form, 'Take snapshot').click();
    const second = page.locator('ul.snapshot-tree li[data-snapshot="after-test"]');
    await second.waitFor();
    assert.equal(await second.getAttribute('data-depth'), '1');
    assert.equal(await second.getAttribute('data-parent'), 'before-test');
    const [a, b] = [await first.boundingBox(), await second.boundingBox()];
    assert.ok(b.x > a.x, `the second snapshot is indented (${b.x} > ${a.x})`);
    await second.locator('.tag.current').waitFor();

    await page.screenshot({ path: join(resultsDir, 'guest-desktop.png'), fullPage: true });

    // Revert, after a confirmation.
    const dialog = page.getByRole('alertdialog');
    await button(page, 'Revert to before-test').click();
    await dialog.waitFor();
    await expectText(dialog.locator('p'), /current state is lost unless snapshotted/);
    await button(dialog, 'Revert').click();
    await dialog.waitFor({ state: 'detached' });
    await expectText(pageNotice(page), 'Reverted to snapshot before-test.');
    await first.locator('.tag.current').waitFor();

    // Delete both (Escape first: nothing happens).
    await button(page, 'Delete snapshot after-test').click();
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await second.waitFor();
    await button(page, 'Delete snapshot after-test').click();
    await button(dialog, 'Delete snapshot').click();
    await second.waitFor({ state: 'detached' });
    await button(page, 'Delete snapshot before-test').click();
    await button(dialog, 'Delete snapshot').click();
    await first.waitFor({ state: 'detached' });
    await page.locator('section.snapshots').getByText('No snapshots yet.').waitFor();
  });

  scenario('shut down says the shutdown was requested and follows the guest until it is off', async (page) => {
    // On the list first: no "now running" as if the request had failed.
    await expectState(page, 'web01', 'demo-alpha', 'running');
    await button(page, 'Shut down web01').click();
    await expectText(page.locator('.notice.ok[role=status]'), /^Shutdown requested/);
    await expectState(page, 'web01', 'demo-alpha', 'shut off');
    await button(page, 'Start web01').click();
    await expectState(page, 'web01', 'demo-alpha', 'running');

    await openGuest(page, WEB01, 'web01');
    await expectText(headState(page), 'running');
    await button(page, 'Shut down').click();
    // The test driver powers off at once: the page says the request was
    // honoured, with the new state, and no error.
    await expectText(pageNotice(page), /^Shutdown requested: web01 powered off after \d+ s \(now shut off\)\.$/);
    await expectText(headState(page), 'shut off');
    assert.equal(await page.locator('main .notice.error').count(), 0, 'no error');
    assert.equal(await page.locator('.notice.request').count(), 0, 'no longer waiting');
    // Shut off: usage is not sampled.
    await page.locator('section.usage-panel').getByText(/not running/).waitFor();

    await button(page, 'Start').click();
    await expectText(headState(page), 'running');
    await expectText(pageNotice(page), 'Started web01: now running.');
  });

  scenario('a shut-off guest is edited and the overview shows the change', async (page) => {
    await openGuest(page, BUILD01, 'build01');
    await expectText(headState(page), 'shut off');
    await expectText(page.locator('dd[data-fact=memory]'), /^4 GiB of 4 GiB maximum/);
    const form = page.locator('form.edit-form');
    await form.locator('input[name=memory]').fill('3072');
    await button(form, 'Save changes').click();
    await expectText(form.locator('.notice.ok'), 'Saved: memory 3072 MiB.');
    await expectText(page.locator('dd[data-fact=memory]'), /^3 GiB of 3 GiB maximum/);

    // A refused change shows the server's reason.
    await form.locator('input[name=vcpus]').fill('999');
    await button(form, 'Save changes').click();
    await expectText(form.locator('.notice.error'), /vcpus/);

    // Boot order: the CD-ROM first.
    await form.locator('input[name=vcpus]').fill('4');
    await form.locator('li[data-boot=cdrom] input[type=checkbox]').check();
    await button(form, 'Move cdrom up').click();
    await button(form, 'Save changes').click();
    await expectText(page.locator('dd[data-fact=boot]'), 'cdrom → hd');

    // Back as it was.
    await form.locator('li[data-boot=cdrom] input[type=checkbox]').uncheck();
    await form.locator('input[name=memory]').fill('4096');
    await button(form, 'Save changes').click();
    await expectText(page.locator('dd[data-fact=memory]'), /^4 GiB of 4 GiB maximum/);
    await expectText(page.locator('dd[data-fact=boot]'), 'hd');
  });

  scenario('disks and network interfaces are attached and detached', async (page) => {
    await openGuest(page, BUILD01, 'build01');
    const dialog = page.getByRole('alertdialog');

    const disk = page.locator('form.attach-disk');
    await disk.locator('select[name=attach-pool]').selectOption('shared-nfs');
    await disk.locator('select[name=attach-volume]').selectOption('golden-image.qcow2');
    await button(disk, 'Attach disk').click();
    await expectText(disk.locator('.notice.ok'), 'Attached golden-image.qcow2.');
    const vdb = page.locator('table.disks tr[data-disk=vdb]');
    await expectText(vdb.locator('td[data-label="Pool / volume"]'), 'shared-nfs / golden-image.qcow2');
    await button(page, 'Detach disk vdb').click();
    await dialog.waitFor();
    await button(dialog, 'Detach').click();
    await vdb.waitFor({ state: 'detached' });
    await expectText(page.locator('section.overview .notice.ok'), 'Detached disk vdb.');

    const nic = page.locator('form.attach-nic');
    await nic.locator('select[name=nic-source] option[value=default]').waitFor({ state: 'attached' });
    await nic.locator('select[name=nic-model]').selectOption('e1000e');
    await button(nic, 'Attach interface').click();
    await expectText(nic.locator('.notice.ok'), 'Attached an interface on default.');
    const row = page.locator('table.nics tbody tr');
    await expectText(row.locator('td[data-label=Model]'), 'e1000e');
    const mac = await row.getAttribute('data-mac');
    assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    await button(page, `Detach interface ${mac}`).click();
    await dialog.waitFor();
    await button(dialog, 'Detach').click();
    await page.locator('section.overview').getByText('No network interfaces.').waitFor();
  });

  scenario('a running guest is not cloned: the dialog says why, and shows the server\'s answer', async (page) => {
    await openGuest(page, WEB01, 'web01');
    await button(page, 'Clone…').click();
    const dialog = page.getByRole('dialog');
    await expectText(dialog.locator('.notice.warn'), /shut it down or pause it first/);
    await button(dialog, 'Start clone').click();
    await expectText(dialog.locator('.notice.error'), /shut it down/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  scenario('a clone shows its progress and links to the new guest, which is deleted with its volume', async (page) => {
    await openGuest(page, BUILD01, 'build01');
    await button(page, 'Clone…').click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await expectText(dialog.locator('p').first(), /A clone is a lasting copy with its own disks, name, UUID and MAC addresses/);
    await waitFor(
      () => page.evaluate(() => document.activeElement?.getAttribute('name') === 'clone-name'),
      TIMEOUT,
      'the name field to have the focus',
    );
    assert.equal(await dialog.locator('input[name=clone-name]').inputValue(), 'build01-copy');
    await button(dialog, 'Start clone').click();
    await dialog.locator('.clone-progress[data-state=done]').waitFor();
    await expectText(dialog.locator('.clone-progress .percent'), '100 %');
    await dialog.getByRole('link', { name: 'Open build01-copy' }).click();
    await waitFor(() => pathOf(page) !== `/guests/demo-alpha/${BUILD01}`, TIMEOUT, 'the new guest page');
    await expectText(page.locator('header.guest-head h1'), 'build01-copy');
    await expectText(page.locator('table.disks code.path'), '/var/lib/libvirt/images/build01-copy.raw');
    assert.equal(await page.getByRole('dialog').count(), 0, 'the dialog is gone');

    // Delete: Escape closes the dialog; then the typed name enables the button.
    await button(page, 'Delete…').click();
    const del = page.getByRole('dialog');
    await del.waitFor();
    await page.keyboard.press('Escape');
    await del.waitFor({ state: 'detached' });
    await button(page, 'Delete…').click();
    await del.waitFor();
    const volume = del.locator('input[name=delete-volume]');
    assert.equal(await volume.isChecked(), false, 'volumes are kept unless ticked');
    await volume.check();
    const go = button(del, 'Delete guest');
    assert.equal(await go.isDisabled(), true, 'disabled until the name is typed');
    await del.locator('input[name=confirm-name]').fill('build01-copy');
    await go.click();
    await waitForPath(page, '/guests');
    await expectText(page.locator('.notice.ok[role=status]'), 'Deleted build01-copy and 1 volume.');
    await expectGuests(page, ALL_GUESTS);
  });

  scenario(
    'on a phone the page fits the screen and its buttons are big enough to tap',
    async (page) => {
      await openGuest(page, WEB01, 'web01');
      await page.locator('table.disks tr[data-disk=vda]').waitFor();
      await page.locator('.spark.cpu figure.sparkline').waitFor({ timeout: 20_000 });
      await noHorizontalScroll(page, 'web01');
      await tapTargets(page, 'web01');
      await page.screenshot({ path: join(resultsDir, 'guest-mobile.png'), fullPage: true });

      await openGuest(page, BUILD01, 'build01');
      await noHorizontalScroll(page, 'build01');
      await button(page, 'Delete…').tap();
      await page.getByRole('dialog').waitFor();
      await noHorizontalScroll(page, 'the delete dialog');
      await tapTargets(page, 'the delete dialog');
      await page.screenshot({ path: join(resultsDir, 'guest-mobile-delete.png') });
      await button(page.getByRole('dialog'), 'Cancel').tap();
      await page.getByRole('dialog').waitFor({ state: 'detached' });
    },
    MOBILE,
  );
});
