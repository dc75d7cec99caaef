// The demo: two apps and one user in this page, each a store over the same IndexedDB database.
// The page is the host here, so it decides the identities and the quotas (small ones, so the
// bars move).

import { open } from '../src/index.js';

const KIB = 1024;
const quotas = { app: 64 * KIB, user: 256 * KIB, namespaces: { 'app:todo': 16 * KIB } };

const stores = {
  notes: await open('notes', { user: 'alice', quotas }),
  todo: await open('todo', { quotas }),
};
const alice = await stores.notes.bucket('user:alice');
/** Every namespace the demo shows, by name. */
const namespaces = { 'app:notes': stores.notes, 'app:todo': stores.todo, 'user:alice': alice };

const $ = (selector) => document.querySelector(selector);
const app = $('#app');
for (const name of Object.keys(namespaces)) app.add(new Option(name, name));

/** Fills an empty database with a few entries on the first visit. */
async function seed() {
  if ((await stores.notes.list('', { limit: 1 })).keys.length > 0) return;
  await stores.notes.setMany([
    ['note/2024-05-01', 'Buy oat milk and coffee'],
    ['note/2024-05-02', 'Call the plumber about the kitchen sink'],
    ['note/2024-05-03', 'x'.repeat(20 * KIB)],
    ['draft', 'Zero Storage runs in this tab on IndexedDB'],
  ]);
  await stores.todo.setMany([['1', 'water the plants'], ['2', 'x'.repeat(12 * KIB)], ['3', 'renew passport']]);
  await alice.set('profile', JSON.stringify({ name: 'Alice', theme: 'dark', bio: 'y'.repeat(40 * KIB) }));
}

function status(text, isError = false) {
  $('#status').textContent = text;
  $('#status').className = isError ? 'error' : '';
}

/** A byte count for people: B, KiB, MiB or GiB. */
function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let unit = 0;
  while (n >= KIB && unit < units.length - 1) { n /= KIB; unit++; }
  return unit === 0 ? `${n} B` : `${n.toFixed(1)} ${units[unit]}`;
}

async function showEntries() {
  const store = namespaces[app.value];
  const { keys } = await store.list('', { limit: 20 });
  const values = await store.getMany(keys);
  $('#entries tbody').replaceChildren(...keys.map((key, i) => {
    const row = document.createElement('tr');
    row.innerHTML = '<td><code></code></td><td class="num"></td>';
    row.querySelector('code').textContent = key;
    row.cells[1].textContent = bytes(values[i]?.length ?? 0);
    return row;
  }));
}

async function showQuotas() {
  const rows = [];
  for (const store of Object.values(namespaces)) {
    const q = await store.quota();
    const percent = (100 * q.usedBytes) / q.quotaBytes;
    const row = document.createElement('tr');
    row.dataset.namespace = q.namespace;
    row.innerHTML = '<td><code></code></td><td class="num"></td><td class="num"></td><td class="num"></td><td><div class="bar"><span></span></div></td>';
    row.querySelector('code').textContent = q.namespace;
    row.cells[1].textContent = bytes(q.usedBytes);
    row.cells[2].textContent = bytes(q.quotaBytes);
    row.cells[3].textContent = `${percent.toFixed(1)} %`;
    row.querySelector('.bar span').style.width = `${Math.min(100, percent)}%`;
    row.querySelector('.bar').classList.toggle('high', percent >= 75);
    rows.push(row);
  }
  $('#quotas tbody').replaceChildren(...rows);
  const { usage = 0, quota = 0 } = (await navigator.storage?.estimate?.()) ?? {};
  $('#estimate').textContent =
    `navigator.storage.estimate(): this origin uses ${bytes(usage)} of the ${bytes(quota)} the browser allows; ` +
    'the quotas above are Zero Storage\'s own, per namespace.';
}

async function refresh() {
  await Promise.all([showEntries(), showQuotas()]);
}

/** Runs an action, redraws, then reports its result or its StorageError code. */
async function act(action) {
  let message;
  let failed = false;
  try {
    message = await action();
  } catch (e) {
    message = e.code ? `${e.code}${e.detail ? `: ${e.detail}` : ''}` : String(e);
    failed = true;
  }
  await refresh();
  status(message, failed);
}

$('#entry').addEventListener('submit', (event) => {
  event.preventDefault();
  act(async () => {
    await namespaces[app.value].set($('#key').value, $('#value').value, { ttl: Number($('#ttl').value) });
    return `set ${$('#key').value}`;
  });
});
$('#get').addEventListener('click', () => act(async () => {
  const value = await namespaces[app.value].getText($('#key').value);
  return value === undefined ? `${$('#key').value}: not found` : `${$('#key').value} = ${value.slice(0, 80)}`;
}));
$('#delete').addEventListener('click', () => act(async () =>
  (await namespaces[app.value].delete($('#key').value)) ? `deleted ${$('#key').value}` : `${$('#key').value}: not found`));
app.addEventListener('change', () => refresh());

await seed();
await refresh();
document.body.dataset.ready = 'true';
