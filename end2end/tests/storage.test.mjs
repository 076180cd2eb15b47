// Browser tests of virtdeck's storage pages against the built-in demo fleet
// (test driver: pools default, iso, shared-nfs on demo-alpha; default,
// shared-nfs, backups on demo-beta).
//
//   scripts/build
//   node --test --test-concurrency=1 end2end/tests/
//
// One server for this file, one fresh browser context per test; each test
// leaves the fleet as it found it.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe } from 'node:test';

import {
  MOBILE,
  expectText,
  gotoApp,
  launch,
  login,
  resultsDir,
  startServer,
  waitFor,
  scenarios,
} from './support.mjs';

let server;
let browser;
let starting;

function ready() {
  starting ??= (async () => {
    server = await startServer('storage');
    browser = await launch();
    return browser;
  })();
  return starting;
}

describe('virtdeck storage (demo fleet)', () => {
  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  const scenario = scenarios(ready, { before: (page) => login(page, server.url, server.password) });

  const poolRow = (page, name, host) =>
    page.locator(`table.pools tbody tr[data-pool="${name}"][data-host="${host}"]`);
  const volumeRow = (page, name) => page.locator(`table.volumes tbody tr[data-volume="${name}"]`);
  const okNotice = (page) => page.locator('.notice.ok[role=status]');

  async function noHorizontalScroll(page) {
    const { scroll, width } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
    }));
    assert.ok(scroll <= width, `page is ${scroll}px wide in a ${width}px window`);
  }

  scenario('the storage page lists every pool, its usage, and which are shared', async (page) => {
    await page.getByRole('link', { name: 'Storage', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/storage');
    await poolRow(page, 'default', 'demo-alpha').waitFor();
    const rows = await page
      .locator('table.pools tbody tr')
      .evaluateAll((rs) => rs.map((r) => `${r.dataset.pool}@${r.dataset.host}`));
    assert.deepEqual(rows, [
      'backups@demo-beta',
      'default@demo-alpha',
      'default@demo-beta',
      'iso@demo-alpha',
      'shared-nfs@demo-alpha',
      'shared-nfs@demo-beta',
    ]);
    // The same NFS export on both hosts reads as one shared storage; the two
    // local "default" directories do not.
    await expectText(poolRow(page, 'shared-nfs', 'demo-alpha').locator('.tag.shared'), 'shared · 2 hosts');
    await expectText(poolRow(page, 'default', 'demo-beta').locator('td.name .tag').first(), 'same name on 2 hosts');
    const alpha = poolRow(page, 'default', 'demo-alpha');
    await expectText(alpha.locator('td[data-label=Volumes]'), '7');
    await expectText(alpha.locator('.usage-text'), /^63 GiB \/ 100 GiB/);
    assert.equal(await alpha.locator('[role=meter]').getAttribute('aria-valuenow'), '63');
    await expectText(poolRow(page, 'shared-nfs', 'demo-beta').locator('td.path code.source'), 'nfs nfs1.example.test:/export/vm');
    // The host filter.
    await page.getByLabel('Filter by host').selectOption('demo-beta');
    await waitFor(async () => (await page.locator('table.pools tbody tr').count()) === 3, 10_000, 'three pools of demo-beta');
    await noHorizontalScroll(page);
    await page.screenshot({ path: join(resultsDir, 'storage-desktop.png'), fullPage: true });
  });

  scenario('stopping a pool that running guests use is refused with their names', async (page) => {
    await gotoApp(page, server.url, '/storage');
    await page.getByRole('button', { name: 'Stop pool default on demo-alpha' }).click();
    await expectText(page.locator('.notice.error[role=alert]'), /running guests use it: .*web01/);
    await expectText(poolRow(page, 'default', 'demo-alpha').locator('td[data-label=State] .badge'), 'active');
  });

  scenario('a pool is created on two hosts through the form, then deleted', async (page) => {
    await gotoApp(page, server.url, '/storage');
    await page.getByRole('button', { name: 'New pool', exact: true }).click();
    const form = page.getByRole('form', { name: 'New pool' });
    await form.getByRole('checkbox', { name: 'demo-beta' }).check();
    // The type list comes from the host; the test driver cannot tell, so all are offered with a note.
    await expectText(form.locator('.notice.warn'), /every type is listed/);
    const types = await form.locator('select[name=type] option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(types, ['dir', 'fs', 'netfs', 'logical', 'disk', 'iscsi', 'iscsi-direct', 'scsi', 'mpath', 'rbd', 'gluster', 'zfs']);
    // A bad name is caught before anything is sent.
    await form.locator('input[name=name]').fill('../etc');
    await form.locator('input[name=target_path]').fill('/srv/virtdeck/e2e');
    await form.getByRole('button', { name: 'Create pool' }).click();
    await expectText(form.locator('.notice.error'), /not a valid pool name/);
    // netfs shows only its own fields, with the default mount point as a hint.
    await form.locator('select[name=type]').selectOption('netfs');
    assert.equal(await form.locator('input[name=target_path]').getAttribute('placeholder'), '/var/lib/libvirt/images/<name>');
    assert.equal(await form.locator('input[name=source_host]').count(), 1);
    assert.equal(await form.locator('input[name=source_device]').count(), 0);
    await form.locator('select[name=type]').selectOption('dir');

    await form.locator('input[name=name]').fill('e2e-dir');
    await form.locator('input[name=target_path]').fill('/srv/virtdeck/e2e');
    await form.getByRole('button', { name: 'Create pool' }).click();
    await expectText(form.locator('.outcomes li').nth(0), 'demo-alpha: pool e2e-dir created, active.');
    await expectText(form.locator('.outcomes li').nth(1), 'demo-beta: pool e2e-dir created, active.');
    await poolRow(page, 'e2e-dir', 'demo-alpha').waitFor();
    await expectText(poolRow(page, 'e2e-dir', 'demo-beta').locator('td.name .tag').first(), 'same name on 2 hosts');

    await page.getByRole('button', { name: 'Delete pool e2e-dir on demo-beta' }).click();
    const dialog = page.getByRole('alertdialog');
    await expectText(dialog.locator('h2'), 'Delete pool e2e-dir?');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await poolRow(page, 'e2e-dir', 'demo-beta').count(), 1, 'cancel keeps it');
    await page.getByRole('button', { name: 'Delete pool e2e-dir on demo-beta' }).click();
    await dialog.getByRole('checkbox').check();
    await dialog.getByRole('button', { name: 'Delete pool' }).click();
    await expectText(okNotice(page), 'Deleted pool e2e-dir on demo-beta.');
    await waitFor(async () => (await poolRow(page, 'e2e-dir', 'demo-beta').count()) === 0, 10_000, 'the row to go');
    await page.getByRole('button', { name: 'Delete pool e2e-dir on demo-alpha' }).click();
    await dialog.getByRole('button', { name: 'Delete pool' }).click();
    await waitFor(async () => (await poolRow(page, 'e2e-dir', 'demo-alpha').count()) === 0, 10_000, 'the row to go');
  });

  scenario('a volume is created through the form, listed, and deleted', async (page) => {
    await gotoApp(page, server.url, '/storage');
    await page.getByRole('link', { name: 'default' }).first().click();
    await page.waitForURL((u) => u.pathname === '/storage/demo-alpha/default');
    await volumeRow(page, 'web01.qcow2').waitFor();
    await expectText(page.locator('p.count'), 'Volumes 1–7 of 7');
    await noHorizontalScroll(page);
    await page.screenshot({ path: join(resultsDir, 'volumes-desktop.png'), fullPage: true });
    // 224 GiB of capacities in a 100 GiB pool.
    await expectText(page.locator('.notice.warn[role=status]'), /^Over-committed: the volumes' capacities add up to 224 GiB/);
    const web = volumeRow(page, 'web01.qcow2');
    await expectText(web.locator('td.users'), /web01\s*running/);
    assert.ok(await web.getByRole('button', { name: 'Delete web01.qcow2' }).isDisabled(), 'a running guest uses it');

    const form = page.getByRole('form', { name: 'New volume' });
    await form.locator('input[name=volume-name]').fill('e2e.qcow2');
    await form.locator('input[name=capacity]').fill('10G');
    await expectText(form.locator('.help').first(), '= 10 GiB');
    // qcow2 offers sparse or full only; raw also "part of it now".
    assert.equal(await form.locator('input[name=allocation-size]').count(), 0);
    await form.locator('select[name=format]').selectOption('raw');
    assert.equal(await form.locator('input[name=allocation-size]').count(), 1);
    await form.locator('select[name=format]').selectOption('qcow2');
    await form.locator('input[name=capacity]').fill('-5G');
    await form.getByRole('button', { name: 'Create volume' }).click();
    await expectText(form.locator('.notice.error'), /negative/);
    await form.locator('input[name=capacity]').fill('10G');
    await form.getByRole('button', { name: 'Create volume' }).click();
    await expectText(okNotice(page), /^Created e2e\.qcow2 \(10 GiB/);
    await expectText(volumeRow(page, 'e2e.qcow2').locator('td[data-label=Format]'), 'qcow2');
    await expectText(page.locator('p.count'), 'Volumes 1–8 of 8');

    // Search is done by the server.
    await page.getByLabel('Search volumes by name').fill('e2e');
    await expectText(page.locator('p.count'), 'Volumes 1–1 of 1');
    await page.getByRole('button', { name: 'Delete e2e.qcow2' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByRole('button', { name: 'Delete volume' }).click();
    await expectText(okNotice(page), 'Volume deleted.');
    await expectText(page.locator('p.count'), 'No volumes');
  });

  scenario('an upload the host cannot take says why and leaves no volume', async (page) => {
    await gotoApp(page, server.url, '/storage/demo-alpha/iso');
    await volumeRow(page, 'debian-12-netinst.iso').waitFor();
    const form = page.getByRole('form', { name: 'Upload a file' });
    await form.locator('input[type=file]').setInputFiles({
      name: 'tiny image.iso',
      mimeType: 'application/octet-stream',
      buffer: Buffer.alloc(64 * 1024, 7),
    });
    assert.equal(await form.locator('input[name=upload-name]').inputValue(), 'tiny_image.iso');
    await form.getByRole('button', { name: 'Upload' }).click();
    // libvirt's test driver has no volume upload: its own words come through.
    await expectText(form.locator('.notice.error'), /not supported.*The new volume was removed/);
    await expectText(page.locator('p.count'), 'Volumes 1–2 of 2');
  });

  scenario(
    'the storage pages fit a phone without sideways scrolling',
    async (page) => {
      await gotoApp(page, server.url, '/storage');
      await poolRow(page, 'shared-nfs', 'demo-beta').waitFor();
      await noHorizontalScroll(page);
      await page.screenshot({ path: join(resultsDir, 'storage-mobile.png'), fullPage: true });
      await page.getByRole('button', { name: 'New pool', exact: true }).tap();
      await page.getByRole('form', { name: 'New pool' }).waitFor();
      await noHorizontalScroll(page);
      await gotoApp(page, server.url, '/storage/demo-alpha/default');
      await volumeRow(page, 'win2022-template.vmdk').waitFor();
      await noHorizontalScroll(page);
      await page.screenshot({ path: join(resultsDir, 'volumes-mobile.png'), fullPage: true });
      await page.getByRole('button', { name: 'Clone appliance.vdi' }).tap();
      const prompt = page.getByRole('dialog');
      assert.equal(await prompt.locator('input').inputValue(), 'appliance.vdi-copy');
      await prompt.getByRole('button', { name: 'Clone' }).tap();
      await expectText(okNotice(page), /^Done: appliance\.vdi-copy/);
      await volumeRow(page, 'appliance.vdi-copy').waitFor();
      await page.getByRole('button', { name: 'Delete appliance.vdi-copy' }).tap();
      await page.getByRole('alertdialog').getByRole('button', { name: 'Delete volume' }).tap();
      await expectText(okNotice(page), 'Volume deleted.');
    },
    MOBILE,
  );
});
