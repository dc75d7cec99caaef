// Shared by the browser tests: headless Chromium from the system (never a downloaded one), a
// fresh profile per launch, and web/ served on 127.0.0.1.

import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from '../scripts/serve.mjs';

/** Where Chromium is: `$CHROMIUM`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Where tests leave screenshots (gitignored). */
export const ARTIFACTS = join(dirname(dirname(fileURLToPath(import.meta.url))), 'test-artifacts');

/**
 * Starts the server and a headless Chromium with a fresh profile (or `options.profile`, kept on
 * close), serving on `options.port` if given (IndexedDB belongs to an origin, port included).
 * Fails, never skips, if Chromium is missing.
 * @param {{ profile?: string, port?: number }} [options]
 * @returns {Promise<{ url: string, context: import('playwright-core').BrowserContext, page: (path?: string) => Promise<import('playwright-core').Page>, close: () => Promise<void> }>}
 */
export async function launch(options = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = options.profile ?? mkdtempSync(join(tmpdir(), 'zero-storage-chromium-'));
  const server = await serve(options.port);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  let closed = false;
  context.on('weberror', (error) => errors.push(error.error()));
  return {
    url: server.url,
    context,
    errors,
    /** Opens `path` (default: the test harness) in a new tab and waits until it is ready. */
    async page(path = '/test/harness.html') {
      const page = await context.newPage();
      page.on('console', (message) => { if (message.type() === 'error') console.error(`[page] ${message.text()}`); });
      await page.goto(server.url + path);
      if (path === '/test/harness.html') await page.waitForFunction(() => document.title === 'ready');
      return page;
    },
    /** Closes the browser and the server; calling it again does nothing. */
    async close() {
      if (closed) return;
      closed = true;
      await context.close();
      await server.close();
      if (!options.profile) rmSync(profile, { recursive: true, force: true });
    },
  };
}
