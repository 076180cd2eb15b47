// Browser test of the new-guest wizard on the lab's real libvirt hosts
// (scripts/lab up; scripts/test starts it): every step on a desktop, the new
// guest running and listed, its graphical console drawing its screen; the
// wizard's steps and checks on a phone. Prints the wizard-to-running time.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe } from 'node:test';
import { join } from 'node:path';

import {
  MOBILE,
  expectText,
  labConfig,
  labEnv,
  launch,
  login,
  resultsDir,
  scenarios,
  startServer,
  virsh,
  waitFor,
  waitForHydration,
} from './support.mjs';

let server;
let browser;
let lab;
let starting;
const pool = `e2e-wiz-${randomBytes(3).toString('hex')}`;
const guests = [];

function ready() {
  starting ??= (async () => {
    lab = labEnv();
    const uri = lab.LAB_HOST_A_URI;
    const target = `/var/lib/libvirt/images/${pool}`;
    for (const args of [
      ['pool-define-as', pool, 'dir', '--target', target],
      ['pool-build', pool],
      ['pool-start', pool],
      ['vol-create-as', pool, 'installer.iso', '1M', '--format', 'raw'],
    ]) {
      assert.notEqual(virsh(uri, ...args), null, `virsh ${args.join(' ')}`);
    }
    server = await startServer('wizard', labConfig(lab));
    browser = await launch();
    return browser;
  })();
  return starting;
}

/** A digest of what noVNC's canvas shows now. */
function canvasDigest(page) {
  return page.locator('#console-screen canvas').evaluate((canvas) => {
    if (!canvas.width || !canvas.height) return { lit: 0, sum: 0 };
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let lit = 0;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) {
      const v = data[i] + data[i + 1] + data[i + 2];
      if (v > 60) lit++;
      sum = (sum * 31 + v * (i + 1)) % 1_000_000_007;
    }
    return { lit, sum };
  });
}

