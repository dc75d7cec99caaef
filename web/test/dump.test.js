// Dumps in the page (src/dump.js): the layout decoder against records the real component
// wrote, a round trip, the host's `zero-storage export` imported in the page and the page's
// export imported by `zero-storage import`, and damaged dumps refused with nothing changed.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launch } from './browser.js';
import { hostBinary } from './host.js';
import { LIMITS } from '../src/dump.js';

let browser;
let page;
let host;
const dirs = [];
before(async () => {
  host = hostBinary();
  browser = await launch();
  page = await browser.page();
  // Helpers in the page: a snapshot of every raw record of a database (versions included),
  // and every live entry of a namespace as { key: [expiry, base64 value] }.
  await page.evaluate(() => {
    window.rawRecords = (database) => new Promise((resolve, reject) => {
      const req = indexedDB.open(database);
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const db = req.result;
        const tx = db.transaction(['entries', 'counters'], 'readonly');
        const out = {};
        const all = (name) => new Promise((done) => {
          const keys = tx.objectStore(name).getAllKeys();
          const values = tx.objectStore(name).getAll();
          values.onsuccess = () => done(keys.result.map((k, i) => JSON.stringify([k, values.result[i]], (_, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof ArrayBuffer ? [...new Uint8Array(v)] : ArrayBuffer.isView(v) ? [...v] : v))));
        });
        Promise.all([all('entries'), all('counters')]).then(([e, c]) => { out.entries = e; out.counters = c; db.close(); resolve(out); });
      };
    });
    window.liveEntries = async (store, namespace) => {
      const { entries } = await zero.readNamespace(store._dumpAccess().db, namespace);
      const now = Date.now();
      const out = {};
      for (const e of entries) {
        if (e.expiresAtMs !== undefined && e.expiresAtMs <= now) continue;
        out[new TextDecoder().decode(e.key)] = [e.expiresAtMs ?? null, btoa(String.fromCharCode(...e.value))];
      }
      return out;
    };
  });
});
after(async () => {
  await browser?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'zero-storage-dump-'));
  dirs.push(dir);
  return dir;
}

/** Runs the host binary; returns stdout as a Buffer. */
const run = (args, input) => execFileSync(host, args, { input, stdio: ['pipe', 'pipe', 'pipe'] });

/** Checks the dump text as DUMP.md says, independently of the page: lines, counts, sha256. */
function checkShape(text) {
  assert.ok(text.endsWith('\n'));
  const lines = text.slice(0, -1).split('\n');
  const trailer = JSON.parse(lines.at(-1));
  const before = Buffer.from(text).subarray(0, Buffer.byteLength(text) - Buffer.byteLength(lines.at(-1)) - 1);
  assert.equal(trailer.bytes, before.length);
  assert.equal(trailer.sha256, createHash('sha256').update(before).digest('hex'));
  assert.equal(trailer.entries, lines.length - 2);
  return { header: JSON.parse(lines[0]), records: lines.slice(1, -1).map((l) => JSON.parse(l)), trailer, lines };
}

const KEY256 = 'k'.repeat(254) + 'é'; // 256 bytes of UTF-8

test('the layout decoder reads what the component wrote', async () => {
  const seen = await page.evaluate(async () => {
    const now = 1_900_000_000_123;
    const p = await zero.open('layout', { database: freshDb(), now: () => now });
    await p.set('b', new Uint8Array(300), { ttl: 60 });
    await p.set('a', 'hello');
    await p.set('é', '');
    const { entries, usage } = await zero.readNamespace(p._dumpAccess().db, 'app:layout');
    return {
      entries: entries.map((e) => [new TextDecoder().decode(e.key), e.valueLen, e.expiresAtMs ?? null, e.value.length]),
      usage,
      quota: await p.quota(),
      bad: await codeOf(Promise.resolve().then(() => zero.decodeMeta(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])))),
    };
  });
  assert.deepEqual(seen.entries, [['a', 5, null, 5], ['b', 300, 1_900_000_000_123 + 60_000, 300], ['é', 0, null, 0]]);
  assert.deepEqual(seen.usage, { bytes: seen.quota.usedBytes, keys: seen.quota.keyCount });
  assert.equal(seen.bad, 'corrupt');
});

