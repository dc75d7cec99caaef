// Zero Storage in the browser: the storage component (the very `.wasm` the Rust host embeds),
// transpiled by jco, over an IndexedDB backend.
//
// A call such as `store.set('k', 'v')` goes: this module → the component's `store.set` export
// (wrapped in `WebAssembly.promising`) → the storage logic in wasm → the `backend.read`, `get` and
// `commit` imports (wrapped in `WebAssembly.Suspending`): the wasm stack is suspended
// while IndexedDB works, and resumed with the answer.
//
// One component instance cannot be re-entered while one of its calls is suspended, so each
// store runs its calls one at a time, in the order they were made (a promise queue). Stores
// opened separately (other apps, other tabs) are separate instances and run concurrently;
// IndexedDB's transactions and the component's conditional commits keep them consistent.

import * as cli from '@bytecodealliance/preview2-shim/cli';
import * as io from '@bytecodealliance/preview2-shim/io';
import * as random from '@bytecodealliance/preview2-shim/random';
import { ADMIN, ERROR_CODES, STORE } from '../dist/component/wit.js';
import { instantiate } from '../dist/component/zero_storage_component.js';
import { appIdentity } from './identity.js';
import { openIndexedDbBackend } from './indexeddb-backend.js';
import { exportDump, importDump } from './dump.js';

export { DEFAULT_QUOTAS } from './identity.js';
export { openIndexedDbBackend, IndexedDbBackend } from './indexeddb-backend.js';
export { DumpError, DUMP_FORMAT, DUMP_VERSION, checkDump, decodeMeta, readNamespace } from './dump.js';

/**
 * Every `code` a {@link StorageError} can have: the cases of the WIT `error` variant, read
 * from `wit/types.wit` when the package is built.
 */
export { ERROR_CODES };

/**
 * A storage operation failed; nothing changed. `code` is the WIT error case (`quota-exceeded`,
 * `key-too-long`, …); `detail` is the text of `invalid-argument` and `backend-error`; `index` is
 * the failed precondition's position for `precondition-failed`.
 */
export class StorageError extends Error {
  /** @param {{ tag: string, val?: string | number }} error The WIT error value. */
  constructor(error) {
    const detail = typeof error.val === 'string' ? error.val : undefined;
    super(detail ? `${error.tag}: ${detail}` : error.val !== undefined ? `${error.tag} (${error.val})` : error.tag);
    this.name = 'StorageError';
    /** @type {string} */
    this.code = error.tag;
    /** @type {string | undefined} */
    this.detail = detail;
    /** @type {number | undefined} */
    this.index = typeof error.val === 'number' ? error.val : undefined;
  }
}

/**
 * @typedef {object} OpenOptions
 * @property {string} [user] Run for this user: the store may also open `user:USER`.
 * @property {boolean} [system] A system process: owns `system` and may open every namespace.
 * @property {{ system?: number, app?: number, user?: number, namespaces?: Record<string, number> }} [quotas]
 *   Quotas in bytes, per kind of namespace and per namespace (defaults: {@link DEFAULT_QUOTAS},
 *   the Rust host's).
 * @property {() => number} [now] The clock, in ms since the Unix epoch (default `Date.now`).
 * @property {string} [database] The IndexedDB database name (default `zero-storage`).
 * @property {'strict' | 'relaxed' | 'default'} [durability] IndexedDB commit durability
 *   (default `strict`: a write is acknowledged once it is on disk).
 */

/**
 * Opens the storage of the app `app` (namespace `app:NAME`) in this page. Fails with a
 * `TypeError`, before any database is opened, if the app name, the user name or a namespace in
 * `quotas.namespaces` is not valid (the component's rule; its message says what is valid).
 *
 * @param {string} app The app's name, the NAME of a namespace (see `open` in `wit/store.wit`).
 * @param {OpenOptions} [options]
 * @returns {Promise<Store>}
 */
