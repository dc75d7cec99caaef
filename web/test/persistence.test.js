// What only a real browser shows: data outlives the page and the browser, and two tabs (two
// component instances, two IndexedDB connections) writing one namespace keep usage exact.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { launch } from './browser.js';

test('data survives a page reload and a browser restart', async () => {
  const profile = mkdtempSync(join(tmpdir(), 'zero-storage-profile-'));
  let browser;
  try {
    browser = await launch({ profile });
    let page = await browser.page();
    const written = await page.evaluate(async () => {
      const p = await zero.open('persist', { user: 'alice' });
      await p.set('note', 'written before the reload');
      await p.set('binary', new Uint8Array([0, 1, 254, 255]));
      await (await p.bucket('user:alice')).set('profile', 'alice');
      await p.set('short-lived', 'x', { ttl: 3600 });
      return p.quota();
    });
    const read = () => page.evaluate(async () => {
      const p = await zero.open('persist', { user: 'alice' });
      return {
        note: await p.getText('note'),
        binary: [...(await p.get('binary'))],
        user: await (await p.bucket('user:alice')).getText('profile'),
        keys: (await p.list('')).keys,
        quota: await p.quota(),
      };
    });
    const expected = { note: 'written before the reload', binary: [0, 1, 254, 255], user: 'alice', keys: ['binary', 'note', 'short-lived'], quota: written };
    await page.reload();
    await page.waitForFunction(() => document.title === 'ready');
    assert.deepEqual(await read(), expected, 'after a reload');
    const { url } = browser;
    await browser.close();
    browser = await launch({ profile, port: Number(new URL(url).port) });
    page = await browser.page();
    assert.deepEqual(await read(), expected, 'after a browser restart');
  } finally {
    await browser?.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test('two tabs writing one namespace keep usage exact', async () => {
  const browser = await launch();
  try {
    const tabs = [await browser.page(), await browser.page()];
    const database = `tabs-${Date.now()}`;
    // Both tabs start together and overwrite, grow, shrink and delete the same keys.
    await Promise.all(tabs.map((tab, t) => tab.evaluate(async ({ database, t }) => {
      const p = await zero.open('shared', { database });
      for (let i = 0; i < 60; i++) {
        const key = `k${(i * 7 + t) % 12}`;
        if (i % 5 === 4) await p.delete(key);
        else await p.set(key, new Uint8Array(1 + ((i * 31 + t * 17) % 200)));
        await p.increment(`writes-by-${t}`);
        await p.increment('writes');
      }
    }, { database, t })));
    const seen = await tabs[1].evaluate(async (database) => {
      const p = await zero.open('shared', { database });
      let sum = 0;
      let count = 0;
      for await (const key of p.keys()) {
        sum += new TextEncoder().encode(key).length + (await p.get(key)).length;
        count++;
      }
      return { quota: await p.quota(), sum, count, writes: await p.getText('writes') };
    }, database);
    assert.equal(seen.writes, '120', 'no increment lost between the tabs');
    assert.equal(seen.quota.usedBytes, seen.sum, 'usage equals the bytes of the live entries');
    assert.equal(seen.quota.keyCount, seen.count);
  } finally {
    await browser.close();
  }
});
