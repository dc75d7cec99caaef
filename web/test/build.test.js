// The page runs the very component the Rust host embeds: same build command, same bytes.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMPONENT_WASM } from '../scripts/build.mjs';

const web = dirname(dirname(fileURLToPath(import.meta.url)));
const host = process.env.ZERO_STORAGE_BIN ?? join(dirname(web), 'target', 'release', 'zero-storage');
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const build = JSON.parse(readFileSync(join(web, 'dist', 'component', 'build.json'), 'utf8'));

test('the transpiled component was made from the component cargo built', () => {
  assert.equal(build.sha256, sha256(readFileSync(COMPONENT_WASM)));
});

test('the transpiled component is byte-identical to the one the host embeds', () => {
  // Like tests/cli.rs, (re)build the host binary so the comparison is never against a stale one:
  // a no-op after `cargo test --release`, a full wasmtime build on a fresh clone.
  if (!process.env.ZERO_STORAGE_BIN) {
    execFileSync(process.env.CARGO ?? 'cargo', ['build', '--quiet', '--release', '-p', 'zero-storage', '--bin', 'zero-storage'], {
      cwd: dirname(web),
      stdio: 'inherit',
    });
  }
  assert.ok(existsSync(host), `no host binary at ${host}`);
  const dir = mkdtempSync(join(tmpdir(), 'zero-storage-component-'));
  try {
    execFileSync(host, ['component', '--backend', 'memory', '-o', join(dir, 'embedded.wasm')]);
    assert.equal(sha256(readFileSync(join(dir, 'embedded.wasm'))), build.sha256, `${host} embeds a different component (rebuild it)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every store and admin function may suspend on the backend', () => {
  // A function missing here would trap the first time IndexedDB made it wait.
  for (const f of ['get', 'set', 'delete', 'list', 'quota', 'transact', 'open', '[method]bucket.transact', '[method]bucket.list']) {
    assert.ok(build.asyncExports.includes(`zero:storage/store@0.1.0#${f}`), f);
  }
  assert.ok(build.asyncExports.includes('zero:storage/admin@0.1.0#sweep'));
  // store: 13 free functions and 13 bucket methods; admin: sweep.
  assert.equal(build.asyncExports.length, 27);
});
