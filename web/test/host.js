// Shared by the tests that compare the page with the Rust host: the host binary, built the way
// `cargo test --release` builds it (or `$ZERO_STORAGE_BIN`).

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const workspace = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/**
 * The path of the `zero-storage` binary. Like tests/cli.rs, (re)builds it first so a test never
 * compares with a stale one: a no-op after `cargo test --release`, a full wasmtime build on a
 * fresh clone.
 * @returns {string}
 */
export function hostBinary() {
  if (process.env.ZERO_STORAGE_BIN) return process.env.ZERO_STORAGE_BIN;
  execFileSync(process.env.CARGO ?? 'cargo', ['build', '--quiet', '--release', '-p', 'zero-storage', '--bin', 'zero-storage'], {
    cwd: workspace,
    stdio: 'inherit',
  });
  const binary = join(workspace, 'target', 'release', 'zero-storage');
  if (!existsSync(binary)) throw new Error(`no host binary at ${binary}`);
  return binary;
}
