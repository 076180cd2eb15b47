// Browser test of a guest's consoles on the lab's real libvirt hosts
// (scripts/lab up and scripts/lab guest-kernel; scripts/test does both): the
// graphical console (noVNC through virtdeck's VNC proxy; the display has a
// password the browser never sees) draws the guest's screen; the serial
// console (xterm.js) shows the small Linux guest's boot, and a second page
// is refused until it takes the console over. Also on a phone.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';

import {
  DESKTOP,
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
const guests = [];

function ready() {
  starting ??= (async () => {
    lab = labEnv();
    server = await startServer('console', labConfig(lab));
    browser = await launch();
    return browser;
  })();
  return starting;
}

function define(name, xml, ...start) {
  const file = join(tmpdir(), `${name}.xml`);
  writeFileSync(file, xml);
  assert.notEqual(virsh(lab.LAB_HOST_A_URI, 'define', file), null, `define ${name}`);
  guests.push(name);
  assert.notEqual(virsh(lab.LAB_HOST_A_URI, 'start', name, ...start), null, `start ${name}`);
}

/** A diskless BIOS guest with a VNC display that has a password; its UUID. */
function vncGuest(name) {
  const uuid = randomUUID();
  define(
    name,
    `<domain type='qemu'><name>${name}</name><uuid>${uuid}</uuid>
    <memory unit='MiB'>256</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
    <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
    <graphics type='vnc' autoport='yes' passwd='s3cretpw' listen='127.0.0.2'/>
    <memballoon model='none'/></devices></domain>`,
  );
  return uuid;
}

/** The lab's small Linux guest with its console on a pty, started paused; its UUID. */
function serialGuest(name) {
  const uuid = randomUUID();
  define(
    name,
    `<domain type='qemu'><name>${name}</name><uuid>${uuid}</uuid>
    <memory unit='MiB'>256</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${lab.LAB_GUEST_KERNEL}</kernel>
    <initrd>${lab.LAB_GUEST_INITRD}</initrd><cmdline>console=ttyS0 quiet fill=0</cmdline></os>
    <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='none'/></devices></domain>`,
    '--paused',
  );
  return uuid;
}

/** The number of non-black pixels of noVNC's canvas, and its size. */
function canvasFacts(page) {
  return page.locator('#console-screen canvas').evaluate((canvas) => {
    const { width, height } = canvas;
    if (!width || !height) return { width, height, lit: 0 };
    const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    let lit = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] + data[i + 1] + data[i + 2] > 60) lit++;
    }
    const box = canvas.getBoundingClientRect();
    return { width, height, lit, shownWidth: box.width, right: box.right };
  });
}

/** The page scrolls sideways? */
function scrollsSideways(page) {
  return page.evaluate(
    () => document.documentElement.scrollWidth > document.documentElement.clientWidth,
  );
}

