// The store contract in headless Chromium: the scenarios of tests/conformance.rs (and the
// transaction scenario of tests/atomics.rs), run by the transpiled storage component over the
// IndexedDB backend. Each scenario runs in the page on a fresh database and returns what it
// observed; the assertions are here.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEFAULT_QUOTAS } from '../src/identity.js';
import { launch } from './browser.js';

let browser;
let page;

before(async () => {
  browser = await launch();
  page = await browser.page();
});

after(async () => {
  const errors = browser?.errors ?? [];
  await browser?.close();
  assert.deepEqual(errors.map(String), [], 'no uncaught errors in the page');
});

test('every operation round-trips', async () => {
  const seen = await page.evaluate(async () => {
    const p = await zero.open('notes', { database: freshDb() });
    const missing = await p.get('k');
    await p.set('k', 'v1');
    await p.set('k', new Uint8Array([0, 159, 146, 150, 255]));
    const binary = [...(await p.get('k'))];
    const exists = await p.exists('k');
    await p.set('empty', '');
    const empty = [...(await p.get('empty'))];
    const quota = await p.quota();
    const deleted = [await p.delete('k'), await p.delete('k')];
    return { missing, binary, exists, empty, quota, deleted, after: await p.exists('k'), list: await p.list(''), used: (await p.quota()).usedBytes };
  });
  assert.equal(seen.missing, undefined);
  assert.deepEqual(seen.binary, [0, 159, 146, 150, 255], 'binary-safe overwrite');
  assert.equal(seen.exists, true);
  assert.deepEqual(seen.empty, []);
  assert.deepEqual(seen.quota, { namespace: 'app:notes', usedBytes: 1 + 5 + 5, quotaBytes: DEFAULT_QUOTAS.app, keyCount: 2 });
  assert.deepEqual(seen.deleted, [true, false]);
  assert.equal(seen.after, false);
  assert.deepEqual(seen.list, { keys: ['empty'] });
  assert.equal(seen.used, 5);
});

test('keys and values at the limits are accepted and one byte more is refused', async () => {
  const seen = await page.evaluate(async () => {
    const p = await zero.open('limits', { database: freshDb(), quotas: { app: 4 * MIB } });
    const key256 = 'k'.repeat(256);
    await p.set(key256, new Uint8Array(MIB).fill(7));
    const length = (await p.get(key256)).length;
    const codes = {
      key257: await codeOf(p.set('k'.repeat(257), 'x')),
      get257: await codeOf(p.get('k'.repeat(257))),
      valuePlusOne: await codeOf(p.set(key256, new Uint8Array(MIB + 1).fill(8))),
      emptyKey: await codeOf(p.set('', 'x')),
      hugeTtl: await codeOf(p.set('t', 'x', { ttl: 2n ** 64n - 1n })),
      utf8At256: await codeOf(p.set('é'.repeat(128), '')),
      utf8At257: await codeOf(p.set('é'.repeat(128) + 'a', '')),
    };
    const kept = (await p.get(key256)).every((b) => b === 7);
    return { length, codes, kept, quota: await p.quota() };
  });
  assert.equal(seen.length, 2 ** 20);
  assert.deepEqual(seen.codes, {
    key257: 'key-too-long',
    get257: 'key-too-long',
    valuePlusOne: 'value-too-large',
    emptyKey: 'invalid-argument',
    hugeTtl: 'invalid-argument',
    utf8At256: 'ok', // 128 two-byte characters are 256 bytes
    utf8At257: 'key-too-long',
  });
  assert.equal(seen.kept, true, 'nothing the refused writes carried was stored');
  assert.equal(seen.quota.usedBytes, 256 + 2 ** 20 + 256);
  assert.equal(seen.quota.keyCount, 2);
});

