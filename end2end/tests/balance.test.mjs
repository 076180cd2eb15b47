// Browser test of the balance advisor on the lab's real libvirt hosts
// (scripts/lab up; scripts/test starts it) with real QEMU guests, on a
// desktop and on a 390x844 phone. lab-a and lab-b give 1024 MiB each;
// lab-a runs three 256 MiB guests (75 %), lab-b none. The Balance page shows
// the hosts' load and the imbalance, then one recommendation with its
// sentence, and the navigation a badge; "Apply…" asks, then migrates the
// guest to lab-b; the recommendation and the badge go away. The hosts page
// shows each host's CPU and memory chart.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, describe } from 'node:test';

import {
  DESKTOP,
  MOBILE,
  bootBiosGuest,
  expectText,
  gotoApp,
  labEnv,
  launch,
  login,
  removeGuests,
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
    let config = 'balance_sample_secs = 1\n';
    for (const [name, uri] of [['lab-a', lab.LAB_HOST_A_URI], ['lab-b', lab.LAB_HOST_B_URI]]) {
      config += `[[hosts]]\nname = "${name}"\nuri = "${uri}"\nallocatable_memory_mib = 1024\n`;
    }
    server = await startServer('balance', config);
    browser = await launch();
    return browser;
  })();
  return starting;
}

describe('virtdeck balance advisor (lab)', () => {
  after(async () => {
    if (lab) removeGuests(lab, guests);
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  const scenario = scenarios(ready, { timeout: 180_000 });

  for (const [label, options, shot] of [
    ['desktop', DESKTOP, 'balance-desktop'],
    ['phone', MOBILE, 'balance-mobile'],
  ]) {
    scenario(`an overloaded host gets one explained move, applied from the Balance page (${label})`, async (page) => {
      const tag = randomBytes(3).toString('hex');
      const names = [1, 2, 3].map((i) => `e2e-bal-${tag}-${i}`);
      removeGuests(lab, guests); // a failed scenario before leaves nothing behind
      for (const name of names) bootBiosGuest(lab.LAB_HOST_A_URI, name, guests);
      await login(page, server.url, server.password);
      await gotoApp(page, server.url, '/balance');
      await expectText(page.locator('h1'), 'Balance');
      // The hosts' load as sampled, then the recommendation once the imbalance held.
      const a = page.locator('table.balance-hosts tr[data-host="lab-a"]');
      await expectText(a.locator('td.memory'), '75 % (768 MiB of 1 GiB)', 30_000);
      const card = page.locator('article.recommendation');
      await expectText(card.locator('h3'), /^e2e-bal-\w+-\d lab-a → lab-b$/, 60_000);
      assert.equal(await card.count(), 1, 'one move evens them');
      const moved = (await card.locator('h3').innerText()).split(' ')[0];
      assert.ok(names.includes(moved), moved);
      await expectText(card.locator('.reason'), 'balance-memory');
      await expectText(
        card.locator('.explanation'),
        `lab-a commits 75 % of its memory and lab-b 0 %; moving ${moved} (256 MiB) makes them 50 % and 25 %: imbalance 1.00 → 0.33`,
      );
      await expectText(page.locator('dl.imbalance .combined'), '1.00');
      await expectText(page.locator('header.topbar nav a[href="/balance"] .count'), '1');
      await page.screenshot({ path: join(resultsDir, `${shot}.png`), fullPage: true });

      await card.getByRole('button', { name: 'Apply…' }).click();
      const confirm = page.getByRole('alertdialog');
      await expectText(confirm.locator('h2'), `Migrate ${moved} from lab-a to lab-b now?`);
      await confirm.getByRole('button', { name: 'Migrate' }).click();
      await waitFor(() => virsh(lab.LAB_HOST_B_URI, 'domstate', moved) === 'running', 60_000, `${moved} on lab-b`);
      // Nothing more to do: the list and the badge say so.
      await expectText(page.locator('section.recommendations p.empty'), 'No recommendations: nothing to move now.', 30_000);
      await waitFor(async () => (await page.locator('header.topbar nav a[href="/balance"] .count').count()) === 0, 15_000, 'badge gone');
      await expectText(a.locator('td.memory'), '50 % (512 MiB of 1 GiB)', 30_000);

      // The hosts page: each card with its CPU and memory chart.
      await gotoApp(page, server.url, '/hosts');
      const host = page.locator('section.card.host[data-host="lab-a"]');
      await expectText(host.locator('.spark[data-what="Memory"] .spark-now'), /^Memory \d+ %$/, 15_000);
      assert.equal(await host.locator('svg.sparkline').count(), 2);
      await page.screenshot({ path: join(resultsDir, `${shot}-hosts.png`), fullPage: true });
      removeGuests(lab, guests);
    }, options);
  }
});
