// Browser test of a migration from the migrate dialog, on the lab's two real
// libvirt hosts (scripts/lab up; scripts/test starts it) with a real QEMU
// guest: open the dialog from the guest's row, see the pre-flight verdict,
// start, watch the progress view reach done, see the guest under the
// destination host; and a longer migration of the lab's Linux guest (150 MiB
// of random data in RAM, 8 MiB/s) whose percentage is seen rising, whose
// bandwidth is changed and which is cancelled, all from the browser.

import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';

import {
  DESKTOP,
  bootBiosGuest,
  MOBILE,
  expectText,
  gotoApp,
  labConfig,
  labEnv,
  launch,
  login,
  resultsDir,
  startServer,
  virsh,
  waitFor,
  scenarios,
} from './support.mjs';

let server;
let browser;
let lab;
let starting;
const guests = [];

function ready() {
  starting ??= (async () => {
    lab = labEnv();
    server = await startServer('migration', labConfig(lab));
    browser = await launch();
    return browser;
  })();
  return starting;
}

/** Defines and starts a diskless BIOS guest (TCG) on lab host a. */
function bootGuest(name) {
  bootBiosGuest(lab.LAB_HOST_A_URI, name, guests);
}

/** Defines and starts the lab's small Linux guest with `fill` MiB of random data in RAM. */
async function bootLinuxGuest(name, fill) {
  const xml = `<domain type='qemu'><name>${name}</name><uuid>${randomUUID()}</uuid>
    <memory unit='MiB'>256</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${lab.LAB_GUEST_KERNEL}</kernel>
      <initrd>${lab.LAB_GUEST_INITRD}</initrd><cmdline>console=ttyS0 quiet fill=${fill}</cmdline></os>
    <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
      <serial type='file'><source path='/var/log/libvirt/qemu/${name}-serial.log' append='on'/></serial>
      <memballoon model='none'/></devices></domain>`;
  const file = join(tmpdir(), `${name}.xml`);
  writeFileSync(file, xml);
  assert.notEqual(virsh(lab.LAB_HOST_A_URI, 'define', file), null, 'define');
  assert.notEqual(virsh(lab.LAB_HOST_A_URI, 'start', name), null, 'start');
  guests.push(name);
  const log = join(lab.LAB_DIR, 'hosts', 'a', 'log', 'qemu', `${name}-serial.log`);
  await waitFor(() => {
    try {
      return readFileSync(log, 'utf8').includes('LAB-GUEST READY');
    } catch {
      return false;
    }
  }, 90_000, `${name} booted`);
}