test('a dump round-trips in the page: binary values, ttl, 256-byte keys, two namespaces', async () => {
  const seen = await page.evaluate(async (KEY256) => {
    const all = new Uint8Array(256).map((_, i) => i);
    const source = await zero.open('src', { database: freshDb(), system: true });
    const notes = await source.bucket('app:notes');
    const alice = await source.bucket('user:alice');
    await notes.set('bytes', all);
    await notes.set(KEY256, 'long key');
    await notes.set('ttl', 'soon', { ttl: 3600 });
    await notes.set('line\nbreak "q"', new Uint8Array(0));
    await alice.set('theme', 'dark');
    await alice.set('gone', 'x', { ttl: 1 });
    await new Promise((r) => setTimeout(r, 1100)); // `gone` expires: left out
    const blob = await source.exportDump(['user:alice', 'app:notes']);
    const text = await blob.text();
    const target = await zero.open('dst', { database: freshDb(), system: true });
    const dry = await target.importDump(blob, { dryRun: true });
    const emptyAfterDry = (await (await target.bucket('app:notes')).list('')).keys.length;
    const summary = await target.importDump(new File([blob], 'dump.jsonl'));
    const again = await target.importDump(blob).catch((e) => [e.code, e.message]);
    const merged = await target.importDump(blob, { mode: 'merge' });
    const replaced = await target.importDump(blob, { mode: 'replace' });
    return {
      text,
      dry, emptyAfterDry, summary, again, merged, replaced,
      src: { notes: await liveEntries(source, 'app:notes'), alice: await liveEntries(source, 'user:alice') },
      dst: { notes: await liveEntries(target, 'app:notes'), alice: await liveEntries(target, 'user:alice') },
      quotas: [await notes.quota(), await (await target.bucket('app:notes')).quota(), await (await target.bucket('user:alice')).quota()],
      reexport: await (await target.exportDump(['app:notes', 'user:alice'])).text(),
    };
  }, KEY256);
  const { header, records, trailer } = checkShape(seen.text);
  assert.deepEqual(Object.keys(header), ['format', 'version', 'exported_at_ms', 'generator', 'namespaces']);
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url)));
  assert.equal(header.generator, `zero-storage-web ${version}`);
  assert.deepEqual(header.namespaces, ['app:notes', 'user:alice']);
  assert.deepEqual(records.map((r) => [r.ns, r.key]), [
    ['app:notes', 'bytes'], ['app:notes', KEY256], ['app:notes', 'line\nbreak "q"'], ['app:notes', 'ttl'], ['user:alice', 'theme'],
  ]);
  assert.deepEqual(Buffer.from(records[0].value, 'base64'), Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
  assert.ok(records[3].expires_at_ms > Date.now() + 3_500_000);
  assert.equal(Object.keys(trailer).join(), 'trailer,entries,bytes,namespaces,sha256');
  assert.deepEqual(trailer.namespaces, [{ ns: 'app:notes', entries: 4, usage_bytes: seen.quotas[0].usedBytes }, { ns: 'user:alice', entries: 1, usage_bytes: 9 }]);
  assert.equal(seen.dry.dryRun, true);
  assert.equal(seen.dry.entries, 5);
  assert.equal(seen.emptyAfterDry, 0, 'a dry run writes nothing');
  assert.deepEqual(seen.summary.namespaces.map((n) => [n.namespace, n.entries, n.action]), [['app:notes', 4, 'filled'], ['user:alice', 1, 'filled']]);
  assert.equal(seen.again[0], 'not-empty');
  assert.match(seen.again[1], /namespace `app:notes` already holds data/);
  assert.deepEqual(seen.merged.namespaces.map((n) => [n.action, n.existing, n.overwritten]), [['merged', 4, 4], ['merged', 1, 1]]);
  assert.deepEqual(seen.replaced.namespaces.map((n) => [n.action, n.removed]), [['replaced', 4], ['replaced', 1]]);
  // Same values; expiries carried over (rounded up to whole seconds by the import).
  assert.deepEqual(Object.keys(seen.dst.notes), Object.keys(seen.src.notes));
  for (const [key, [expiry, value]] of Object.entries(seen.src.notes)) {
    assert.equal(seen.dst.notes[key][1], value, key);
    if (expiry === null) assert.equal(seen.dst.notes[key][0], null);
    else assert.ok(seen.dst.notes[key][0] >= expiry && seen.dst.notes[key][0] < expiry + 2000, key);
  }
  assert.deepEqual(seen.dst.alice, seen.src.alice);
  assert.equal(seen.quotas[1].usedBytes, seen.quotas[0].usedBytes, 'exact usage after the import');
  assert.equal(seen.quotas[2].keyCount, 1);
  checkShape(seen.reexport);
});