test('a write landing exactly on the quota succeeds and one byte over keeps the old value', async () => {
  const seen = await page.evaluate(async () => {
    const p = await zero.open('q', { database: freshDb(), quotas: { app: 1000 } });
    await p.set('a', new Uint8Array(499).fill(1)); // 500
    await p.set('b', new Uint8Array(499).fill(2)); // 1000: exactly the quota
    const atQuota = (await p.quota()).usedBytes;
    const over = await codeOf(p.set('b', new Uint8Array(500).fill(3)));
    const overNew = await codeOf(p.set('c', ''));
    const oldStays = (await p.get('b')).length === 499 && (await p.get('b')).every((b) => b === 2);
    const cAbsent = !(await p.exists('c'));
    await p.set('a', new Uint8Array(99).fill(1)); // shrinking is always allowed
    await p.set('c', new Uint8Array(399).fill(4));
    return { atQuota, over, overNew, oldStays, cAbsent, quota: await p.quota() };
  });
  assert.equal(seen.atQuota, 1000);
  assert.equal(seen.over, 'quota-exceeded');
  assert.equal(seen.overNew, 'quota-exceeded');
  assert.equal(seen.oldStays, true, 'the old value stays');
  assert.equal(seen.cAbsent, true);
  assert.equal(seen.quota.usedBytes, 1000);
  assert.equal(seen.quota.keyCount, 3);
});

test('entries expire exactly at their ttl and stop counting', async () => {
  const seen = await page.evaluate(async () => {
    let now = 1_700_000_000_000;
    const p = await zero.open('ttl', { database: freshDb(), quotas: { app: 100 }, now: () => now });
    await p.set('short', new Uint8Array(45), { ttl: 2 }); // 50 bytes
    await p.set('keep', new Uint8Array(46)); // 50 bytes: exactly the quota
    now += 1999;
    const before = { length: (await p.get('short'))?.length, list: (await p.list('', { limit: 10 })).keys, write: await codeOf(p.set('new', new Uint8Array(40))) };
    now += 1;
    const at = { get: await p.get('short'), exists: await p.exists('short'), list: (await p.list('', { limit: 10 })).keys };
    const write = await codeOf(p.set('new', new Uint8Array(40)));
    return { before, at, write, quota: await p.quota() };
  });
  assert.deepEqual(seen.before, { length: 45, list: ['keep', 'short'], write: 'quota-exceeded' }, 'still live 1 ms before expiry');
  assert.deepEqual(seen.at, { get: undefined, exists: false, list: ['keep'] }, 'gone exactly at expiry');
  assert.equal(seen.write, 'ok', 'the expired bytes no longer count');
  assert.equal(seen.quota.usedBytes, 50 + 43);
  assert.equal(seen.quota.keyCount, 2);
});

test('sweep reclaims expired entries and keeps live ones', async () => {
  const seen = await page.evaluate(async () => {
    let now = 1_700_000_000_000;
    const database = freshDb();
    const p = await zero.open('sweep', { database, now: () => now });
    for (let i = 0; i < 300; i++) await p.set(`k${String(i).padStart(3, '0')}`, 'v', { ttl: i % 3 === 0 ? 0 : 10 });
    now += 10_000;
    const admin = await zero.open('admin', { database, system: true, now: () => now });
    const swept = [await admin.sweep('app:sweep'), await admin.sweep('app:sweep')];
    const mallory = await zero.open('mallory', { database, now: () => now });
    return { swept, quota: await p.quota(), mallory: await codeOf(mallory.sweep('app:sweep')) };
  });
  assert.deepEqual(seen.swept, [200, 0]);
  assert.equal(seen.quota.keyCount, 100);
  assert.equal(seen.quota.usedBytes, 100 * 5);
  assert.equal(seen.mallory, 'permission-denied');
});

