// Measures get and set latency in headless Chromium, through the whole stack (friendly API →
// jco/JSPI → storage component → IndexedDB), for each IndexedDB durability.
// Run after `npm run build`: `npm run latency`.

import { launch } from '../test/browser.js';

const browser = await launch();
try {
  const page = await browser.page();
  const results = await page.evaluate(async () => {
    const rows = [];
    for (const durability of ['strict', 'relaxed']) {
      const store = await zero.open('latency', { database: freshDb(), durability });
      await store.set('warm-up', 'x');
      const n = 200;
      const time = async (fn) => { const t = performance.now(); await fn(); return (performance.now() - t) / n; };
      const value = new Uint8Array(100);
      rows.push({
        durability,
        'set (ms, one at a time)': await time(async () => { for (let i = 0; i < n; i++) await store.set(`k${i}`, value); }),
        'set (ms, 200 queued)': await time(() => Promise.all(Array.from({ length: n }, (_, i) => store.set(`q${i}`, value)))),
        'get (ms)': await time(async () => { for (let i = 0; i < n; i++) await store.get(`k${i}`); }),
        'list 100 keys (ms)': (await time(async () => { for (let i = 0; i < n; i++) await store.list('', { limit: 100 }); })),
      });
    }
    return rows;
  });
  for (const row of results) for (const key of Object.keys(row)) if (typeof row[key] === 'number') row[key] = Number(row[key].toFixed(2));
  console.table(results);
} finally {
  await browser.close();
}
