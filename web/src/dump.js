// Backup and restore in the page: the dump format of DUMP.md (version 1), the same bytes the
// host's `zero-storage export` writes and `zero-storage import` reads.
//
// Export reads each namespace in ONE IndexedDB `readonly` transaction (a snapshot) straight
// from the backend's records, decoding the storage component's layout (component/src/layout.rs):
// `m`+key directory records (format byte 1, value length u32 LE, expiry u64 LE, 0 = never),
// `d`+key values, `u` usage (bytes u64 LE, keys u64 LE). Import checks the whole dump and the
// store first, then writes through the component's API (`transact`), so its limits, quotas and
// usage accounting apply.

import { compareBytes } from './indexeddb-backend.js';

/** The `format` of every dump's header. */
export const DUMP_FORMAT = 'zero-storage-dump';
/** The only format version written and read. */
export const DUMP_VERSION = 1;
/** What the page writes as `generator` (the package's version, checked by the tests). */
export const GENERATOR = 'zero-storage-web 0.1.0';

// component/src/limits.rs
const MAX_KEY_BYTES = 256;
const MAX_VALUE_BYTES = 1 << 20;
const MAX_BATCH_KEYS = 1000;
const MAX_PAGE_SIZE = 1000;
const MAX_VALUE_BASE64 = Math.ceil(MAX_VALUE_BYTES / 3) * 4;
const MAX_LINE_BYTES = 64 << 20;
/** The component's limits the import checks before writing (test/dump.test.js compares them with limits.rs). */
export const LIMITS = Object.freeze({ MAX_KEY_BYTES, MAX_VALUE_BYTES, MAX_BATCH_KEYS, MAX_PAGE_SIZE });
/** A write batch's budget, counting value + 5 × key + 64 per entry (host/src/dump/import.rs). */
const BATCH_BYTES = 1 << 20;

// component/src/layout.rs
const META = 0x6d; // 'm'
const DATA = 0x64; // 'd'
const USAGE = 0x75; // 'u'
const META_FORMAT = 1;
const ENTRIES = 'entries';

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * An export or import failed; an import that fails this way before writing changed nothing.
 * `code`: `invalid` (the dump is malformed, truncated or damaged: `line` says where),
 * `unsupported-version`, `not-empty`, `over-quota`, `permission-denied`, `corrupt` (the store's
 * records do not fit together) or `store` (a write failed; `written` entries were written).
 */
export class DumpError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'DumpError';
    this.code = code;
    Object.assign(this, details);
  }
}

const invalid = (line, reason) => new DumpError('invalid', `line ${line} of the dump: ${reason}`, { line, reason });

// ---------------------------------------------------------------------------------------------
// The component's record layout

/**
 * Decodes a directory (`m`) record: `{ valueLen, expiresAtMs }` (`expiresAtMs` undefined for
 * never). Throws for a record of another layout.
 * @param {Uint8Array} raw
 */
export function decodeMeta(raw) {
  if (!(raw instanceof Uint8Array) || raw.length !== 13 || raw[0] !== META_FORMAT) {
    throw new DumpError('corrupt', 'a stored directory record is not in the layout this page reads');
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const expiry = view.getBigUint64(5, true);
  return { valueLen: view.getUint32(1, true), expiresAtMs: expiry === 0n ? undefined : Number(expiry) };
}

/** Decodes a usage (`u`) record: `{ bytes, keys }`. */
function decodeUsage(raw) {
  if (!(raw instanceof Uint8Array) || raw.length !== 16) throw new DumpError('corrupt', 'a stored usage record is not in the layout this page reads');
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return { bytes: Number(view.getBigUint64(0, true)), keys: Number(view.getBigUint64(8, true)) };
}

/** The backend keys `[namespace, tag + …]` of every record with `tag`. */
const tagRange = (namespace, tag) => IDBKeyRange.bound([namespace, Uint8Array.of(tag)], [namespace, Uint8Array.of(tag + 1)], false, true);

const request = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(new DumpError('store', `IndexedDB read failed (${req.error?.name})`));
});