test('list is ordered bytewise, filtered by prefix, and paginates across changes', async () => {
  const seen = await page.evaluate(async () => {
    const p = await zero.open('list', { database: freshDb() });
    // UTF-8 byte order: U+FF5E (EF BD 9E) sorts before U+1F600 (F0 9F 98 80), although in
    // UTF-16, which IndexedDB uses for string keys, the surrogate D83D sorts before FF5E.
    // U+FFFD against U+1F600 differs the same way.
    for (const key of ['b', 'a', '😀', '～', '\uFFFD', 'a/2', 'a/1', 'a/10', 'B', '\u0000x']) await p.set(key, '');
    const all = await p.list('', { limit: 1000 });
    const prefixed = (await p.list('a/')).keys;
    const none = (await p.list('zzz', { limit: 10 })).keys;
    const first = await p.list('', { limit: 3 });
    await p.delete('a/1'); // after the cursor, deleted: not seen
    await p.set('A', ''); // before the cursor: not seen
    await p.set('a/0', ''); // after the cursor, inserted: seen
    const second = await p.list('', { limit: 3, cursor: first.cursor });
    const third = await p.list('', { limit: 3, cursor: second.cursor });
    const fourth = await p.list('', { limit: 3, cursor: third.cursor });
    return { all, prefixed, none, first: first.keys, second: second.keys, third: third.keys, fourth };
  });
  assert.deepEqual(seen.all, { keys: ['\u0000x', 'B', 'a', 'a/1', 'a/10', 'a/2', 'b', '\uFFFD', '～', '😀'].sort(utf8Order) });
  assert.deepEqual(seen.all.keys, ['\u0000x', 'B', 'a', 'a/1', 'a/10', 'a/2', 'b', '～', '\uFFFD', '😀']);
  assert.deepEqual(seen.prefixed, ['a/1', 'a/10', 'a/2']);
  assert.deepEqual(seen.none, []);
  assert.deepEqual(seen.first, ['\u0000x', 'B', 'a']);
  assert.deepEqual(seen.second, ['a/0', 'a/10', 'a/2']);
  assert.deepEqual(seen.third, ['b', '～', '\uFFFD']);
  assert.deepEqual(seen.fourth, { keys: ['😀'] }, 'no cursor when nothing follows');
});

test('list limits are clamped and bad cursors and prefixes are refused', async () => {
  const seen = await page.evaluate(async () => {
    const p = await zero.open('pages', { database: freshDb() });
    const keys = Array.from({ length: 1005 }, (_, i) => String(i).padStart(4, '0'));
    await p.setMany(keys.slice(0, 1000).map((k) => [k, '']));
    await p.setMany(keys.slice(1000).map((k) => [k, '']));
    const byDefault = (await p.list('')).keys.length;
    const big = await p.list('', { limit: 2 ** 32 - 1 });
    const rest = (await p.list('', { limit: 1000, cursor: big.cursor })).keys.length;
    const cursors = {};
    for (const cursor of ['', 'garbage', 'c', 'c6', 'cZZ', 'cff', `c${'61'.repeat(300)}`]) cursors[cursor] = await codeOf(p.list('', { limit: 10, cursor }));
    let all = 0;
    for await (const _ of p.keys()) all++;
    return { byDefault, big: big.keys.length, rest, cursors, longPrefix: await codeOf(p.list('p'.repeat(257), { limit: 10 })), all };
  });
  assert.equal(seen.byDefault, 100, '0 means the default');
  assert.equal(seen.big, 1000, 'clamped to 1000');
  assert.equal(seen.rest, 5);
  for (const [cursor, code] of Object.entries(seen.cursors)) assert.equal(code, 'invalid-argument', `cursor ${cursor}`);
  assert.equal(seen.longPrefix, 'key-too-long');
  assert.equal(seen.all, 1005, 'keys() walks every page');
});

test('namespaces are isolated and names cannot collide', async () => {
  const seen = await page.evaluate(async () => {
    const database = freshDb();
    const a = await zero.open('a', { database });
    const ab = await zero.open('ab', { database });
    await a.set('b:c', 'from app:a');
    await a.set('shared', 'a');
    await ab.set('shared', 'ab');
    const admin = await zero.open('admin', { database, system: true });
    let badName;
    try { await zero.open('a:b', { database }); } catch (e) { badName = e.name; }
    return {
      abSeesBc: await ab.get('b:c'),
      shared: [await a.getText('shared'), await ab.getText('shared')],
      aList: (await a.list('', { limit: 10 })).keys,
      abCount: (await ab.quota()).keyCount,
      badName,
      adminBadNamespace: await codeOf(admin.bucket('app:a:b')),
      adminReads: await (await admin.bucket('app:a')).getText('b:c'),
    };
  });
  assert.deepEqual(seen, {
    abSeesBc: undefined,
    shared: ['a', 'ab'],
    aList: ['b:c', 'shared'],
    abCount: 1,
    badName: 'TypeError',
    adminBadNamespace: 'invalid-argument',
    adminReads: 'from app:a',
  });
});

