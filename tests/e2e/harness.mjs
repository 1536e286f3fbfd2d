// Shared by the review page's browser tests (tests/e2e/*.mjs): inputs, playwright-core
// loading, Chromium launch, polling expectations, axe-core audits, steps, screenshots and the
// failure report. Every expectation that does not come true throws `Expectation`; `run`
// prints one line per step and exits 1 with the reason of the first failure.
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const workspace = path.resolve(here, '..', '..');

/** `--name=` from argv, else `$envName`, else `fallback`. */
export function arg(name, envName, fallback) {
  const flag = process.argv.slice(2).find((a) => a.startsWith('--' + name + '='));
  if (flag) { return flag.slice(name.length + 3); }
  if (process.env[envName]) { return process.env[envName]; }
  return fallback;
}

export function fail(label, message) {
  console.error(label + ' FAILED: ' + message);
  process.exit(1);
}

// Upper bound for one expectation to come true (the page is local; generous for a busy machine).
export const WAIT_MS = Number(process.env.HITL_E2E_WAIT_MS || 20000);

export function loadPlaywright(label) {
  const attempts = [createRequire(import.meta.url), createRequire(path.join(workspace, '.tools', 'package.json'))];
  for (const req of attempts) {
    try { return req('playwright-core'); } catch (_) { /* next */ }
  }
  return fail(label, 'cannot load playwright-core (looked in NODE_PATH and ' + path.join(workspace, '.tools', 'node_modules') +
    '): install it with scripts/setup-test-tools.sh');
}

export class Expectation extends Error {}

export function expect(condition, message) {
  if (!condition) { throw new Expectation(message); }
}

/** Polls `probe` until it returns a truthy value (returned) or `timeout` ms pass (throws). */
export async function until(what, probe, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) { return last; }
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) {
      throw new Expectation('timed out after ' + timeout + ' ms waiting for ' + what + (last ? ' (last seen: ' + JSON.stringify(last) + ')' : ''));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Does `action` (a click or a select that reloads the review queue) and waits until the page
 * has shown the result: the page marks the queue `aria-busy` from the moment a load starts
 * until the newest load is rendered, so a response that arrived but is not on screen yet is
 * never read.
 */
export async function reloadQueue(page, action) {
  await action();
  await page.waitForSelector('#queue[aria-busy="false"]', { state: 'attached', timeout: WAIT_MS });
}

export const text = async (page, selector) => ((await page.locator(selector).first().textContent()) || '').trim();

export async function visible(page, selector, what) {
  try {
    await page.locator(selector).first().waitFor({ state: 'visible', timeout: WAIT_MS });
  } catch (_) {
    throw new Expectation(what + ' is not visible (' + selector + ')');
  }
}

export async function hidden(page, selector, what) {
  try {
    await page.locator(selector).first().waitFor({ state: 'hidden', timeout: WAIT_MS });
  } catch (_) {
    throw new Expectation(what + ' should be hidden (' + selector + ')');
  }
}

export async function textMatches(page, selector, pattern, what) {
  return until(what + ' to match ' + pattern, async () => {
    const t = await text(page, selector);
    return pattern.test(t) ? t : false;
  });
}

export function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
let axeSource = null;

/**
 * Runs axe-core's WCAG 2.1 A/AA rules on `page` (loading axe into it once); any violation or
 * "incomplete" (a rule axe could not decide) fails with the nodes named.
 */
export async function axeAudit(page, name) {
  axeSource = axeSource || readFileSync(path.join(workspace, '.tools', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) { await page.evaluate(axeSource); }
  const r = await page.evaluate(async (tags) => {
    const res = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations', 'incomplete'] });
    const brief = (list) => list.map((v) => v.id + ' (' + v.nodes.map((n) => n.target.join(' ')).join(', ') + ')');
    return { violations: brief(res.violations), incomplete: brief(res.incomplete), passes: res.passes.length };
  }, AXE_TAGS);
  expect(r.violations.length === 0, name + ': axe violations: ' + r.violations.join(' ; '));
  expect(r.incomplete.length === 0, name + ': axe incomplete: ' + r.incomplete.join(' ; '));
  return name + ': axe 0 violations, 0 incomplete (' + r.passes + ' rules passed)';
}

/**
 * One browser test run: `steps(ctx)` calls `ctx.step(name, body)` for each step. Records
 * page errors, console errors and HTTP errors of every page passed to `ctx.watch`, saves
 * screenshots with `ctx.shot` and prints `<label> passed: N steps` at the end.
 */
export async function run(label, artifacts, steps) {
  mkdirSync(artifacts, { recursive: true });
  const ctx = {
    browser: null,
    pages: [],
    lines: [],
    shots: [],
    pageErrors: [],
    consoleErrors: [],
    httpErrors: [],
    current: 'launch',
    async launch(chromium) {
      const executablePath = process.env.HITL_CHROMIUM || '/usr/bin/chromium';
      ctx.browser = await chromium.launch({
        executablePath,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
        timeout: 60000,
      });
      return executablePath + ' ' + ctx.browser.version();
    },
    watch(page, tab) {
      ctx.pages.push([tab, page]);
      page.on('pageerror', (err) => ctx.pageErrors.push(tab + ': ' + err.message));
      page.on('console', (msg) => { if (msg.type() === 'error') { ctx.consoleErrors.push(tab + ': ' + msg.text() + ' [' + msg.location().url + ']'); } });
      page.on('response', (r) => {
        if (r.status() >= 400) { ctx.httpErrors.push(tab + ': ' + r.status() + ' ' + r.request().method() + ' ' + new URL(r.url()).pathname); }
      });
      if (process.env.HITL_E2E_DEBUG) {
        page.on('requestfinished', (r) => console.log('  [' + tab + '] ' + r.method() + ' ' + r.url() + ' ' + Math.round(r.timing().responseEnd) + ' ms'));
      }
    },
    async shot(page, name) {
      await page.screenshot({ path: path.join(artifacts, name), fullPage: true });
      ctx.shots.push(name);
      return name;
    },
    async step(name, body) {
      ctx.current = name;
      const started = Date.now();
      const note = await body();
      const line = 'step ' + (ctx.lines.length + 1) + ' ok: ' + name + (note ? ' — ' + note : '') + ' (' + (Date.now() - started) + ' ms)';
      ctx.lines.push(line);
      console.log(line);
    },
  };
  try {
    await steps(ctx);
  } catch (err) {
    const reason = err instanceof Expectation ? err.message : (err && err.stack) || String(err);
    console.error(label + ' FAILED at step ' + (ctx.lines.length + 1) + ' (' + ctx.current + '): ' + reason);
    for (const [tab, p] of ctx.pages) {
      if (p && !p.isClosed()) {
        const file = path.join(artifacts, 'failure-' + tab.replace(/\W+/g, '-') + '.png');
        try { await p.screenshot({ path: file, fullPage: true }); console.error('  screenshot: ' + file); } catch (_) { /* browser gone */ }
      }
    }
    if (ctx.pageErrors.length) { console.error('  page errors: ' + ctx.pageErrors.join(' | ')); }
    if (ctx.consoleErrors.length) { console.error('  console errors: ' + ctx.consoleErrors.join(' | ')); }
    if (ctx.httpErrors.length) { console.error('  HTTP errors: ' + ctx.httpErrors.join(' | ')); }
    process.exitCode = 1;
  } finally {
    if (ctx.browser) { await ctx.browser.close().catch(() => {}); }
  }
  if (!process.exitCode) {
    console.log(label + ' passed: ' + ctx.lines.length + ' steps; screenshots in ' + artifacts + ': ' + ctx.shots.join(', '));
  }
}