/**
 * Reads one namespace from one IndexedDB snapshot: every directory record (expired ones too),
 * decoded, with its value when `values` is set, and the usage record. Checks that the values
 * match their directory records and that the directory adds up to the usage record.
 * @param {IDBDatabase} db @param {string} namespace @param {{ values?: boolean }} [options]
 * @returns {Promise<{ entries: Array<{ key: Uint8Array, valueLen: number, expiresAtMs?: number, value?: Uint8Array }>, usage: { bytes: number, keys: number } }>}
 */
export async function readNamespace(db, namespace, { values = true } = {}) {
  const tx = db.transaction([ENTRIES], 'readonly');
  const store = tx.objectStore(ENTRIES);
  // Every request is made before the first answer, so all run in this one transaction.
  const [metaKeys, metas, dataKeys, data, usageRecord] = await Promise.all([
    request(store.getAllKeys(tagRange(namespace, META))),
    request(store.getAll(tagRange(namespace, META))),
    values ? request(store.getAllKeys(tagRange(namespace, DATA))) : [],
    values ? request(store.getAll(tagRange(namespace, DATA))) : [],
    request(store.get([namespace, Uint8Array.of(USAGE)])),
  ]);
  const corrupt = (reason) => new DumpError('corrupt', `namespace \`${namespace}\` is inconsistent in the store: ${reason}`, { namespace });
  const usage = usageRecord ? decodeUsage(usageRecord.value) : { bytes: 0, keys: 0 };
  const entries = [];
  const seen = { bytes: 0, keys: 0 };
  for (let i = 0; i < metaKeys.length; i++) {
    const key = new Uint8Array(metaKeys[i][1]).subarray(1);
    const entry = { key, ...decodeMeta(metas[i].value) };
    seen.bytes += key.length + entry.valueLen;
    seen.keys++;
    if (values) {
      const dataKey = dataKeys[i] && new Uint8Array(dataKeys[i][1]).subarray(1);
      if (!dataKey || compareBytes(dataKey, key) !== 0 || data[i].value.length !== entry.valueLen) {
        throw corrupt(`the value of a key does not match its directory record`);
      }
      entry.value = data[i].value;
    }
    entries.push(entry);
  }
  if (values && dataKeys.length !== metaKeys.length) throw corrupt('there are values without directory records');
  if (seen.bytes !== usage.bytes || seen.keys !== usage.keys) {
    throw corrupt(`its usage record counts ${usage.keys} entries of ${usage.bytes} bytes, but its directory holds ${seen.keys} entries of ${seen.bytes} bytes`);
  }
  return { entries, usage };
}

/** The directory records of `keys` (or undefined), from one snapshot. */
async function readMetas(db, namespace, keys) {
  const store = db.transaction([ENTRIES], 'readonly').objectStore(ENTRIES);
  const records = await Promise.all(keys.map((key) => {
    const raw = new Uint8Array(key.length + 1);
    raw[0] = META;
    raw.set(key, 1);
    return request(store.get([namespace, raw]));
  }));
  return records.map((record) => record && decodeMeta(record.value));
}