describe('virtdeck new-guest wizard (lab)', () => {
  after(async () => {
    const uri = lab?.LAB_HOST_A_URI;
    if (uri) {
      for (const name of guests) {
        virsh(uri, 'destroy', name);
        virsh(uri, 'undefine', name, '--nvram');
        virsh(uri, 'undefine', name);
      }
      virsh(uri, 'pool-destroy', pool);
      virsh(uri, 'pool-delete', pool);
      virsh(uri, 'pool-undefine', pool);
    }
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  const scenario = scenarios(ready, {
    timeout: 240_000,
    before: (page) => login(page, server.url, server.password),
  });
  const next = (page) => page.getByRole('button', { name: 'Next', exact: true }).click();
  const stepTitle = (page) => page.locator('.step-title');

  scenario('the wizard creates a running guest whose console shows its screen', async (page) => {
    const name = `e2e-wiz-${randomBytes(3).toString('hex')}`;
    guests.push(name);
    await page.getByRole('link', { name: 'New guest' }).click();
    await waitForHydration(page);
    await expectText(stepTitle(page), 'Step 1 of 8: Host');
    await page.locator('input[name=host][value="lab-a"]').check();
    await expectText(page.locator('.host-free'), /lab-a: \d+ CPUs, \d+ MiB of memory, \d+ MiB free now\./);
    await next(page);

    await expectText(stepTitle(page), 'Step 2 of 8: Install from');
    await page.locator('select[name=install-pool]').selectOption(pool);
    await waitFor(
      () => page.locator('select[name=install-volume] option[value="installer.iso"]').count(),
      15_000,
      'the pool\'s ISO images',
    );
    await page.locator('select[name=install-volume]').selectOption('installer.iso');
    await next(page);

    await expectText(stepTitle(page), 'Step 3 of 8: Name and system');
    // A name libvirt would refuse is caught at this step.
    await page.locator('input[name=name]').fill('bad name/<x>');
    await next(page);
    await expectText(page.locator('.notice.error'), /is not a valid guest name/);
    await page.locator('input[name=name]').fill(name);
    await next(page);

    await expectText(stepTitle(page), 'Step 4 of 8: CPUs and memory');
    await page.locator('input[name=memory]').fill('99999999');
    await next(page);
    await expectText(page.locator('.notice.error'), /Memory \(MiB\): "?99999999"? is not a whole number from 16 to \d+/);
    await page.locator('input[name=memory]').fill('256');
    await page.locator('input[name=vcpus]').fill('1');
    await next(page);

    await expectText(stepTitle(page), 'Step 5 of 8: Disk');
    await page.locator('select[name=disk-pool]').selectOption(pool);
    await page.locator('input[name=disk-capacity]').fill('64M');
    await next(page);

    await expectText(stepTitle(page), 'Step 6 of 8: Network');
    // The lab's hosts have no libvirt network: no interface.
    await page.locator('select[name=network]').selectOption('');
    await next(page);

    await expectText(stepTitle(page), 'Step 7 of 8: Firmware');
    // TCG: this machine's KVM stalls guests (see scripts/lab).
    await page.locator('select[name=accel]').selectOption('qemu');
    await next(page);

    await expectText(stepTitle(page), 'Step 8 of 8: Summary');
    const summary = page.locator('dl.summary');
    await expectText(summary, new RegExp(`new qcow2 volume ${name}\\.qcow2 of 64M in pool ${pool}`));
    await expectText(summary, new RegExp(`ISO installer\\.iso from pool ${pool}`));
    await page.screenshot({ path: join(resultsDir, 'wizard-summary-desktop.png'), fullPage: true });
    const t0 = Date.now();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await expectText(page.locator('.panel.done h2'), `${name} was created on lab-a`, 60_000);
    const took = Date.now() - t0;
    await expectText(page.locator('.panel.done p').first(), 'State: running.');
    console.log(`wizard: Create to running on lab-a: ${took} ms`);
    assert.match(virsh(lab.LAB_HOST_A_URI, 'domstate', name) ?? '', /running/);

    await page.getByRole('link', { name: 'Open its console' }).click();
    await waitForHydration(page);
    await expectText(page.locator('#console-status'), 'connected', 30_000);
    const first = await waitFor(
      async () => {
        const d = await canvasDigest(page);
        return d.lit > 50 && d;
      },
      30_000,
      'the guest screen on the canvas',
    );
    // The firmware starts again: the canvas follows.
    assert.notEqual(virsh(lab.LAB_HOST_A_URI, 'reset', name), null, 'virsh reset');
    await waitFor(
      async () => (await canvasDigest(page)).sum !== first.sum,
      30_000,
      'the canvas to change after a reset',
    );
    await page.screenshot({ path: join(resultsDir, 'wizard-console-desktop.png') });

    await page.goto(`${server.url}/guests?q=${name}`);
    await waitForHydration(page);
    await expectText(page.locator('tr', { hasText: name }), /running/);
  });

  scenario('on a phone the wizard fits the screen and checks each step', async (page) => {
    await page.goto(`${server.url}/guests/new`);
    await waitForHydration(page);
    await expectText(stepTitle(page), 'Step 1 of 8: Host');
    await next(page);
    await expectText(page.locator('.notice.error'), 'Choose a host.');
    const nextBox = await page.getByRole('button', { name: 'Next', exact: true }).boundingBox();
    assert.ok(nextBox.height >= 40, `Next is ${nextBox.height} px tall`);
    await page.locator('input[name=host][value="lab-a"]').check();
    await next(page);
    await expectText(stepTitle(page), 'Step 2 of 8: Install from');
    await page.locator('input[name=install][value=network]').check();
    await next(page);
    await page.locator('input[name=name]').fill('phone-test');
    await next(page);
    await next(page);
    await expectText(stepTitle(page), 'Step 5 of 8: Disk');
    await page.locator('input[name=disk]').uncheck();
    await next(page);
    // Network boot without a network is refused at its step.
    await page.locator('select[name=network]').selectOption('');
    await next(page);
    await expectText(page.locator('.notice.error'), 'Network boot needs a network.');
    const wide = await page.evaluate(
      () => document.documentElement.scrollWidth > document.documentElement.clientWidth,
    );
    assert.equal(wide, false, 'no horizontal scroll');
    await page.screenshot({ path: join(resultsDir, 'wizard-phone.png'), fullPage: true });
  }, MOBILE);
});
