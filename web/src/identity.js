// The `zero:storage/identity` import for a web page: the page is the host, so it says which app
// it runs, and which user (if any) it runs for. Mirrors the host's policy
// (host/src/identity.rs) and default quotas (host/src/config.rs).

const MIB = 1024 * 1024;

/** The host's default quotas in bytes, per kind of namespace. */
export const DEFAULT_QUOTAS = Object.freeze({ system: MIB, app: 10 * MIB, user: 100 * MIB });

/**
 * Throws unless `name` is a valid app or user name: 1 to 64 characters from `a-z A-Z 0-9 . _ -`,
 * not starting with `.` (the component's `check_name`).
 */
export function checkName(name, what = 'name') {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new TypeError(`${what} ${JSON.stringify(name)} is not valid: use 1 to 64 characters from a-z A-Z 0-9 . _ - (not starting with .)`);
  }
}

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
 * `quotaBytes` and `nowMs`.
 *
 * @param {string} app The app's name; its namespace is `app:NAME`.
 * @param {IdentityOptions} [options]
 */
export function appIdentity(app, options = {}) {
  checkName(app, 'app name');
  if (options.user !== undefined) checkName(options.user, 'user name');
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
