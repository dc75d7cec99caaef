// The page is its own host: src/identity.js decides quotas, and must decide them as the Rust
// host does (host/src/config.rs). These tests ask the host binary, so a change on either side
// that is not made on the other fails here. (Names are not compared: the page asks the
// component, which holds the only copy of the namespace grammar.)

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { appIdentity, DEFAULT_QUOTAS } from '../src/identity.js';
import { hostBinary } from './host.js';

let host;
before(() => {
  host = hostBinary();
});
const NAMESPACES = ['system', 'app:x', 'user:x', 'app:big', 'user:big'];

/** The quota the host gives `namespace`, run with `config` (TOML) or none. */
function hostQuota(namespace, config) {
  const dir = mkdtempSync(join(tmpdir(), 'zero-storage-config-'));
  try {
    const args = ['quota', '--json', '--backend', 'memory', '--ns', namespace];
    if (config !== undefined) {
      writeFileSync(join(dir, 'config.toml'), config);
      args.push('--config', join(dir, 'config.toml'));
    }
    const [row] = JSON.parse(execFileSync(host, args, { cwd: dir, encoding: 'utf8' }));
    return row.quota_bytes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The quota the page gives `namespace` (as a system store, which may open every namespace). */
const pageQuota = (namespace, quotas) => Number(appIdentity('x', { system: true, quotas }).quotaBytes(namespace));

test('the default quotas are the host defaults', () => {
  assert.deepEqual(
    { system: hostQuota('system'), app: hostQuota('app:x'), user: hostQuota('user:x') },
    { ...DEFAULT_QUOTAS },
  );
  for (const namespace of NAMESPACES) assert.equal(pageQuota(namespace), hostQuota(namespace), namespace);
});

test('configured quotas apply per kind of namespace and per namespace as on the host', () => {
  const quotas = { system: 11, app: 22, user: 33, namespaces: { 'app:big': 99, 'user:big': 98 } };
  const toml = `[quotas]\nsystem = 11\napp = 22\nuser = 33\n[quotas.namespaces]\n"app:big" = 99\n"user:big" = 98\n`;
  for (const namespace of NAMESPACES) assert.equal(pageQuota(namespace, quotas), hostQuota(namespace, toml), namespace);
  // One kind configured: the others keep their defaults, on both sides.
  for (const namespace of NAMESPACES) assert.equal(pageQuota(namespace, { app: 5 }), hostQuota(namespace, '[quotas]\napp = 5\n'), namespace);
});
