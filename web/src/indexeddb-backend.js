// The `zero:storage/backend` contract (wit/backend.wit) on IndexedDB.
//
// One database holds every namespace, in two object stores:
// - `entries`: key `[namespace, key bytes]`, value `{ value: Uint8Array, version: bigint }`.
//   IndexedDB orders binary keys by unsigned byte, shorter first on a common prefix, which is
//   the contract's order (string keys would sort by UTF-16 code unit, which is not). Array keys
//   compare element by element, so each namespace is one contiguous, ordered range.
// - `counters`: `last-version`, the last version any commit stamped (one counter for every
//   namespace, like the `fs` backend).
//
// `read` answers all its queries in one `readonly` transaction, which IndexedDB runs on one
// snapshot. `commit` checks its conditions and applies its mutations in one `readwrite`
// transaction. Readwrite transactions over the same object stores never overlap, across tabs
// too, so commits are linearizable. Nothing inside a transaction waits on anything but
// IndexedDB requests, or the transaction would commit early.
//
// Both calls resolve to `{ tag: 'ok', val }` or `{ tag: 'err', val: message }`, the shape jco
// lowers to the WIT `result`. Messages name only IndexedDB's error kind, never data or paths.

const ENTRIES = 'entries';
const COUNTERS = 'counters';
const LAST_VERSION = 'last-version';

/**
 * Opens (creating if needed) the IndexedDB database `name` and returns a backend over it.
 *
 * @param {string} [name] The database name; one database holds every namespace.
 * @param {{ durability?: 'strict' | 'relaxed' | 'default' }} [options] The durability of
 *   commits: `strict` (the default) acknowledges a commit only once it is flushed to disk.
 * @returns {Promise<IndexedDbBackend>}
 */
export async function openIndexedDbBackend(name = 'zero-storage', options = {}) {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(ENTRIES);
      request.result.createObjectStore(COUNTERS);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(new Error(`IndexedDB: cannot open database ${name}: ${request.error?.name}`));
    request.onblocked = () => reject(new Error(`IndexedDB: database ${name} is blocked by another tab's upgrade`));
  });
  return new IndexedDbBackend(db, options.durability ?? 'strict');
}

/** A `zero:storage/backend` implementation over one IndexedDB database. */
export class IndexedDbBackend {
  /** @param {IDBDatabase} db @param {'strict' | 'relaxed' | 'default'} durability */
  constructor(db, durability) {
    this.db = db;
    this.durability = durability;
  }

