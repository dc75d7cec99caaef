// The `zero:storage/identity` import for a web page: the page is the host, so it says which app
// it runs, and which user (if any) it runs for. The policy is the Rust host's
// (host/src/identity.rs), and so are the default quotas (host/src/config.rs):
// test/identity.test.js asks the host binary and fails if they differ. Whether a name is valid
// is not decided here but by the component itself (see `open` in index.js).

const MIB = 1024 * 1024;

/** The host's default quotas in bytes, per kind of namespace. */
export const DEFAULT_QUOTAS = Object.freeze({ system: MIB, app: 10 * MIB, user: 100 * MIB });

/**
 * @typedef {object} IdentityOptions
 * @property {string} [user] Run for this user, which grants `user:USER` as well.
 * @property {boolean} [system] A system process: owns `system` and may use every namespace.
 * @property {{ system?: number, app?: number, user?: number, namespaces?: Record<string, number> }} [quotas]
 *   Quotas in bytes: defaults per kind of namespace, and overrides for single namespaces.
 * @property {() => number} [now] The clock in milliseconds since the Unix epoch (`Date.now`
 *   unless given; tests drive time to live with their own).
 */

/**
 * The identity import for the app `app`, as jco expects it: `ownNamespace`, `accessTo`,
 * `quotaBytes` and `nowMs`. The component calls them with well-formed namespaces only; the
 * names `app` and `options.user` are checked by the component before the store is used.
 *
 * @param {string} app The app's name; its namespace is `app:NAME`.
 * @param {IdentityOptions} [options]
 */
export function appIdentity(app, options = {}) {
  if (typeof app !== 'string') throw new TypeError('the app name is a string');
  if (options.user !== undefined && typeof options.user !== 'string') throw new TypeError('the user name is a string');
  const own = options.system ? 'system' : `app:${app}`;
  const quotas = { ...DEFAULT_QUOTAS, ...options.quotas };
  const overrides = new Map(Object.entries(options.quotas?.namespaces ?? {}));
  const now = options.now ?? Date.now;
  return {
    ownNamespace: () => own,
    accessTo: (namespace) =>
      options.system || namespace === own || (options.user !== undefined && namespace === `user:${options.user}`)
        ? 'read-write'
        : 'none',
    quotaBytes: (namespace) => {
      const kind = namespace === 'system' ? 'system' : namespace.slice(0, namespace.indexOf(':'));
      return BigInt(overrides.get(namespace) ?? quotas[kind] ?? 0);
    },
    nowMs: () => BigInt(Math.floor(now())),
  };
}