/** Every namespace that has records in the database, by walking the first key of each. */
async function storedNamespaces(db) {
  const cursorRequest = db.transaction([ENTRIES], 'readonly').objectStore(ENTRIES).openKeyCursor();
  return new Promise((resolve, reject) => {
    const found = [];
    cursorRequest.onerror = () => reject(new DumpError('store', `IndexedDB read failed (${cursorRequest.error?.name})`));
    cursorRequest.onsuccess = () => {
      const cursor = cursorRequest.result;
      if (!cursor) return resolve(found);
      found.push(cursor.key[0]);
      // An array sorts after every binary key: this skips to the next namespace.
      cursor.continue([cursor.key[0], []]);
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Base64 (standard alphabet, padded, canonical: what Rust's `base64` STANDARD engine accepts)

function toBase64(bytes) {
  if (typeof bytes.toBase64 === 'function') return bytes.toBase64();
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The bytes of `text`, or undefined if it is not canonical padded standard base64. */
function fromBase64(text) {
  if (!BASE64.test(text)) return undefined;
  // The bits after the last byte must be zero (`aGVsbG9=` is not `aGVsbG8=`).
  if (text.endsWith('==') && ALPHABET.indexOf(text[text.length - 3]) & 0x0f) return undefined;
  if (text.endsWith('=') && !text.endsWith('==') && ALPHABET.indexOf(text[text.length - 2]) & 0x03) return undefined;
  if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------------------------------------
// Export

/**
 * Writes a dump of `namespaces` (or of every namespace the store may open that holds data) as
 * a Blob. Each namespace is read from one IndexedDB snapshot; expired entries are left out.
 * @param {import('./index.js').Store} store
 * @param {string[]} [namespaces]
 * @returns {Promise<Blob>}
 */
export async function exportDump(store, namespaces = []) {
  const { db, now, accessTo } = store._dumpAccess();
  if (!Array.isArray(namespaces)) throw new TypeError('namespaces is an array of namespace names');
  let chosen;
  if (namespaces.length === 0) {
    chosen = (await store._call(() => storedNamespaces(db))).filter((ns) => accessTo(ns) !== 'none');
  } else {
    chosen = [...new Set(namespaces)];
    // The component checks each name and the store's access (StorageError otherwise).
    for (const namespace of chosen) if (namespace !== store.namespace) await store.bucket(namespace);
  }
  chosen.sort((a, b) => compareBytes(encoder.encode(a), encoder.encode(b)));
  const exportedAt = Math.floor(now());
  const parts = [];
  const line = (text) => parts.push(encoder.encode(`${text}\n`));
  line(JSON.stringify({ format: DUMP_FORMAT, version: DUMP_VERSION, exported_at_ms: exportedAt, generator: GENERATOR, namespaces: chosen }));
  const counted = [];
  let total = 0;
  for (const namespace of chosen) {
    // Queued behind the store's earlier calls, so the snapshot includes its own writes.
    const { entries } = await store._call(() => readNamespace(db, namespace));
    const at = now(); // after the snapshot: nothing expired before it is exported
    const ns = { ns: namespace, entries: 0, usage_bytes: 0 };
    const nsJson = JSON.stringify(namespace);
    for (const entry of entries) {
      if (entry.expiresAtMs !== undefined && entry.expiresAtMs <= at) continue;
      let key;
      try {
        key = strictUtf8.decode(entry.key);
      } catch {
        throw new DumpError('corrupt', `namespace \`${namespace}\` is inconsistent in the store: a key is not UTF-8`, { namespace });
      }
      const expiry = entry.expiresAtMs === undefined ? '' : `,"expires_at_ms":${entry.expiresAtMs}`;
      line(`{"ns":${nsJson},"key":${JSON.stringify(key)},"value":"${toBase64(entry.value)}"${expiry}}`);
      ns.entries++;
      ns.usage_bytes += entry.key.length + entry.value.length;
    }
    total += ns.entries;
    counted.push(ns);
  }
  const body = await new Blob(parts).arrayBuffer();
  const trailer = { trailer: true, entries: total, bytes: body.byteLength, namespaces: counted, sha256: await sha256Hex(body) };
  return new Blob([body, `${JSON.stringify(trailer)}\n`], { type: 'application/jsonl' });
}

// ---------------------------------------------------------------------------------------------
// Reading and checking a dump

const isU64 = (v) => Number.isInteger(v) && v >= 0;

/** Refuses any field of `object` not in `fields`, and a missing one of `required`. */
function checkFields(object, fields, required, line, what) {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) throw invalid(line, `${what} is not a JSON object`);
  for (const field of Object.keys(object)) {
    if (!fields.includes(field)) throw invalid(line, `${what}: unknown field \`${field}\``);
  }
  for (const field of required) {
    if (!(field in object)) throw invalid(line, `${what}: missing field \`${field}\``);
  }
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseHeader(text) {
  const notADump = () => invalid(1, `this is not a Zero Storage dump: its first line does not name the format \`${DUMP_FORMAT}\``);
  const header = parseJson(text);
  if (header === null || typeof header !== 'object' || header.format !== DUMP_FORMAT) throw notADump();
  if (!('version' in header)) throw invalid(1, 'the header has no `version`');
  if (header.version !== DUMP_VERSION) {
    throw new DumpError(
      'unsupported-version',
      `line 1 of the dump: the dump is in format version ${JSON.stringify(header.version)}, but this page reads version ${DUMP_VERSION} only`,
      { line: 1, found: header.version },
    );
  }
  const fields = ['format', 'version', 'exported_at_ms', 'generator', 'namespaces'];
  checkFields(header, fields, fields, 1, 'the header is not valid');
  if (!isU64(header.exported_at_ms)) throw invalid(1, 'the header is not valid: `exported_at_ms` is not a whole number of milliseconds');
  if (typeof header.generator !== 'string') throw invalid(1, 'the header is not valid: `generator` is not a string');
  if (!Array.isArray(header.namespaces) || !header.namespaces.every((ns) => typeof ns === 'string')) {
    throw invalid(1, 'the header is not valid: `namespaces` is not an array of strings');
  }
  const seen = new Set();
  for (const ns of header.namespaces) {
    if (seen.has(ns)) throw invalid(1, `the header lists namespace \`${ns}\` twice`);
    seen.add(ns);
  }
  return header;
}

function parseTrailer(text, line) {
  const trailer = parseJson(text);
  const looksLikeRecord = trailer && typeof trailer === 'object' && 'ns' in trailer && 'key' in trailer && !('trailer' in trailer);
  if (looksLikeRecord) {
    throw invalid(line, 'the dump is truncated after this line: it ends with a record, not with the trailer line that closes every dump');
  }
  if (trailer === undefined) throw invalid(line, 'the last line is not a valid trailer (is the dump truncated?)');
  const fields = ['trailer', 'entries', 'bytes', 'namespaces', 'sha256'];
  checkFields(trailer, fields, fields, line, 'the last line is not a valid trailer (is the dump truncated?)');
  if (trailer.trailer !== true) throw invalid(line, 'the last line is not a trailer: its `trailer` is not true');
  const nsOk = Array.isArray(trailer.namespaces) && trailer.namespaces.every((ns) => {
    checkFields(ns, ['ns', 'entries', 'usage_bytes'], ['ns', 'entries', 'usage_bytes'], line, 'the trailer lists a namespace that is not valid');
    return typeof ns.ns === 'string' && isU64(ns.entries) && isU64(ns.usage_bytes);
  });
  if (!isU64(trailer.entries) || !isU64(trailer.bytes) || !nsOk || typeof trailer.sha256 !== 'string') {
    throw invalid(line, 'the last line is not a valid trailer: a field has the wrong type');
  }
  return trailer;
}

/**
 * Reads and checks a whole dump (bytes): header, every record (namespace listed and in order,
 * key 1 to 256 bytes and strictly ascending, value canonical base64 of at most 1 MiB, expiry),
 * and the trailer (counts, size, SHA-256). The first problem throws, naming its line.
 * @param {Uint8Array} bytes
 */
export async function checkDump(bytes) {
  const lines = [];
  let start = 0;
  while (start < bytes.length) {
    const end = bytes.indexOf(0x0a, start);
    const number = lines.length + 1;
    if (end === -1) {
      if (bytes.length - start >= MAX_LINE_BYTES) throw invalid(number, `the line is longer than ${MAX_LINE_BYTES} bytes; no dump line is that long`);
      throw invalid(number, 'the dump ends inside this line, before its newline: it is truncated');
    }
    if (end - start >= MAX_LINE_BYTES) throw invalid(number, `the line is longer than ${MAX_LINE_BYTES} bytes; no dump line is that long`);
    lines.push([start, end]);
    start = end + 1;
  }
  const text = (i) => {
    try {
      return strictUtf8.decode(bytes.subarray(lines[i][0], lines[i][1]));
    } catch {
      throw invalid(i + 1, 'the line is not valid UTF-8');
    }
  };
  if (lines.length === 0) throw invalid(1, 'the dump is empty; a dump starts with a header line');
  const header = parseHeader(text(0));
  if (lines.length === 1) throw invalid(2, 'the dump ends after its header: it is truncated (every dump ends with a trailer line)');
  const index = new Map(header.namespaces.map((ns, i) => [ns, i]));
  const placements = header.namespaces.map(() => ({ records: [], usageBytes: 0, lines: [0, 0] }));
  let current = 0;
  let lastKey;
  const last = lines.length - 1;
  for (let i = 1; i < last; i++) {
    const number = i + 1;
    const record = parseJson(text(i));
    if (record === undefined) throw invalid(number, 'not a valid record: not JSON');
    checkFields(record, ['ns', 'key', 'value', 'expires_at_ms'], ['ns', 'key', 'value'], number, 'not a valid record');
    if (typeof record.ns !== 'string' || typeof record.key !== 'string' || typeof record.value !== 'string') {
      throw invalid(number, 'not a valid record: `ns`, `key` and `value` are strings');
    }
    const nsIndex = index.get(record.ns);
    if (nsIndex === undefined) throw invalid(number, `namespace \`${record.ns}\` is not listed in the header`);
    if (nsIndex < current) {
      throw invalid(number, `a record of \`${record.ns}\` after records of \`${header.namespaces[current]}\`: a dump holds each namespace's records together, in the header's order`);
    }
    if (nsIndex > current) {
      current = nsIndex;
      lastKey = undefined;
    }
    const key = encoder.encode(record.key);
    if (key.length === 0 || key.length > MAX_KEY_BYTES) throw invalid(number, `the key is ${key.length} bytes long; keys are 1 to ${MAX_KEY_BYTES}`);
    if (lastKey && compareBytes(lastKey, key) >= 0) {
      throw invalid(number, `key \`${record.key}\` is repeated or out of order (it follows \`${strictUtf8.decode(lastKey)}\`): a namespace's keys are in strictly ascending byte order`);
    }
    if (record.value.length > MAX_VALUE_BASE64) throw invalid(number, `the value is longer than ${MAX_VALUE_BYTES} bytes`);
    const value = fromBase64(record.value);
    if (!value) throw invalid(number, 'the value is not valid base64 (standard, padded)');
    if (value.length > MAX_VALUE_BYTES) throw invalid(number, `the value is longer than ${MAX_VALUE_BYTES} bytes`);
    const expires = record.expires_at_ms ?? undefined;
    if (expires !== undefined && !isU64(expires)) throw invalid(number, '`expires_at_ms` is not a whole number of milliseconds');
    if (expires === 0) throw invalid(number, '`expires_at_ms` is 0; an entry that never expires has no `expires_at_ms`');
    const placement = placements[nsIndex];
    if (placement.records.length === 0) placement.lines[0] = number;
    placement.lines[1] = number;
    placement.records.push({ key: record.key, keyBytes: key, value, expiresAtMs: expires, line: number });
    placement.usageBytes += key.length + value.length;
    lastKey = key;
  }
  const number = last + 1;
  const trailer = parseTrailer(text(last), number);
  const records = last - 1;
  if (trailer.entries !== records) {
    throw invalid(number, `the trailer counts ${trailer.entries} records but the dump holds ${records}: records were lost or added`);
  }
  if (trailer.namespaces.length !== header.namespaces.length || trailer.namespaces.some((ns, i) => ns.ns !== header.namespaces[i])) {
    throw invalid(number, "the trailer does not list the header's namespaces in the header's order");
  }
  trailer.namespaces.forEach((ns, i) => {
    const placed = placements[i];
    if (ns.entries !== placed.records.length || ns.usage_bytes !== placed.usageBytes) {
      throw invalid(number, `the trailer says \`${ns.ns}\` has ${ns.entries} entries of ${ns.usage_bytes} bytes, but the dump holds ${placed.records.length} of ${placed.usageBytes} bytes`);
    }
  });
  const before = lines[last][0];
  if (trailer.bytes !== before) throw invalid(number, `the trailer counts ${trailer.bytes} bytes before it, but there are ${before}`);
  const sha256 = await sha256Hex(bytes.subarray(0, before));
  if (trailer.sha256 !== sha256) {
    throw invalid(number, `the checksum does not match: the lines before the trailer hash to sha256 ${sha256}, the trailer says ${trailer.sha256}; the dump was damaged or changed after it was written`);
  }
  return { header, trailer, placements, size: bytes.length };
}

// ---------------------------------------------------------------------------------------------
// Import

const MODES = ['only-empty', 'replace', 'merge'];

/**
 * Restores a dump (a Blob, a File, an ArrayBuffer or bytes) into the store's database,
 * checked whole before anything is written (see DUMP.md, "Import"; "In the browser").
 * @param {import('./index.js').Store} store
 * @param {Blob | ArrayBuffer | Uint8Array} source
 * @param {{ mode?: 'only-empty' | 'replace' | 'merge', dryRun?: boolean }} [options]
 */
export async function importDump(store, source, { mode = 'only-empty', dryRun = false } = {}) {
  if (!MODES.includes(mode)) throw new TypeError(`mode is one of ${MODES.join(', ')}`);
  const { db, now } = store._dumpAccess();
  const bytes = source instanceof Blob ? new Uint8Array(await source.arrayBuffer())
    : source instanceof ArrayBuffer ? new Uint8Array(source)
    : source instanceof Uint8Array ? source
    : undefined;
  if (!bytes) throw new TypeError('a dump is a Blob, a File, an ArrayBuffer or a Uint8Array');
  const { header, placements } = await checkDump(bytes);

  // The store: access and names (asked of the component), emptiness, quotas. Nothing written.
  const checkedAt = now();
  const plans = [];
  for (const [i, namespace] of header.namespaces.entries()) {
    let bucket = store;
    try {
      if (namespace !== store.namespace) bucket = await store.bucket(namespace);
    } catch (e) {
      if (e.code === 'invalid-argument') throw invalid(1, `the header lists a bad namespace: ${e.detail ?? e.message}`);
      if (e.code === 'permission-denied') {
        throw new DumpError('permission-denied', `this store may not open namespace \`${namespace}\`: import with a store opened with { system: true }`, { namespace });
      }
      throw e;
    }
    const { entries } = await store._call(() => readNamespace(db, namespace, { values: false }));
    const existing = new Map();
    let existingUsage = 0;
    for (const entry of entries) {
      if (entry.expiresAtMs !== undefined && entry.expiresAtMs <= checkedAt) continue;
      const size = entry.key.length + entry.valueLen;
      existing.set(strictUtf8.decode(entry.key), size);
      existingUsage += size;
    }
    if (mode === 'only-empty' && existing.size > 0) {
      throw new DumpError('not-empty', `namespace \`${namespace}\` already holds data; import in replace mode to clear it first, or in merge mode to keep its entries and let the dump's win`, { namespace });
    }
    const placement = placements[i];
    const plan = { namespace, bucket, placement, liveEntries: 0, liveUsage: 0, expired: 0, overlapEntries: 0, overlapUsage: 0, grows: false };
    for (const record of placement.records) {
      if (record.expiresAtMs !== undefined && record.expiresAtMs <= checkedAt) {
        plan.expired++;
        continue;
      }
      const size = record.keyBytes.length + record.value.length;
      const old = existing.get(record.key);
      plan.liveEntries++;
      plan.liveUsage += size;
      if (old !== undefined) {
        plan.overlapEntries++;
        plan.overlapUsage += old;
      }
      if (old === undefined || size > old) plan.grows = true;
    }
    const after = mode === 'merge' ? existingUsage - plan.overlapUsage + plan.liveUsage : plan.liveUsage;
    const grows = mode === 'merge' ? plan.grows : plan.liveEntries > 0;
    const { quotaBytes } = await bucket.quota();
    if (grows && after > quotaBytes) {
      throw new DumpError(
        'over-quota',
        `namespace \`${namespace}\` would use ${after} bytes after the import (its records are lines ${placement.lines[0]} to ${placement.lines[1]}), over its quota of ${quotaBytes} bytes; raise its quota (quotas.namespaces in open's options) or import into it in replace mode`,
        { namespace, needed: after, quota: quotaBytes, lines: placement.lines },
      );
    }
    plan.action = existing.size === 0 ? { action: 'filled' }
      : mode === 'replace' ? { action: 'replaced', removed: existing.size }
      : { action: 'merged', existing: existing.size, overwritten: plan.overlapEntries };
    plans.push(plan);
  }

  const summary = { namespaces: [], entries: 0, usageBytes: 0, expired: 0, mode, dryRun };
  const add = (namespace, entries, usageBytes, expired, action) => {
    summary.namespaces.push({ namespace, entries, usageBytes, expired, ...action });
    summary.entries += entries;
    summary.usageBytes += usageBytes;
    summary.expired += expired;
  };
  if (dryRun) {
    for (const plan of plans) add(plan.namespace, plan.liveEntries, plan.liveUsage, plan.expired, plan.action);
    return summary;
  }

  // Writing, through the component.
  let written = 0;
  const failed = (namespace, e) => new DumpError(
    'store',
    written === 0 ? `namespace \`${namespace}\`: ${e.message}`
      : `namespace \`${namespace}\`: ${e.message} (after ${written} entries of the import were written; the import is not atomic as a whole: run it again in replace mode to start over)`,
    { namespace, written, cause: e },
  );
  for (const plan of plans) {
    const { namespace, bucket } = plan;
    let action = plan.action;
    let entries = 0;
    let usageBytes = 0;
    let expired = 0;
    try {
      if (mode === 'replace') {
        await store.sweep(namespace);
        let removed = 0;
        let cursor;
        do {
          const page = await bucket.list('', { limit: MAX_PAGE_SIZE, cursor });
          if (page.keys.length > 0) removed += await bucket.deleteMany(page.keys);
          cursor = page.cursor;
        } while (cursor !== undefined);
        action = removed === 0 ? { action: 'filled' } : { action: 'replaced', removed };
      }
      // Merging into data: first what does not raise usage, then the rest (DUMP.md, "Writing").
      const sweeps = action.action === 'merged' ? ['not-growing', 'growing'] : ['all'];
      for (const sweep of sweeps) {
        let batch = [];
        let batchBytes = 0;
        const flush = async () => {
          if (batch.length === 0) return;
          const at = now();
          const sizes = sweep === 'all' ? undefined
            : (await store._call(() => readMetas(db, namespace, batch.map((r) => r.keyBytes))))
              .map((meta, j) => (meta && !(meta.expiresAtMs !== undefined && meta.expiresAtMs <= at) ? batch[j].keyBytes.length + meta.valueLen : undefined));
          const writes = [];
          let bytes = 0;
          batch.forEach((record, j) => {
            const size = record.keyBytes.length + record.value.length;
            if (sizes && (sizes[j] !== undefined && size <= sizes[j]) !== (sweep === 'not-growing')) return;
            let ttl = 0;
            if (record.expiresAtMs !== undefined) {
              if (record.expiresAtMs <= at) {
                if (sweep !== 'not-growing') expired++;
                return;
              }
              // Whole seconds, rounded up: never 0 (which would mean "never expires").
              ttl = Math.min(Math.ceil((record.expiresAtMs - at) / 1000), Number.MAX_SAFE_INTEGER);
            }
            bytes += size;
            writes.push({ set: record.key, value: record.value, ttl });
          });
          if (writes.length > 0) {
            await bucket.transact({ writes });
            written += writes.length;
            entries += writes.length;
            usageBytes += bytes;
          }
          batch = [];
          batchBytes = 0;
        };
        for (const record of plan.placement.records) {
          const cost = record.value.length + 5 * record.keyBytes.length + 64;
          if (batch.length > 0 && (batch.length >= MAX_BATCH_KEYS || batchBytes + cost > BATCH_BYTES)) await flush();
          batch.push(record);
          batchBytes += cost;
        }
        await flush();
      }
    } catch (e) {
      if (e instanceof DumpError) throw e;
      throw failed(namespace, e);
    }
    add(namespace, entries, usageBytes, expired, action);
  }
  return summary;
}