  /**
   * Answers `queries` in `namespace` from one snapshot (`backend.read`).
   *
   * @param {string} namespace
   * @param {Array<{ tag: 'get', val: Uint8Array } | { tag: 'scan', val: { start: Uint8Array, end: Uint8Array, limit: number, keysOnly: boolean } }>} queries
   * @returns {Promise<{ tag: 'ok', val: Array<object> } | { tag: 'err', val: string }>}
   */
  read(namespace, queries) {
    return this.#transact([ENTRIES], 'readonly', (tx, done) => {
      const entries = tx.objectStore(ENTRIES);
      const answers = new Array(queries.length);
      let pending = 0;
      const settle = () => { if (--pending === 0) done(answers); };
      queries.forEach((query, i) => {
        if (query.tag === 'get') {
          pending++;
          const request = entries.get([namespace, query.val]);
          request.onsuccess = () => {
            const record = request.result;
            answers[i] = { tag: 'got', val: record && { value: record.value, version: record.version } };
            settle();
          };
        } else {
          const { start, end, limit, keysOnly } = query.val;
          // IndexedDB reads a limit of 0 as "no limit", and refuses an empty range.
          if (limit === 0 || compareBytes(start, end) >= 0) {
            answers[i] = { tag: 'scanned', val: new Uint8Array(0) };
            return;
          }
          pending += 2;
          const range = IDBKeyRange.bound([namespace, start], [namespace, end], false, true);
          let keys, records;
          const join = () => {
            if (keys && records) {
              answers[i] = {
                tag: 'scanned',
                val: packEntries(keys.map((key, j) => ({
                  key: new Uint8Array(key[1]),
                  value: keysOnly ? new Uint8Array(0) : records[j].value,
                  version: records[j].version,
                }))),
              };
            }
          };
          // Two requests over one range in one transaction see the same snapshot.
          const keysRequest = entries.getAllKeys(range, limit);
          keysRequest.onsuccess = () => { keys = keysRequest.result; join(); settle(); };
          const recordsRequest = entries.getAll(range, limit);
          recordsRequest.onsuccess = () => { records = recordsRequest.result; join(); settle(); };
        }
      });
      if (pending === 0) done(answers);
    });
  }

  /**
   * The entry under `key` in `namespace`, or undefined (`backend.get`).
   *
   * @param {string} namespace
   * @param {Uint8Array} key
   * @returns {Promise<{ tag: 'ok', val: { value: Uint8Array, version: bigint } | undefined } | { tag: 'err', val: string }>}
   */
  get(namespace, key) {
    return this.#transact([ENTRIES], 'readonly', (tx, done) => {
      const request = tx.objectStore(ENTRIES).get([namespace, key]);
      request.onsuccess = () => {
        const record = request.result;
        done(record && { value: record.value, version: record.version });
      };
    });
  }

  /**
   * Applies `mutations` in `namespace` if every condition holds, atomically (`backend.commit`).
   *
   * @param {string} namespace
   * @param {Array<{ key: Uint8Array, version?: bigint }>} conditions
   * @param {Array<{ tag: 'put', val: [Uint8Array, Uint8Array] } | { tag: 'delete', val: Uint8Array }>} mutations
   * @returns {Promise<{ tag: 'ok', val: { tag: 'committed', val: bigint } | { tag: 'conflict', val: number } } | { tag: 'err', val: string }>}
   */
  commit(namespace, conditions, mutations) {
    return this.#transact([ENTRIES, COUNTERS], 'readwrite', (tx, done) => {
      const entries = tx.objectStore(ENTRIES);
      const counters = tx.objectStore(COUNTERS);
      const found = new Array(conditions.length);
      let pending = conditions.length + 1;
      let last = 0n;
      const checkAndApply = () => {
        for (let i = 0; i < conditions.length; i++) {
          const expected = conditions[i].version;
          const actual = found[i]?.version;
          if (expected === undefined ? actual !== undefined : actual !== expected) {
            done({ tag: 'conflict', val: i }); // nothing written: the transaction commits empty
            return;
          }
        }
        const version = last + 1n;
        counters.put(version, LAST_VERSION);
        for (const mutation of mutations) {
          if (mutation.tag === 'put') {
            const [key, value] = mutation.val;
            entries.put({ value: ownBytes(value), version }, [namespace, key]);
          } else {
            entries.delete([namespace, mutation.val]);
          }
        }
        done({ tag: 'committed', val: version });
      };
      const settle = () => { if (--pending === 0) checkAndApply(); };
      const counter = counters.get(LAST_VERSION);
      counter.onsuccess = () => { last = counter.result ?? 0n; settle(); };
      conditions.forEach((condition, i) => {
        const request = entries.get([namespace, condition.key]);
        request.onsuccess = () => { found[i] = request.result; settle(); };
      });
    });
  }

  /** Closes the database connection; later calls fail with a backend error. */
  close() {
    this.db.close();
  }

  /**
   * Runs `body` in one transaction and resolves once the transaction has completed (so a
   * commit is acknowledged only when IndexedDB has committed it) with the value `body` passed
   * to `done`, or with an error message if the transaction failed.
   */
  #transact(stores, mode, body) {
    return new Promise((resolve) => {
      let result;
      let failure;
      let tx;
      try {
        tx = this.db.transaction(stores, mode, { durability: this.durability });
      } catch (e) {
        resolve({ tag: 'err', val: `IndexedDB transaction could not start (${e?.name ?? 'error'})` });
        return;
      }
      tx.oncomplete = () => resolve({ tag: 'ok', val: result });
      tx.onabort = () => resolve({ tag: 'err', val: `IndexedDB transaction failed (${tx.error?.name ?? failure ?? 'aborted'})` });
      try {
        body(tx, (value) => { result = value; });
      } catch (e) {
        failure = e?.name ?? 'error';
        tx.abort();
      }
    });
  }
}

/** Compares byte strings as unsigned bytes, shorter first on a common prefix. */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/**
 * `bytes` as a Uint8Array that owns its whole buffer, so storing it clones only its own bytes
 * (a view's structured clone would copy the entire underlying buffer).
 */
function ownBytes(bytes) {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

/**
 * Packs a scan's entries into the one buffer the WIT `scanned` answer carries: for each entry,
 * its key's length (u32, little-endian), the key, its value's length (u32 LE), the value and its
 * version (u64 LE).
 *
 * @param {Array<{ key: Uint8Array, value: Uint8Array, version: bigint }>} entries
 * @returns {Uint8Array}
 */
export function packEntries(entries) {
  const size = entries.reduce((sum, { key, value }) => sum + 16 + key.length + value.length, 0);
  const packed = new Uint8Array(size);
  const view = new DataView(packed.buffer);
  let at = 0;
  for (const { key, value, version } of entries) {
    for (const part of [key, value]) {
      view.setUint32(at, part.length, true);
      packed.set(part, at + 4);
      at += 4 + part.length;
    }
    view.setBigUint64(at, BigInt(version), true);
    at += 8;
  }
  return packed;
}