test('bad app, user and quota namespace names are refused by the component before a database opens', async () => {
  const seen = await page.evaluate(async () => {
    const database = freshDb();
    const refusal = async (app, options = {}) => {
      try {
        await zero.open(app, { database, ...options });
        return 'ok';
      } catch (e) {
        return `${e.name}: ${e.message}`;
      }
    };
    const refused = {
      app: await refusal('a:b'),
      dot: await refusal('.hidden'),
      long: await refusal('x'.repeat(65)),
      user: await refusal('ok', { user: '../root' }),
      quota: await refusal('ok', { quotas: { namespaces: { 'app:x y': 5 } } }),
      notString: await refusal(7),
    };
    const opened = (await indexedDB.databases()).some((db) => db.name === database);
    const fine = {
      longest: await refusal('x'.repeat(64)),
      otherQuota: await refusal('ok', { quotas: { namespaces: { 'app:other': 5, 'user:bob': 6, system: 7 } } }),
      system: await refusal('a.b_c-9', { system: true, user: 'alice' }),
    };
    return { refused, opened, fine };
  });
  // The messages are the component's own (component/src/namespace.rs says what is valid).
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const refused = (what, name) => new RegExp(`^TypeError: ${escape(what)}: \`${escape(name)}\` is not a valid name: use `);
  assert.match(seen.refused.app, refused('app name', 'a:b'));
  assert.match(seen.refused.dot, refused('app name', '.hidden'));
  assert.match(seen.refused.long, refused('app name', 'x'.repeat(65)));
  assert.match(seen.refused.user, refused('user name', '../root'));
  assert.match(seen.refused.quota, refused('quotas.namespaces', 'x y'));
  assert.equal(seen.refused.notString, 'TypeError: the app name is a string');
  assert.equal(seen.opened, false, 'no database was opened for a refused name');
  assert.deepEqual(seen.fine, { longest: 'ok', otherQuota: 'ok', system: 'ok' });
});

test('other namespaces are permission-denied before existence is revealed', async () => {
  const seen = await page.evaluate(async () => {
    const database = freshDb();
    const victim = await zero.open('victim', { database });
    await victim.set('secret', 's');
    const p = await zero.open('mallory', { database, user: 'mallory' });
    const denied = {};
    for (const namespace of ['app:victim', 'app:empty', 'system', 'user:alice']) denied[namespace] = await codeOf(p.bucket(namespace));
    const mine = await p.bucket('user:mallory');
    await mine.set('mine', 'm');
    const system = await zero.open('ops', { database, system: true });
    return {
      denied,
      userQuota: (await mine.quota()).quotaBytes,
      system: await system.quota(),
      systemReads: await (await system.bucket('user:mallory')).getText('mine'),
    };
  });
  assert.deepEqual(seen.denied, { 'app:victim': 'permission-denied', 'app:empty': 'permission-denied', system: 'permission-denied', 'user:alice': 'permission-denied' });
  assert.equal(seen.userQuota, DEFAULT_QUOTAS.user);
  assert.equal(seen.system.namespace, 'system');
  assert.equal(seen.system.quotaBytes, DEFAULT_QUOTAS.system);
  assert.equal(seen.systemReads, 'm');
});

test('configured quota overrides apply to one namespace', async () => {
  const seen = await page.evaluate(async () => {
    const database = freshDb();
    const quotas = { namespaces: { 'app:tiny': 10 } };
    const tiny = await zero.open('tiny', { database, quotas });
    const other = await zero.open('other', { database, quotas });
    return [await codeOf(tiny.set('k', new Uint8Array(9))), await codeOf(tiny.set('k', new Uint8Array(10))), await codeOf(other.set('k', new Uint8Array(1000)))];
  });
  assert.deepEqual(seen, ['ok', 'quota-exceeded', 'ok']);
});