describe('virtdeck migration (lab)', () => {
  after(async () => {
    for (const name of guests) {
      for (const uri of [lab.LAB_HOST_A_URI, lab.LAB_HOST_B_URI]) {
        virsh(uri, 'destroy', name);
        virsh(uri, 'undefine', name);
      }
    }
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  const scenario = scenarios(ready, { timeout: 240_000 });

  const row = (page, name, host) =>
    page.locator(`table.guests tbody tr[data-guest="${name}"][data-host="${host}"]`);

  for (const [label, options, shot] of [
    ['desktop', DESKTOP, 'migrate-desktop.png'],
    ['phone', MOBILE, 'migrate-mobile.png'],
  ]) {
    scenario(`a guest is migrated live from the dialog and shows under its new host (${label})`, async (page) => {
      const name = `e2e-mig-${randomBytes(3).toString('hex')}`;
      bootGuest(name);
      await login(page, server.url, server.password);
      await row(page, name, 'lab-a').waitFor();
      await page.getByRole('button', { name: `Migrate ${name}` }).click();
      const dialog = page.getByRole('dialog');
      await expectText(dialog.locator('h2'), `Migrate ${name} from lab-a`);
      // The only other host, with its pre-flight verdict (a warning: no CPU model defined).
      const dest = dialog.locator('label.destination');
      assert.equal(await dest.count(), 1);
      await expectText(dest.locator('.dest-name'), 'lab-b');
      await expectText(dest.locator('.badge'), /^(ok|warning)$/, 60_000);
      assert.ok(await dialog.locator('input[name=mode][value=live]').isChecked(), 'live for a running guest');
      assert.ok(await dialog.locator('input[name=mode][value=offline]').isDisabled(), 'offline needs a shut-off guest');
      assert.ok(await dialog.locator('input[name=persistence][value=temporary]').isChecked());
      await expectText(dialog.locator('li[data-check=different_host] .badge'), 'ok');
      await expectText(dialog.locator('li[data-check=cpu] .check-message'), /CPU/);
      await page.screenshot({ path: join(resultsDir, shot.replace('.png', '-checks.png')), fullPage: true });
      await dialog.getByRole('button', { name: 'Migrate', exact: true }).click();
      const view = dialog.locator('section.migration');
      await expectText(view.locator('h3'), `${name}: lab-a → lab-b`);
      await expectText(view.locator('.notice.ok'), new RegExp(`^Done: ${name} now runs on lab-b`), 120_000);
      await page.screenshot({ path: join(resultsDir, shot), fullPage: true });
      await dialog.getByRole('button', { name: 'Close', exact: true }).last().click();
      // The list follows: the guest now runs under lab-b (and its definition stays on lab-a, shut off).
      await row(page, name, 'lab-b').waitFor({ timeout: 20_000 });
      await expectText(row(page, name, 'lab-b').locator('td.state .badge').first(), 'running');
      await expectText(row(page, name, 'lab-a').locator('td.state .badge').first(), 'shut off');
      assert.equal(virsh(lab.LAB_HOST_B_URI, 'domstate', name), 'running');
      // And the Migrations page has it in its history.
      await gotoApp(page, server.url, '/migrations');
      const history = page.locator(`table.history tr[data-guest="${name}"]`);
      await expectText(history.locator('td.state .badge'), 'completed');
      // Its timeline, folded: from the pre-flight to the switch-over.
      await history.locator('details.timeline summary').click();
      await expectText(history.locator('details.timeline li[data-phase=prepared]'), /pre-flight checks passed/);
      await expectText(history.locator('details.timeline li[data-phase=done]'), /switched over|completed/);
      await waitFor(async () => (await page.locator('.running-none').count()) === 1, 20_000, 'no migration running');
    }, options);
  }

  scenario('a long migration shows rising progress, takes a new bandwidth and is cancelled from the browser', async (page) => {
    const name = `e2e-long-${randomBytes(3).toString('hex')}`;
    await bootLinuxGuest(name, 150);
    await login(page, server.url, server.password);
    await row(page, name, 'lab-a').waitFor();
    await page.getByRole('button', { name: `Migrate ${name}` }).click();
    const dialog = page.getByRole('dialog');
    await expectText(dest(dialog).locator('.badge'), /^(ok|warning)$/, 60_000);
    await dialog.locator('details.advanced summary').click();
    const bandwidth = dialog.locator('input[name=bandwidth_mib_s]');
    await bandwidth.fill('8');
    await bandwidth.blur();
    await dialog.getByRole('button', { name: 'Migrate', exact: true }).click();
    const view = dialog.locator('section.migration');
    await expectText(view.locator('h3'), `${name}: lab-a → lab-b`);
    // At least two different percentages, rising, as the copy goes on.
    const seen = [];
    await waitFor(async () => {
      const text = await view.locator('.percent').textContent();
      const value = Number.parseFloat(text);
      if (!Number.isNaN(value) && value > 0 && !seen.includes(value)) seen.push(value);
      return seen.length >= 2;
    }, 60_000, 'two percentages');
    assert.ok(seen[1] > seen[0], `rising: ${seen}`);
    // A new bandwidth from the progress view: libvirt applies it.
    const controls = view.locator('.controls');
    const input = controls.locator('input[name=bandwidth]');
    await input.fill('6');
    // New samples arrive while the user types: what they typed stays.
    const before = await view.locator('.figures').textContent();
    await waitFor(async () => (await view.locator('.figures').textContent()) !== before, 10_000, 'a new sample');
    assert.equal(await input.inputValue(), '6');
    await controls.getByRole('button', { name: 'Apply' }).first().click();
    await waitFor(() => virsh(lab.LAB_HOST_A_URI, 'migrate-getspeed', name) === '6', 15_000, 'libvirt runs it at 6 MiB/s');
    // The change is a step of the job, shown live in the progress view.
    await expectText(view.locator('ol.steps li[data-phase=tuned]').last(), /bandwidth set to 6 MiB\/s/);
    // A guest list opened now marks the guest's row from its first answer:
    // the server's HTML has it (the running jobs are read with the page),
    // and so has the hydrated page.
    const html = await (await page.request.get(`${server.url}/guests`)).text();
    assert.match(html, /migrating → lab-b \d+ %/, 'the server-rendered list marks the migrating guest');
    const list = await page.context().newPage();
    await gotoApp(list, server.url, '/guests');
    await expectText(row(list, name, 'lab-a').locator('.badge.migrating'), /^migrating → lab-b \d+ %$/);
    await list.close();
    await page.screenshot({ path: join(resultsDir, 'migrate-long-desktop.png'), fullPage: true });
    // Cancel, confirmed: the guest stays where it was.
    await controls.getByRole('button', { name: 'Cancel migration' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Cancel migration' }).click();
    await expectText(view.locator('.notice.warn'), /Cancelled/, 30_000);
    assert.equal(virsh(lab.LAB_HOST_A_URI, 'domstate', name), 'running');
    assert.equal(virsh(lab.LAB_HOST_B_URI, 'domstate', name), null, 'nothing on lab-b');
  }, DESKTOP);
});

/** The destination choice of the migrate dialog. */
function dest(dialog) {
  return dialog.locator('label.destination');
}
