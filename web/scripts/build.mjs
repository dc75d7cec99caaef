// Builds the storage component exactly as the host does, then transpiles it with jco for the
// browser: `web/dist/component/` holds the JS glue, the core wasm modules, `build.json` (the
// sha256 of the component it was made from) and `wit.js` (what `src/` needs to know of the WIT:
// the interface names and the error cases, read from `wit/` so they are never copied by hand).
//
// The backend's `read` and `commit` are synchronous in WIT but IndexedDB is asynchronous, so
// jco's JSPI mode wraps those two imports in `WebAssembly.Suspending`, and every export that
// may reach them in `WebAssembly.promising`.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = dirname(dirname(fileURLToPath(import.meta.url)));
const workspace = dirname(web);
const out = join(web, 'dist', 'component');

/** The component the host embeds (see `host/build.rs`): same command, same target directory. */
export const COMPONENT_WASM = join(workspace, 'target', 'wasm', 'wasm32-wasip2', 'release', 'zero_storage_component.wasm');

/** Runs a command, inheriting stdio, and exits if it fails. */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`build: \`${command} ${args.join(' ')}\` failed with status ${result.status}`);
    process.exit(1);
  }
}

/**
 * The functions of one WIT interface, as jco names them for `--async-exports`:
 * `NAME` for a free function, `[method]RESOURCE.NAME` for a method.
 */
export function witFunctions(witFile) {
  const names = [];
  let resource = null;
  for (const line of readFileSync(witFile, 'utf8').split('\n')) {
    const opened = line.match(/^\s*resource\s+([a-z][a-z0-9-]*)\s*\{/);
    if (opened) resource = opened[1];
    else if (resource && /^\s*\}/.test(line)) resource = null;
    const func = line.match(/^\s*%?([a-z][a-z0-9-]*)\s*:\s*func\(/);
    if (func) names.push(resource ? `[method]${resource}.${func[1]}` : func[1]);
  }
  return names;
}

/** The package `world.wit` declares, e.g. `{ name: 'zero:storage', version: '0.1.0' }`. */
export function witPackage(worldFile) {
  const declared = readFileSync(worldFile, 'utf8').match(/^\s*package\s+([a-z][a-z0-9-]*:[a-z][a-z0-9-]*)@([0-9A-Za-z.+-]+)\s*;/m);
  if (!declared) throw new Error(`build: no \`package NAMESPACE:NAME@VERSION;\` in ${worldFile}`);
  return { name: declared[1], version: declared[2] };
}

/** The case names of the WIT variant `variant` in `witFile`, in order (`not-found`, …). */
export function witVariantCases(witFile, variant) {
  const text = readFileSync(witFile, 'utf8').replace(/\/\/.*$/gm, '');
  const body = text.match(new RegExp(`\\bvariant\\s+${variant}\\s*\\{([^}]*)\\}`))?.[1];
  if (body === undefined) throw new Error(`build: no \`variant ${variant}\` in ${witFile}`);
  // Cases are separated by the commas outside a payload's `(…)` and `<…>`.
  const cases = [''];
  let depth = 0;
  for (const c of body) {
    if (c === '(' || c === '<') depth++;
    if (c === ')' || c === '>') depth--;
    if (c === ',' && depth === 0) cases.push('');
    else cases[cases.length - 1] += c;
  }
  return cases.map((c) => c.trim()).filter(Boolean).map((c) => {
    const name = c.match(/^%?([a-z][a-z0-9-]*)\s*(\(|$)/)?.[1];
    if (!name) throw new Error(`build: cannot read the case \`${c}\` of \`variant ${variant}\` in ${witFile}`);
    return name;
  });
}

function buildComponent() {
  const env = { ...process.env };
  for (const name of ['RUSTFLAGS', 'CARGO_ENCODED_RUSTFLAGS', 'CARGO_TARGET_DIR', 'CARGO_BUILD_TARGET']) delete env[name];
  run('cargo', ['build', '--release', '--target', 'wasm32-wasip2', '--package', 'zero-storage-component', '--target-dir', 'target/wasm'], { cwd: workspace, env });
}

function transpile() {
  const wit = join(workspace, 'wit');
  const pkg = witPackage(join(wit, 'world.wit'));
  const iface = (name) => `${pkg.name}/${name}@${pkg.version}`;
  const asyncImports = [`${iface('backend')}#read`, `${iface('backend')}#get`, `${iface('backend')}#commit`];
  const asyncExports = [
    ...witFunctions(join(wit, 'store.wit')).map((f) => `${iface('store')}#${f}`),
    ...witFunctions(join(wit, 'admin.wit')).map((f) => `${iface('admin')}#${f}`),
  ];
  rmSync(out, { recursive: true, force: true });
  const jco = join(web, 'node_modules', '@bytecodealliance', 'jco', 'dist', 'jco.js');
  run(process.execPath, [
    jco, 'transpile', COMPONENT_WASM, '--out-dir', out, '--quiet',
    '--instantiation', 'async', '--async-mode', 'jspi',
    '--async-imports', ...asyncImports,
    '--async-exports', ...asyncExports,
  ]);
  const bytes = readFileSync(COMPONENT_WASM);
  const build = {
    component: 'target/wasm/wasm32-wasip2/release/zero_storage_component.wasm',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    asyncImports,
    asyncExports,
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'build.json'), JSON.stringify(build, null, 2) + '\n');
  writeFileSync(join(out, 'wit.js'), [
    '// Generated by web/scripts/build.mjs from wit/; do not edit.',
    '',
    '/** The `store` interface, as the component exports it. */',
    `export const STORE = ${JSON.stringify(iface('store'))};`,
    '/** The `admin` interface, as the component exports it. */',
    `export const ADMIN = ${JSON.stringify(iface('admin'))};`,
    '/** Every case of the WIT `error` variant (wit/types.wit), in order. */',
    `export const ERROR_CODES = Object.freeze(${JSON.stringify(witVariantCases(join(wit, 'types.wit'), 'error'))});`,
    '',
  ].join('\n'));
  console.log(`build: transpiled ${build.component} (${build.bytes} bytes, sha256 ${build.sha256}) into web/dist/component/`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildComponent();
  transpile();
}