test('failed preconditions and over-quota transactions change nothing', async () => {
  const seen = await page.evaluate(async () => {
    const p = await zero.open('bank', { database: freshDb(), quotas: { app: 100 } });
    await p.setMany([['a', '1'], ['b', '2']]);
    const before = await p.quota();
    const v = (await p.getVersioned('a')).version;
    const writes = [{ set: 'a', value: 'X' }, { delete: 'b' }, { set: 'c', value: 'new' }];
    const failures = [];
    for (const preconditions of [
      [{ absent: 'a' }],
      [{ exists: 'a' }, { exists: 'zzz' }],
      [{ key: 'a', version: v + 1000n }],
      [{ key: 'a', version: v }, { key: 'b', value: '3' }],
    ]) {
      try { await p.transact({ preconditions, writes }); failures.push('ok'); } catch (e) { failures.push([e.code, e.index]); }
    }
    const overQuota = await codeOf(p.transact({ writes: [{ set: 'a', value: new Uint8Array(60) }, { set: 'c', value: new Uint8Array(60) }] }));
    const values = (await p.getMany(['a', 'b', 'c'])).map((v) => v && new TextDecoder().decode(v));
    const after = await p.quota();
    await p.set('b', 'x');
    const badIncrement = await codeOf(p.increment('b', 1));
    const seenVersion = (await p.getVersioned('a')).version;
    await p.delete('a');
    const casAfterDelete = await codeOf(p.transact({ preconditions: [{ key: 'a', version: seenVersion }], writes: [{ set: 'a', value: '2' }] }));
    // And the success path: compare-and-swap with the version just read, then a counter.
    await p.set('a', '1');
    const current = await p.getVersioned('a');
    const swapped = await p.transact({ preconditions: [{ key: 'a', version: current.version }], writes: [{ set: 'a', value: '2' }] });
    const counter = [await p.increment('n', 5), await p.increment('n', -2)];
    return { failures, overQuota, values, same: JSON.stringify(after) === JSON.stringify(before), badIncrement, b: await p.getText('b'), casAfterDelete, swapped: swapped > current.version, a: await p.getText('a'), counter: counter.map(String) };
  });
  assert.deepEqual(seen.failures, [['precondition-failed', 0], ['precondition-failed', 1], ['precondition-failed', 0], ['precondition-failed', 1]]);
  assert.equal(seen.overQuota, 'quota-exceeded');
  assert.deepEqual(seen.values, ['1', '2', undefined]);
  assert.equal(seen.same, true, 'usage unchanged');
  assert.equal(seen.badIncrement, 'invalid-argument');
  assert.equal(seen.b, 'x');
  assert.equal(seen.casAfterDelete, 'precondition-failed');
  assert.equal(seen.swapped, true, 'a successful swap returns a newer version');
  assert.equal(seen.a, '2');
  assert.deepEqual(seen.counter, ['5', '3']);
});

test('concurrent writers to one namespace keep usage exact', async () => {
  // Eight stores of one app are eight component instances, like eight host processes.
  const seen = await page.evaluate(async () => {
    const database = freshDb();
    const writers = await Promise.all(Array.from({ length: 8 }, () => zero.open('busy', { database })));
    await Promise.all(writers.map(async (w, i) => {
      for (let j = 0; j < 25; j++) {
        await w.set(`k${j % 10}`, new Uint8Array(1 + ((i * 7 + j) % 13)));
        if (j % 4 === 3) await w.delete(`k${(j + i) % 10}`);
        await w.increment('count');
      }
    }));
    const p = writers[0];
    let sum = 0, count = 0;
    for await (const key of p.keys()) { sum += new TextEncoder().encode(key).length + (await p.get(key)).length; count++; }
    return { quota: await p.quota(), sum, count, increments: await p.getText('count') };
  });
  assert.equal(seen.increments, '200', 'no increment lost');
  assert.equal(seen.quota.usedBytes, seen.sum, 'usage equals the sum of live keys and values');
  assert.equal(seen.quota.keyCount, seen.count);
});

test('a backend that cannot be reached gives backend-error with a message safe to show', async () => {
  const seen = await page.evaluate(async () => {
    const p = await zero.open('closed', { database: freshDb() });
    await p.set('k', 'v');
    await p.close(); // closes the IndexedDB connection under the component
    let error;
    try { await p.set('k', 'w'); } catch (e) { error = { code: e.code, detail: e.detail, isStorageError: e instanceof zero.StorageError }; }
    return { error, get: await codeOf(p.get('k')) };
  });
  assert.equal(seen.error.code, 'backend-error');
  assert.equal(seen.error.isStorageError, true);
  assert.match(seen.error.detail, /IndexedDB transaction could not start \(InvalidStateError\)/);
  assert.equal(seen.get, 'backend-error');
});

/** Compares strings by their UTF-8 bytes, the order the contract promises. */
function utf8Order(a, b) {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
