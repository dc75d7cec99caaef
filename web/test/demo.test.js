// The demo page works through its own UI, draws the quota table, and is kept as a screenshot
// (web/test-artifacts/demo.png).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ARTIFACTS, launch } from './browser.js';

let browser;
let page;

before(async () => {
  browser = await launch();
  page = await browser.page('/demo/');
  await page.setViewportSize({ width: 1200, height: 600 });
  await page.waitForSelector('body[data-ready=true]');
});

after(async () => {
  await browser?.close();
});

/** The quota table as the page drew it: namespace, the four cells, and the bar's width. */
const quotaTable = () => page.$$eval('#quotas tbody tr', (rows) => rows.map((row) => ({
  namespace: row.dataset.namespace,
  cells: [...row.cells].slice(0, 4).map((cell) => cell.textContent),
  bar: row.querySelector('.bar span').style.width,
})));

test('the demo sets, gets and lists entries through its form', async () => {
  // The status line is written after the tables are redrawn, so waiting for it is enough.
  await page.fill('#key', 'greeting');
  await page.fill('#value', 'hello from the browser');
  await page.click('button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'set greeting');
  const keys = await page.$$eval('#entries tbody code', (cells) => cells.map((c) => c.textContent));
  assert.deepEqual(keys, ['draft', 'greeting', 'note/2024-05-01', 'note/2024-05-02', 'note/2024-05-03']);
  await page.click('#get');
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'greeting = hello from the browser');
});

test('the quota table has a row and a bar per namespace, and the screenshot shows it', async () => {
  const table = await quotaTable();
  assert.deepEqual(table.map((row) => row.namespace), ['app:notes', 'app:todo', 'user:alice']);
  const usage = await page.evaluate(async () => {
    const { open } = await import('/src/index.js');
    const q = await (await open('todo')).quota();
    return q.usedBytes;
  });
  assert.equal(table[1].cells[1], `${(usage / 1024).toFixed(1)} KiB`, 'the table shows the usage the store reports');
  for (const row of table) {
    const percent = Number.parseFloat(row.cells[3]);
    assert.ok(percent > 0 && percent < 100, `${row.namespace}: ${row.cells[3]}`);
    assert.equal(Number.parseFloat(row.bar).toFixed(1), percent.toFixed(1), `${row.namespace}: the bar is as long as the percentage`);
  }
  assert.match(await page.textContent('#estimate'), /navigator\.storage\.estimate\(\): this origin uses .+ of the .+ the browser allows/);

  const file = join(ARTIFACTS, 'demo.png');
  await page.screenshot({ path: file });
  const png = readFileSync(file);
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [1200, 600], 'IHDR width and height');
  assert.ok(png.length > 20_000, `a real page, not a blank one (${png.length} bytes)`);
});

test('the demo shows a typed error and changes nothing', async () => {
  const before = await quotaTable();
  await page.selectOption('#app', 'app:todo');
  await page.fill('#key', 'big');
  await page.fill('#value', 'x'.repeat(8000));
  await page.click('button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'quota-exceeded');
  assert.deepEqual(await quotaTable(), before);
  await page.selectOption('#app', 'app:notes');
});
