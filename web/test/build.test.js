// The page runs the very component the Rust host embeds (same build command, same bytes), and
// what the build reads from wit/ is what jco made of the component.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMPONENT_WASM } from '../scripts/build.mjs';
import { hostBinary } from './host.js';

const web = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(web, 'dist', 'component');
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const build = JSON.parse(readFileSync(join(out, 'build.json'), 'utf8'));
/** The TypeScript declarations jco wrote for one interface of the component. */
const typings = (name) => readFileSync(join(out, 'interfaces', `${name}.d.ts`), 'utf8');
/** `get-versioned` → `getVersioned`, as jco names WIT functions in JS. */
const camel = (name) => name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
/** `KeyRange` → `key-range`: a WIT resource's name from its JS class. */
const kebab = (name) => name.replace(/(?<!^)[A-Z]/g, (c) => `-${c}`).toLowerCase();

test('the transpiled component was made from the component cargo built', () => {
  assert.equal(build.sha256, sha256(readFileSync(COMPONENT_WASM)));
});

test('the transpiled component is byte-identical to the one the host embeds', () => {
  const host = hostBinary();
  const dir = mkdtempSync(join(tmpdir(), 'zero-storage-component-'));
  try {
    execFileSync(host, ['component', '--backend', 'memory', '-o', join(dir, 'embedded.wasm')]);
    assert.equal(sha256(readFileSync(join(dir, 'embedded.wasm'))), build.sha256, `${host} embeds a different component (rebuild it)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every function the component exports from store and admin may suspend on the backend', async () => {
  // A function missing here would trap the first time IndexedDB made it wait. jco's typings
  // list what the component really exports, independently of the build's reading of wit/.
  const { ADMIN, STORE } = await import('../dist/component/wit.js');
  const exported = [];
  for (const [iface, name] of [[STORE, 'zero-storage-store'], [ADMIN, 'zero-storage-admin']]) {
    let resource = null;
    for (const line of typings(name).split('\n')) {
      const opened = line.match(/^export class (\w+) \{/);
      if (opened) resource = opened[1];
      else if (resource && line === '}') resource = null;
      const func = resource ? line.match(/^ {2}'?(\w+)'?\(/) : line.match(/^export function (\w+)\(|^export \{ \w+ as (\w+) \};/);
      if (func) exported.push(`${iface}#${resource ? `[method]${kebab(resource)}.` : ''}${func[1] ?? func[2]}`);
    }
  }
  const asyncExports = build.asyncExports.map((f) => f.replace(/[^#.]+$/, camel));
  assert.ok(exported.length > 20, `read the typings (${exported.length} functions)`);
  assert.deepEqual([...asyncExports].sort(), [...exported].sort());
});

test('the error codes are the cases jco lifts the WIT error variant to', async () => {
  const { ERROR_CODES } = await import('../dist/component/wit.js');
  const tags = [...typings('zero-storage-types').matchAll(/^export interface Error\w+ \{\n {2}tag: '([a-z-]+)',/gm)].map((m) => m[1]);
  assert.deepEqual(ERROR_CODES, tags);
  assert.ok(ERROR_CODES.includes('not-found') && ERROR_CODES.includes('precondition-failed'));
});