describe('virtdeck consoles (lab)', () => {
  after(async () => {
    for (const name of guests) {
      virsh(lab.LAB_HOST_A_URI, 'destroy', name);
      virsh(lab.LAB_HOST_A_URI, 'undefine', name);
    }
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  const scenario = scenarios(ready, {
    timeout: 240_000,
    before: (page) => login(page, server.url, server.password),
  });

  for (const [label, options] of [
    ['desktop', DESKTOP],
    ['phone', MOBILE],
  ]) {
    scenario(`the graphical console shows the guest's screen (${label})`, async (page) => {
      const name = `e2e-vnc-${label}-${randomUUID().slice(0, 8)}`;
      const uuid = vncGuest(name);
      await page.goto(`${server.url}/guests/lab-a/${uuid}/console`);
      await waitForHydration(page);
      const status = page.locator('#console-status');
      await expectText(status, 'connected', 30_000);
      // noVNC learnt the desktop's name from the real display's ServerInit.
      await expectText(page.locator('#console-name'), new RegExp(name), 15_000);
      // SeaBIOS's text is drawn: the canvas has a size and lit pixels.
      const facts = await waitFor(
        async () => {
          const f = await canvasFacts(page);
          return f.width > 0 && f.height > 0 && f.lit > 50 && f;
        },
        30_000,
        'the guest screen on the canvas',
      );
      assert.ok(facts.right <= options.viewport.width + 1, `canvas fits: ${JSON.stringify(facts)}`);
      for (const button of ['Ctrl+Alt+Del', 'Fullscreen', 'Reconnect']) {
        const b = page.getByRole('button', { name: button, exact: true });
        assert.ok(await b.isVisible(), `${button} visible`);
        assert.ok(await b.isEnabled(), `${button} enabled`);
      }
      assert.ok(await page.getByLabel('Send a key combination').isVisible());
      assert.equal(await scrollsSideways(page), false, 'no horizontal scroll');
      await page.screenshot({ path: join(resultsDir, `console-vnc-${label}.png`) });

      // Ctrl+Alt+Del and a combination are sent without breaking the session.
      await page.getByRole('button', { name: 'Ctrl+Alt+Del', exact: true }).click();
      await page.getByLabel('Send a key combination').selectOption('ctrl-alt-f2');
      // Reconnect: connecting again, then connected.
      await page.getByRole('button', { name: 'Reconnect', exact: true }).click();
      await expectText(status, 'connected', 30_000);

      // The guest stops: the page says so.
      virsh(lab.LAB_HOST_A_URI, 'destroy', name);
      await expectText(status, /^disconnected \(.+\)$/, 30_000);
      assert.match(await status.textContent(), /guest has stopped|closed/);
    }, options);
  }

  scenario('the serial console shows the boot and can be taken over (desktop)', async (page, context) => {
    const name = `e2e-serial-${randomUUID().slice(0, 8)}`;
    const uuid = serialGuest(name);
    const path = `/guests/lab-a/${uuid}/serial`;
    await page.goto(`${server.url}${path}`);
    await waitForHydration(page);
    const status = page.locator('#console-status');
    await expectText(status, 'connected', 30_000);
    const takeOverHere = page.getByRole('button', { name: 'Take over', exact: true });
    assert.equal(await takeOverHere.isVisible(), false, 'no Take over while connected');
    virsh(lab.LAB_HOST_A_URI, 'resume', name);
    await waitFor(
      () => page.evaluate(() => window.virtdeckConsole?.text().includes('LAB-GUEST READY')),
      90_000,
      'the boot output in the terminal',
    );
    // Rendered for the eye too (xterm's DOM rows).
    await expectText(page.locator('.xterm-rows'), /LAB-GUEST READY/, 15_000);
    // Typing reaches the guest: its terminal echoes it.
    await page.locator('#console-screen').click();
    await page.keyboard.type('hello-from-the-browser');
    await waitFor(
      () => page.evaluate(() => window.virtdeckConsole.text().includes('hello-from-the-browser')),
      20_000,
      'the echo of what was typed',
    );
    await page.screenshot({ path: join(resultsDir, 'console-serial-desktop.png') });

    // A second page is refused, and offered to take over.
    const other = await context.newPage();
    await other.goto(`${server.url}${path}`);
    await waitForHydration(other);
    const otherStatus = other.locator('#console-status');
    await expectText(otherStatus, /another session has this console open/, 30_000);
    const takeOver = other.getByRole('button', { name: 'Take over', exact: true });
    assert.ok(await takeOver.isVisible(), 'Take over offered');
    await takeOver.click();
    await expectText(otherStatus, 'connected', 30_000);
    await expectText(status, 'disconnected (another session took over this console)', 30_000);
    assert.ok(await takeOverHere.isVisible(), 'Take over offered to the page that lost it');
    assert.equal(await takeOver.isVisible(), false, 'no Take over on the page that has it');
    // The new holder reads the guest (its tick every 3 s).
    await waitFor(
      () => other.evaluate(() => /tick \d+/.test(window.virtdeckConsole.text())),
      20_000,
      'ticks on the page that took over',
    );
    await other.close();
  });

  scenario('the serial console fits a phone', async (page) => {
    const name = `e2e-serial-phone-${randomUUID().slice(0, 8)}`;
    const uuid = serialGuest(name);
    await page.goto(`${server.url}/guests/lab-a/${uuid}/serial`);
    await waitForHydration(page);
    await expectText(page.locator('#console-status'), 'connected', 30_000);
    virsh(lab.LAB_HOST_A_URI, 'resume', name);
    await waitFor(
      () => page.evaluate(() => window.virtdeckConsole?.text().includes('LAB-GUEST READY')),
      90_000,
      'the boot output in the terminal',
    );
    for (const button of ['Fullscreen', 'Reconnect']) {
      assert.ok(await page.getByRole('button', { name: button, exact: true }).isVisible(), button);
    }
    const box = await page.locator('.xterm-screen').boundingBox();
    assert.ok(box && box.width > 200 && box.x + box.width <= 391, `terminal fits: ${JSON.stringify(box)}`);
    assert.equal(await scrollsSideways(page), false, 'no horizontal scroll');
    await page.screenshot({ path: join(resultsDir, 'console-serial-phone.png') });
  }, MOBILE);
});