export async function open(app, options = {}) {
  const identity = appIdentity(app, options);
  /** Opened once the component has accepted the names; nothing reaches it before. */
  let backend;
  const exports = await instantiate(compileCore, {
    'wasi:cli/environment': cli.environment,
    'wasi:cli/exit': cli.exit,
    'wasi:cli/stdin': cli.stdin,
    'wasi:cli/stdout': cli.stdout,
    'wasi:cli/stderr': cli.stderr,
    'wasi:cli/terminal-input': cli.terminalInput,
    'wasi:cli/terminal-output': cli.terminalOutput,
    'wasi:cli/terminal-stdin': cli.terminalStdin,
    'wasi:cli/terminal-stdout': cli.terminalStdout,
    'wasi:cli/terminal-stderr': cli.terminalStderr,
    'wasi:io/error': io.error,
    'wasi:io/poll': io.poll,
    'wasi:io/streams': io.streams,
    'wasi:random/insecure-seed': random.insecureSeed,
    'zero:storage/backend': {
      read: (namespace, queries) => backend.read(namespace, queries),
      get: (namespace, key) => backend.get(namespace, key),
      commit: (namespace, conditions, mutations) => backend.commit(namespace, conditions, mutations),
    },
    'zero:storage/identity': identity,
    'zero:storage/types': {},
  });
  await checkNames(exports[STORE], [
    ['app name', `app:${app}`],
    ...(options.user === undefined ? [] : [['user name', `user:${options.user}`]]),
    ...Object.keys(options.quotas?.namespaces ?? {}).map((namespace) => ['quotas.namespaces', namespace]),
  ]);
  backend = await openIndexedDbBackend(options.database, { durability: options.durability });
  return new Store(exports, backend, identity);
}

/**
 * Throws a `TypeError` for the first `[what, namespace]` the component finds malformed. The
 * namespace grammar lives in the component (component/src/namespace.rs), so the page asks it:
 * `store.open` checks the name before anything else and reads no data. A name it refuses only
 * for access (`permission-denied`) is well-formed.
 */
async function checkNames(store, names) {
  for (const [what, namespace] of names) {
    try {
      const bucket = await store.open(namespace);
      bucket[Symbol.dispose ?? Symbol.for('dispose')]?.();
    } catch (e) {
      if (e?.payload?.tag === 'invalid-argument') throw new TypeError(`${what}: ${e.payload.val}`);
      if (e?.payload?.tag !== 'permission-denied') throw e;
    }
  }
}

/** Compiled core modules, shared by every store in the page. */
const compiled = new Map();

