// Browser test of a maintenance window on the lab's three real libvirt hosts
// (scripts/lab up; scripts/test starts it) with real QEMU guests, on a
// desktop and on a 390x844 phone: the hosts page's "Maintenance…" opens the
// plan (each guest with its action and destination, each target's memory
// before and after); entering maintenance opens the live view, which follows
// every guest to "done" and says the host is in maintenance; the hosts page
// shows it; "Exit maintenance…" brings the guests back.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
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
  scenarios,
  startServer,
  virsh,
  waitFor,
} from './support.mjs';

let server;
let browser;
let lab;
let starting;
const guests = [];

function ready() {
  starting ??= (async () => {
    lab = labEnv();
    const config = `${labConfig(lab)}[[hosts]]\nname = "lab-c"\nuri = "${lab.LAB_HOST_C_URI}"\n`;
    server = await startServer('maintenance', config);
    browser = await launch();
    return browser;
  })();
  return starting;
}

/** Defines and starts a diskless BIOS guest (TCG) on lab host c. */
function bootGuest(name) {
  bootBiosGuest(lab.LAB_HOST_C_URI, name, guests);
}

describe('virtdeck maintenance (lab)', () => {
  after(async () => {
    for (const name of guests) {
      for (const uri of [lab.LAB_HOST_A_URI, lab.LAB_HOST_B_URI, lab.LAB_HOST_C_URI]) {
        virsh(uri, 'destroy', name);
        virsh(uri, 'undefine', name);
      }
    }
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  const scenario = scenarios(ready, { timeout: 240_000 });

  for (const [label, options, shot] of [
    ['desktop', DESKTOP, 'maintenance-desktop'],
    ['phone', MOBILE, 'maintenance-mobile'],
  ]) {
    scenario(`a host is planned, emptied, shown in maintenance and brought back (${label})`, async (page) => {
      const tag = randomBytes(3).toString('hex');
      const names = [`e2e-mnt-${tag}-1`, `e2e-mnt-${tag}-2`];
      names.forEach(bootGuest);
      await login(page, server.url, server.password);
      await gotoApp(page, server.url, '/hosts');
      const card = page.locator('section.card.host[data-host="lab-c"]');
      await card.getByRole('button', { name: 'Maintenance…' }).click();
      const dialog = page.getByRole('dialog');
      await expectText(dialog.locator('h2'), 'Put lab-c in maintenance');
      // The plan: both guests migrate live, each to one of the two targets.
      for (const name of names) {
        const row = dialog.locator('table.plan-guests tbody tr').filter({ hasText: name });
        await expectText(row.locator('.badge'), 'migrate live', 60_000);
        await expectText(row.locator('td.destination'), /^lab-[ab]$/);
      }
      await expectText(dialog.locator('.plan-summary'), /2 migrate live/);
      const targets = dialog.locator('table.plan-targets tbody tr');
      assert.equal(await targets.count(), 2);
      await expectText(dialog.locator('table.plan-targets tr[data-host="lab-a"] td').nth(1), /^\d+ → \d+ MiB$/);
      await page.screenshot({ path: join(resultsDir, `${shot}-plan.png`), fullPage: true });
      await dialog.getByRole('button', { name: 'Enter maintenance now' }).click();
      // The live view: every guest to done, then the host in maintenance.
      await page.waitForURL(/\/maintenance\/[0-9a-f-]{36}$/, { timeout: 30_000 });
      await expectText(page.locator('h1'), 'lab-c: entering maintenance');
      for (const name of names) {
        const row = page.locator('li.evacuation-guest').filter({ hasText: name });
        await expectText(row.locator('.badge'), 'done', 120_000);
        await expectText(row.locator('.route'), /^lab-c → lab-[ab]$/);
      }
      await expectText(page.locator('.headline'), 'lab-c is in maintenance', 60_000);
      await expectText(page.locator('.percent').first(), '100 %');
      assert.equal(await page.getByRole('button', { name: 'Cancel evacuation' }).count(), 0, 'nothing to cancel');
      await page.screenshot({ path: join(resultsDir, `${shot}-done.png`), fullPage: true });
      for (const name of names) {
        assert.equal(virsh(lab.LAB_HOST_C_URI, 'domstate', name), null, `${name} left lab-c`);
      }
      // The hosts page says so, and brings them back.
      await gotoApp(page, server.url, '/hosts');
      await expectText(card.locator('.maintenance .badge'), /^in maintenance since \d{4}-\d\d-\d\d /);
      await card.getByRole('button', { name: 'Exit maintenance…' }).click();
      const confirm = page.getByRole('alertdialog');
      assert.ok(await confirm.locator('input[name=return_guests]').isChecked(), 'bringing back is the default');
      await confirm.getByRole('button', { name: 'Exit maintenance' }).click();
      await page.waitForURL(/\/maintenance\/[0-9a-f-]{36}$/, { timeout: 30_000 });
      await expectText(page.locator('h1'), 'lab-c: guests coming back');
      await expectText(page.locator('.headline'), 'the guests are back', 120_000);
      for (const name of names) {
        await waitFor(() => virsh(lab.LAB_HOST_C_URI, 'domstate', name) === 'running', 20_000, `${name} back on lab-c`);
        // Gone again, so the next scenario's plan has only its own guests.
        virsh(lab.LAB_HOST_C_URI, 'destroy', name);
        virsh(lab.LAB_HOST_C_URI, 'undefine', name);
      }
    }, options);
  }
});