test('a dump written by `zero-storage export` imports in the page with the same entries', async () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  run(['set', '--data', data, '--ns', 'app:notes', 'bytes'], all);
  run(['set', '--data', data, '--ns', 'app:notes', KEY256, 'long key']);
  run(['set', '--data', data, '--ns', 'app:notes', '--ttl', '3600', 'ttl', 'soon']);
  run(['set', '--data', data, '--ns', 'user:alice', 'theme', 'dark']);
  run(['set', '--data', data, '--ns', 'user:alice', 'tab\there "q" \\ é\u0001\u007f\u2028/', 'escapes']);
  const file = join(dir, 'host.jsonl');
  run(['export', '--data', data, '--all', '-o', file]);
  const text = readFileSync(file, 'utf8');
  const { records } = checkShape(text);
  const seen = await page.evaluate(async (text) => {
    const p = await zero.open('fromhost', { database: freshDb(), system: true });
    const summary = await p.importDump(new Blob([text]));
    const notes = await p.bucket('app:notes');
    return {
      summary,
      notes: await liveEntries(p, 'app:notes'),
      alice: await liveEntries(p, 'user:alice'),
      bytes: [...(await notes.get('bytes'))],
      quota: await notes.quota(),
      reexport: await (await p.exportDump()).text(),
    };
  }, text);
  assert.deepEqual(seen.summary.namespaces.map((n) => [n.namespace, n.entries]), [['app:notes', 3], ['user:alice', 2]]);
  assert.deepEqual(seen.bytes, [...all]);
  const expected = {};
  for (const r of records.filter((r) => r.ns === 'app:notes')) expected[r.key] = r.value;
  assert.deepEqual(Object.fromEntries(Object.entries(seen.notes).map(([k, [, v]]) => [k, v])), expected);
  const hostTtl = records.find((r) => r.key === 'ttl').expires_at_ms;
  assert.ok(seen.notes.ttl[0] >= hostTtl && seen.notes.ttl[0] < hostTtl + 2000);
  assert.equal(seen.quota.usedBytes, 5 + 256 + 256 + 8 + 3 + 4);
  assert.deepEqual(Object.keys(seen.alice), ['tab\there "q" \\ é\u0001\u007f\u2028/', 'theme']);
  // The page's own export of what it imported lists the same records as the host's.
  const again = checkShape(seen.reexport);
  assert.deepEqual(again.records.map((r) => [r.ns, r.key, r.value]), records.map((r) => [r.ns, r.key, r.value]));
  // Byte for byte the host's lines (JSON escapes included), but for expiries, which the import rounds.
  const hostLines = text.slice(0, -1).split('\n');
  again.lines.slice(1, -1).forEach((line, i) => {
    if (!records[i].expires_at_ms) assert.equal(line, hostLines[i + 1]);
  });
});