function compileCore(name) {
  if (!compiled.has(name)) {
    const url = new URL(`../dist/component/${name}`, import.meta.url);
    compiled.set(name, WebAssembly.compileStreaming(fetch(url)));
  }
  return compiled.get(name);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A string as UTF-8, or bytes as they are. */
function toBytes(value) {
  if (typeof value === 'string') return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return new Uint8Array(value.buffer ?? value, value.byteOffset ?? 0, value.byteLength);
  throw new TypeError('a value is a string, a Uint8Array or an ArrayBuffer');
}

/** Seconds as the WIT `u64`; refuses what is not a whole number ≥ 0. */
function toTtl(ttl = 0) {
  if (typeof ttl === 'bigint') return ttl;
  if (!Number.isSafeInteger(ttl) || ttl < 0) throw new TypeError('ttl is a whole number of seconds, 0 for none');
  return BigInt(ttl);
}

/** A friendly precondition → the WIT `precondition`. */
function toPrecondition(p) {
  if ('absent' in p) return { tag: 'absent', val: p.absent };
  if ('exists' in p) return { tag: 'exists', val: p.exists };
  if ('version' in p) return { tag: 'version-is', val: [p.key, BigInt(p.version)] };
  if ('value' in p) return { tag: 'value-equals', val: [p.key, toBytes(p.value)] };
  throw new TypeError('a precondition is { absent: key }, { exists: key }, { key, version } or { key, value }');
}

/** A friendly write → the WIT `write`. */
function toWrite(w) {
  if ('set' in w) return { tag: 'set', val: { key: w.set, value: toBytes(w.value), ttlSecs: toTtl(w.ttl) } };
  if ('delete' in w) return { tag: 'delete', val: w.delete };
  throw new TypeError('a write is { set: key, value, ttl? } or { delete: key }');
}

/** Awaits `call()`, turning a WIT error it throws (jco throws the `error` value as `payload`) into a {@link StorageError}. */
async function withStorageErrors(call) {
  try {
    return await call();
  } catch (e) {
    if (e && typeof e.payload?.tag === 'string' && ERROR_CODES.includes(e.payload.tag)) throw new StorageError(e.payload);
    throw e;
  }
}

/** Resolves like `promise`, but to `undefined` where it fails with `not-found`. */
async function notFoundAsUndefined(promise) {
  try {
    return await promise;
  } catch (e) {
    if (e instanceof StorageError && e.code === 'not-found') return undefined;
    throw e;
  }
}

/**
 * The operations of one namespace, over a component export (the free functions of `store`, or
 * a `bucket`). Every call is queued on the store's instance.
 */
class Namespace {
  #call;
  #target;

  /** @param {(fn: () => any) => Promise<any>} call @param {object} target @param {string} name */
  constructor(call, target, name) {
    this.#call = call;
    this.#target = target;
    /** The namespace, e.g. `app:notes`. */
    this.namespace = name;
  }

  /** Calls the export `method`, turning a WIT error into a {@link StorageError}. */
  _invoke(method, ...args) {
    return this.#call(() => withStorageErrors(() => this.#target[method](...args)));
  }

  /**
   * The value under `key`, or `undefined` if there is no live entry.
   * @param {string} key @returns {Promise<Uint8Array | undefined>}
   */
  get(key) {
    return notFoundAsUndefined(this._invoke('get', key));
  }

  /**
   * The value under `key` decoded as UTF-8, or `undefined` if there is no live entry.
   * @param {string} key @returns {Promise<string | undefined>}
   */
  async getText(key) {
    const bytes = await this.get(key);
    return bytes === undefined ? undefined : decoder.decode(bytes);
  }

  /**
   * Stores `value` (a string is stored as UTF-8) under `key`. With `ttl` seconds > 0 the entry
   * expires then. Fails with `quota-exceeded`, `key-too-long`, `value-too-large` or
   * `invalid-argument`, and then nothing changed.
   * @param {string} key @param {string | Uint8Array | ArrayBuffer} value @param {{ ttl?: number }} [options]
   * @returns {Promise<void>}
   */
  set(key, value, options = {}) {
    return this._invoke('set', key, toBytes(value), toTtl(options.ttl));
  }

  /**
   * Removes `key`; resolves to whether a live entry existed.
   * @param {string} key @returns {Promise<boolean>}
   */
  delete(key) {
    return this._invoke('delete', key);
  }

  /**
   * Whether a live entry exists under `key`.
   * @param {string} key @returns {Promise<boolean>}
   */
  exists(key) {
    return this._invoke('exists', key);
  }

  /**
   * One page of the live keys starting with `prefix`, in ascending byte order. `limit` is the
   * page size: 0 means the component's default, and a larger limit than it allows is clamped
   * (`list` in `wit/store.wit`). Pass the returned `cursor` to get the next page; `cursor` is
   * absent on the last page.
   * @param {string} [prefix] @param {{ limit?: number, cursor?: string }} [options]
   * @returns {Promise<{ keys: string[], cursor?: string }>}
   */
  async list(prefix = '', options = {}) {
    const page = await this._invoke('list', prefix, options.limit ?? 0, options.cursor);
    return page.nextCursor === undefined ? { keys: page.keys } : { keys: page.keys, cursor: page.nextCursor };
  }

  /**
   * Every live key starting with `prefix`, page by page.
   * @param {string} [prefix] @returns {AsyncGenerator<string>}
   */
  async *keys(prefix = '') {
    let cursor;
    do {
      // The largest u32: the component clamps it to the largest page it allows.
      const page = await this.list(prefix, { limit: 2 ** 32 - 1, cursor });
      yield* page.keys;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /**
   * The namespace's usage: live key and value bytes, its quota and its live entry count.
   * @returns {Promise<{ namespace: string, usedBytes: number, quotaBytes: number, keyCount: number }>}
   */
  async quota() {
    const q = await this._invoke('quota');
    return { namespace: q.namespace, usedBytes: Number(q.usedBytes), quotaBytes: Number(q.quotaBytes), keyCount: Number(q.keyCount) };
  }

  /**
   * The value under `key` and its version (for a `{ key, version }` precondition), or
   * `undefined` if there is no live entry.
   * @param {string} key @returns {Promise<{ value: Uint8Array, version: bigint } | undefined>}
   */
  getVersioned(key) {
    return notFoundAsUndefined(this._invoke('getVersioned', key));
  }

  /**
   * The values under `keys` from one snapshot, `undefined` where there is none.
   * @param {string[]} keys @returns {Promise<Array<Uint8Array | undefined>>}
   */
  getMany(keys) {
    return this._invoke('getMany', keys);
  }

  /**
   * Stores every `[key, value]` pair, all or nothing.
   * @param {Array<[string, string | Uint8Array]>} entries @param {{ ttl?: number }} [options]
   * @returns {Promise<void>}
   */
  setMany(entries, options = {}) {
    return this._invoke('setMany', entries.map(([k, v]) => [k, toBytes(v)]), toTtl(options.ttl));
  }

  /**
   * Removes every key, all or nothing; resolves to how many live entries existed.
   * @param {string[]} keys @returns {Promise<number>}
   */
  async deleteMany(keys) {
    return Number(await this._invoke('deleteMany', keys));
  }

  /**
   * Adds `delta` to the decimal counter under `key` (missing = 0) and resolves to the new value.
   * @param {string} key @param {number | bigint} [delta] @returns {Promise<bigint>}
   */
  increment(key, delta = 1) {
    return this._invoke('increment', key, BigInt(delta));
  }

  /**
   * Applies `writes` all or nothing if every precondition holds, and resolves to the version
   * the writes were stamped with (0n if there was nothing to write). Fails with
   * `precondition-failed` (`index` names the first that did not hold) or `quota-exceeded`, and
   * then nothing changed.
   *
   * Preconditions: `{ absent: key }`, `{ exists: key }`, `{ key, version }` (compare-and-swap),
   * `{ key, value }`. Writes: `{ set: key, value, ttl? }`, `{ delete: key }`.
   *
   * @param {{ preconditions?: object[], writes: object[] }} transaction
   * @returns {Promise<bigint>}
   */
  transact({ preconditions = [], writes }) {
    return this._invoke('transact', preconditions.map(toPrecondition), writes.map(toWrite));
  }
}

/** Another namespace the store may use, from {@link Store#bucket}. */
export class Bucket extends Namespace {}

/** An app's storage in this page: its own namespace, and a way to the others it may use. */
export class Store extends Namespace {
  #exports;
  #backend;
  #identity;
  #queue = Promise.resolve();

  /** @param {object} exports @param {import('./indexeddb-backend.js').IndexedDbBackend} backend @param {ReturnType<typeof appIdentity>} identity */
  constructor(exports, backend, identity) {
    const call = (fn) => {
      const result = this.#queue.then(fn);
      this.#queue = result.catch(() => {});
      return result;
    };
    super(call, exports[STORE], identity.ownNamespace());
    this.#exports = exports;
    this.#backend = backend;
    this.#identity = identity;
    this._call = call;
  }

  /**
   * Opens `namespace` (`user:NAME` for the store's user; any namespace for a system store).
   * Fails with `permission-denied` if the store may not use it, whether or not it holds data.
   * @param {string} namespace @returns {Promise<Bucket>}
   */
  async bucket(namespace) {
    const resource = await this._invoke('open', namespace);
    return new Bucket(this._call, resource, namespace);
  }

  /**
   * Reclaims the space of expired entries in `namespace` (a namespace this store may open) and
   * resolves to how many it removed. Expired entries are already invisible and uncounted.
   * @param {string} [namespace] @returns {Promise<number>}
   */
  sweep(namespace = this.namespace) {
    const admin = this.#exports[ADMIN];
    return this._call(() => withStorageErrors(async () => Number(await admin.sweep(namespace))));
  }

  /**
   * A dump (DUMP.md, format version 1) of `namespaces`, or of every namespace this store may
   * open that holds data: a Blob, the same bytes `zero-storage import` reads. Each namespace is
   * read from one IndexedDB snapshot; expired entries are left out. Fails with a
   * `StorageError` for a namespace the store may not open.
   * @param {string[]} [namespaces] @returns {Promise<Blob>}
   */
  exportDump(namespaces) {
    return exportDump(this, namespaces);
  }

  /**
   * Restores a dump (a Blob or File, e.g. from `zero-storage export`), checked whole before
   * anything is written: a `DumpError` (`code`, and `line` for a bad dump) refuses it and
   * nothing changed. Then its entries are written through the component in transactions of at
   * most 1,000 keys, each with the time left until its expiry. `mode`: `only-empty` (the
   * default: a namespace that holds data refuses the import), `replace` or `merge` (the dump's
   * entries win). `dryRun` checks and reports without writing.
   * @param {Blob | ArrayBuffer | Uint8Array} dump
   * @param {{ mode?: 'only-empty' | 'replace' | 'merge', dryRun?: boolean }} [options]
   * @returns {Promise<{ namespaces: Array<{ namespace: string, entries: number, usageBytes: number, expired: number, action: 'filled' | 'replaced' | 'merged', removed?: number, existing?: number, overwritten?: number }>, entries: number, usageBytes: number, expired: number, mode: string, dryRun: boolean }>}
   */
  importDump(dump, options) {
    return importDump(this, dump, options);
  }

  /** For src/dump.js: the database, the store's clock and its access policy. @internal */
  _dumpAccess() {
    return { db: this.#backend.db, now: () => Number(this.#identity.nowMs()), accessTo: this.#identity.accessTo };
  }

  /** Closes the store's IndexedDB connection once its queued calls are done. */
  async close() {
    await this._call(() => this.#backend.close());
  }
}