test('a dump exported in the page imports with `zero-storage import`', async () => {
  const text = await page.evaluate(async (KEY256) => {
    const p = await zero.open('tohost', { database: freshDb(), user: 'bob' });
    await p.set('bytes', new Uint8Array(256).map((_, i) => i));
    await p.set(KEY256, 'long key');
    await p.set('ttl', 'soon', { ttl: 3600 });
    await (await p.bucket('user:bob')).set('theme', 'light');
    return (await p.exportDump()).text();
  }, KEY256);
  const { header, records } = checkShape(text);
  assert.deepEqual(header.namespaces, ['app:tohost', 'user:bob']);
  const dir = tempDir();
  const data = join(dir, 'data');
  const file = join(dir, 'page.jsonl');
  writeFileSync(file, text);
  run(['import', '--data', data, file]);
  const get = (ns, key) => run(['get', '--data', data, '--ns', ns, key]);
  assert.deepEqual(get('app:tohost', 'bytes'), Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
  assert.equal(get('app:tohost', KEY256).toString(), 'long key');
  assert.equal(get('app:tohost', 'ttl').toString(), 'soon');
  assert.equal(get('user:bob', 'theme').toString(), 'light');
  // The host's export of it: the same records, the expiry kept (to the second).
  const back = join(dir, 'back.jsonl');
  run(['export', '--data', data, '--all', '-o', back]);
  const hostRecords = checkShape(readFileSync(back, 'utf8')).records;
  assert.deepEqual(hostRecords.map((r) => [r.ns, r.key, r.value]), records.map((r) => [r.ns, r.key, r.value]));
  const [was, now] = [records, hostRecords].map((rs) => rs.find((r) => r.key === 'ttl').expires_at_ms);
  assert.ok(now >= was && now < was + 2000);
});

test('truncated, bit-flipped, wrong-version, out-of-order and over-quota dumps are refused and change nothing', async () => {
  const seen = await page.evaluate(async () => {
    const database = freshDb();
    const p = await zero.open('victim', { database, system: true, quotas: { namespaces: { 'app:tiny': 10 } } });
    await p.set('kept', 'as it was');
    await (await p.bucket('user:carol')).set('x', new Uint8Array([1, 2, 3]), { ttl: 3600 });
    const text = await (await p.exportDump()).text();
    const lines = text.slice(0, -1).split('\n');
    const join = (ls) => `${ls.join('\n')}\n`;
    const flip = (s, at) => s.slice(0, at) + String.fromCharCode(s.charCodeAt(at) ^ 0x01) + s.slice(at + 1);
    const version2 = join([lines[0].replace('"version":1', '"version":2'), ...lines.slice(1)]);
    const recordAt = text.indexOf('"value":"') + 10;
    const cases = {
      empty: '',
      noTrailer: join(lines.slice(0, -1)),
      cutInLine: text.slice(0, text.length - 20),
      headerOnly: join(lines.slice(0, 1)),
      bitFlipValue: flip(text, recordAt), // still valid base64: only the checksum tells
      bitFlipTrailer: flip(text, text.length - 5),
      version2,
      notADump: 'hello\n',
      outOfOrder: join([lines[0], lines[2], lines[1], ...lines.slice(3)]),
      unknownField: join([lines[0], lines[1].replace('{', '{"ttl":5,'), ...lines.slice(2)]),
    };
    const before = await rawRecords(database);
    const refused = {};
    for (const [name, dump] of Object.entries(cases)) {
      refused[name] = await p.importDump(new Blob([dump]), { mode: 'merge' }).then(() => 'ok', (e) => ({ code: e.code, line: e.line, message: e.message }));
    }
    // Over quota: a namespace whose quota the dump does not fit.
    const big = await zero.open('big', { database: freshDb(), system: true });
    await (await big.bucket('app:tiny')).set('much', 'more than ten bytes');
    refused.overQuota = await p.importDump(await big.exportDump(['app:tiny']), { mode: 'replace' }).then(() => 'ok', (e) => ({ code: e.code, message: e.message }));
    // A store that may not open a namespace of the dump.
    const app = await zero.open('plain', { database });
    refused.denied = await app.importDump(new Blob([text]), { mode: 'merge' }).then(() => 'ok', (e) => ({ code: e.code, message: e.message }));
    const after = await rawRecords(database);
    return { refused, same: JSON.stringify(before) === JSON.stringify(after), records: before.entries.length };
  });
  const r = seen.refused;
  assert.equal(r.empty.line, 1);
  assert.match(r.empty.message, /empty/);
  assert.equal(r.noTrailer.line, 3);
  assert.match(r.noTrailer.message, /line 3 of the dump: the dump is truncated after this line/);
  assert.match(r.cutInLine.message, /truncated/);
  assert.match(r.headerOnly.message, /line 2 of the dump: the dump ends after its header/);
  assert.equal(r.bitFlipValue.line, 4);
  assert.match(r.bitFlipValue.message, /line 4 of the dump: the checksum does not match/);
  assert.equal(r.bitFlipTrailer.code, 'invalid');
  assert.equal(r.bitFlipTrailer.line, 4);
  assert.equal(r.version2.code, 'unsupported-version');
  assert.match(r.version2.message, /format version 2, but this page reads version 1 only/);
  assert.match(r.notADump.message, /line 1 of the dump: this is not a Zero Storage dump/);
  assert.match(r.outOfOrder.message, /line 3 of the dump: a record of `system` after records of `user:carol`/);
  assert.match(r.unknownField.message, /line 2 of the dump: not a valid record: unknown field `ttl`/);
  assert.equal(r.overQuota.code, 'over-quota');
  assert.match(r.overQuota.message, /namespace `app:tiny` would use 23 bytes after the import \(its records are lines 2 to 2\), over its quota of 10 bytes/);
  assert.equal(r.denied.code, 'permission-denied');
  assert.ok(seen.records > 0);
  assert.equal(seen.same, true, 'every record, versions included, is as before');
});

test("DUMP.md's example is a valid dump in the page too", async () => {
  const doc = readFileSync(new URL('../../DUMP.md', import.meta.url), 'utf8');
  const example = doc.match(/```jsonl\n([\s\S]*?)```/)[1];
  const seen = await page.evaluate(async (text) => {
    const { header, trailer } = await zero.checkDump(new TextEncoder().encode(text));
    const p = await zero.open('example', { database: freshDb(), system: true });
    const summary = await p.importDump(new Blob([text]));
    return { namespaces: header.namespaces, entries: trailer.entries, summary, session: await (await p.bucket('app:notes')).get('session') };
  }, example);
  assert.deepEqual(seen.namespaces, ['app:notes', 'user:alice']);
  assert.equal(seen.entries, 3);
  // Its `session` expired long ago (2026-01-01): skipped, not written.
  assert.deepEqual([seen.summary.entries, seen.summary.expired, seen.session], [2, 1, undefined]);
});

test('large namespaces go in batches of at most 1,000 keys; merge keeps what the dump lacks', async () => {
  const seen = await page.evaluate(async () => {
    let now = 1_700_000_000_000;
    const source = await zero.open('many', { database: freshDb(), now: () => now });
    const keys = Array.from({ length: 2500 }, (_, i) => `key-${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 1000) await source.setMany(keys.slice(i, i + 1000).map((k) => [k, k]));
    await source.set('short', 'x', { ttl: 1 }); // live at the export, expired at the import
    const blob = await source.exportDump();
    const target = await zero.open('many', { database: freshDb() });
    await target.set('only-here', 'kept');
    await target.set('key-00000', 'overwritten');
    const summary = await target.importDump(blob, { mode: 'merge' });
    return {
      exported: (await blob.text()).split('\n').length - 3,
      summary,
      quota: await target.quota(),
      kept: await target.getText('only-here'),
      first: await target.getText('key-00000'),
      short: await target.exists('short'),
    };
  });
  assert.equal(seen.exported, 2501);
  assert.deepEqual(seen.summary.namespaces.map((n) => [n.entries, n.expired, n.action, n.existing, n.overwritten]), [[2500, 1, 'merged', 2, 1]]);
  assert.equal(seen.quota.keyCount, 2501);
  assert.equal(seen.quota.usedBytes, 2500 * 18 + 'only-here'.length + 4);
  assert.deepEqual([seen.kept, seen.first, seen.short], ['kept', 'key-00000', false]);
});

test("the import's limits are the component's (component/src/limits.rs)", () => {
  const rust = readFileSync(new URL('../../component/src/limits.rs', import.meta.url), 'utf8');
  for (const [name, value] of Object.entries(LIMITS)) {
    const [, expr] = rust.match(new RegExp(`pub const ${name}: \\w+ = ([^;]+);`));
    const [base, shift] = expr.split('<<').map((n) => Number(n.trim()));
    assert.equal(value, shift === undefined ? base : base * 2 ** shift, name);
  }
});
