// Accessibility of the reviewers' web page (api/web/*) in a real headless Chromium, driven by
// playwright-core. Run by cli/tests/review_page.rs against a `hitl serve` it starts with two
// workflows at iteration 1 waiting for the reviewer whose token is given:
//
//   HITL_E2E_BASE_URL=http://127.0.0.1:8080 HITL_E2E_TOKEN=hitl_… \
//   HITL_E2E_WORKFLOW_A=wf-… HITL_E2E_WORKFLOW_B=wf-… \
//   HITL_E2E_ARTIFACTS=target/artifacts/review-page-a11y NODE_PATH=.tools/node_modules \
//   node tests/e2e/review_page_a11y.mjs
//
// Three checks, in one keyboard-only journey (only Tab, Shift+Tab, arrow keys, Enter, Space and
// typed text; the only non-keyboard navigation is opening the page and one unknown workflow URL):
//  - axe-core (pinned, from .tools/node_modules/axe-core) with the WCAG 2.1 A/AA rule set in
//    every view; any violation, and any "incomplete" result, fails;
//  - where focus is after each step, and what the live regions (#flash role=status, #alert
//    role=alert) say;
//  - reflow: no horizontal scrolling of the page (scrollWidth <= innerWidth) in every view at
//    320 px wide and at 200 % zoom of a 1280×900 window (a 640×450 CSS-px layout viewport).
// Screenshots of every view at 1280 px and 320 px go to the artifacts folder.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  arg, expect, fail as failWith, loadPlaywright, reloadQueue, run, text, textMatches, until, visible, WAIT_MS, workspace,
} from './harness.mjs';

const LABEL = 'review-page a11y';
const fail = (message) => failWith(LABEL, message);
const baseUrl = (arg('base-url', 'HITL_E2E_BASE_URL') || fail('no base URL: set HITL_E2E_BASE_URL or --base-url=')).replace(/\/+$/, '');
const token = process.env.HITL_E2E_TOKEN || fail('no reviewer token: set HITL_E2E_TOKEN');
const workflowA = arg('workflow-a', 'HITL_E2E_WORKFLOW_A') || fail('no first workflow: set HITL_E2E_WORKFLOW_A');
const workflowB = arg('workflow-b', 'HITL_E2E_WORKFLOW_B') || fail('no second workflow: set HITL_E2E_WORKFLOW_B');
const artifacts = path.resolve(arg('artifacts', 'HITL_E2E_ARTIFACTS', path.join(workspace, 'target', 'artifacts', 'review-page-a11y')));
const { chromium } = loadPlaywright(LABEL);

const axePath = path.join(workspace, '.tools', 'node_modules', 'axe-core', 'axe.min.js');
let axeSource;
try {
  axeSource = readFileSync(axePath, 'utf8');
} catch (err) {
  fail('cannot read ' + axePath + ' (' + err.code + '): install it with scripts/setup-test-tools.sh');
}
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const DESKTOP = { width: 1280, height: 900 };
// 200 % zoom of the desktop window: the layout viewport halves in CSS pixels.
const REFLOW = [['320px', { width: 320, height: 800 }], ['200% zoom', { width: 640, height: 450 }]];
const FIXED_COLOR = '#1A2B3C';
const COMMENT = 'Use the darker brand blue.';

// ---- probes ----------------------------------------------------------------------------------

/** What has focus: enough to name it in a message and to test it. */
function active(page) {
  return page.evaluate(() => {
    const el = document.activeElement || document.body;
    const describedBy = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean)
      .map((id) => (document.getElementById(id) || {}).textContent || '').join(' | ');
    let name = el.getAttribute('aria-label') || el.textContent || '';
    if (el.labels && el.labels.length) {
      // The label's own text: a wrapping label also contains the control (and its options).
      const label = el.labels[0].cloneNode(true);
      for (const control of label.querySelectorAll('select, input, textarea')) { control.remove(); }
      name = label.textContent;
    }
    return {
      id: el.id,
      tag: el.tagName.toLowerCase(),
      name: el.getAttribute('name'),
      type: el.getAttribute('type'),
      value: el.value,
      href: el.getAttribute('href'),
      accessibleName: name.replace(/\s+/g, ' ').trim(),
      invalid: el.getAttribute('aria-invalid'),
      describedBy,
      checked: el.checked,
    };
  });
}

const describeFocus = (f) => f.tag + (f.id ? '#' + f.id : '') + (f.name ? '[name=' + f.name + ']' : '') + (f.accessibleName ? ' "' + f.accessibleName.slice(0, 60) + '"' : '');

async function focusIs(page, test, what) {
  const f = await until('focus on ' + what, async () => {
    const now = await active(page);
    return test(now) ? now : false;
  }, 5000).catch(async () => {
    throw new Error('focus should be on ' + what + ', is on ' + describeFocus(await active(page)));
  });
  return describeFocus(f);
}

/** Presses Tab (or Shift+Tab) until `test(focus)` holds; returns how many presses it took. */
async function tabTo(page, test, what, { back = false, max = 40 } = {}) {
  for (let n = 1; n <= max; n++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    if (test(await active(page))) { return n; }
  }
  throw new Error('could not reach ' + what + ' with ' + max + ' presses of ' + (back ? 'Shift+Tab' : 'Tab') + '; focus is on ' + describeFocus(await active(page)));
}

async function axe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    // Evaluated through the DevTools protocol, so the page's CSP (script-src 'self') stays on.
    await page.evaluate(axeSource);
  }
  return page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations', 'incomplete'] });
    const brief = (list) => list.map((v) => v.id + ' (' + v.nodes.map((n) => n.target.join(' ') + ': ' +
      (n.failureSummary || n.any.concat(n.all, n.none).map((c) => c.message).join('; ')).replace(/\s+/g, ' ')).join(' || ') + ')');
    return { version: window.axe.version, violations: brief(r.violations), incomplete: brief(r.incomplete), passes: r.passes.length };
  }, AXE_TAGS);
}

async function overflow(page) {
  return page.evaluate(() => {
    const inner = window.innerWidth;
    const wide = Array.from(document.querySelectorAll('body *'))
      .filter((el) => el.getBoundingClientRect().right > inner + 0.5 && getComputedStyle(el).position !== 'absolute')
      .slice(0, 3).map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : ''));
    return { scroll: document.documentElement.scrollWidth, inner, wide };
  });
}

/** WCAG relative-luminance contrast of two `rgb(...)` colours. */
function contrast(a, b) {
  const lum = (c) => {
    const [r, g, bl] = c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

async function liveRegions(page) {
  return { status: await text(page, '#flash'), alert: await text(page, '#alert') };
}

// ---- the run ---------------------------------------------------------------------------------

const audited = [];
let page;
let posts = 0;

await run(LABEL, artifacts, async (ctx) => {
  const { launch, watch, shot, step, pageErrors, consoleErrors } = ctx;

  /** axe, reflow and the two screenshots of the view on screen now. */
  async function audit(view) {
    const result = await axe(page);
    expect(result.violations.length === 0, view + ': axe violations: ' + result.violations.join(' ; '));
    expect(result.incomplete.length === 0, view + ': axe could not decide (incomplete): ' + result.incomplete.join(' ; '));
    await shot(page, view + '-1280.png');
    const widths = [];
    for (const [label, size] of REFLOW) {
      await page.setViewportSize(size);
      const o = await overflow(page);
      expect(o.scroll <= o.inner, view + ' at ' + label + ': the page scrolls sideways (scrollWidth ' + o.scroll + ' > ' + o.inner + '; too wide: ' + o.wide.join(', ') + ')');
      widths.push(label + ' ' + o.scroll + '/' + o.inner);
      if (size.width === 320) { await shot(page, view + '-320.png'); }
    }
    await page.setViewportSize(DESKTOP);
    audited.push(view + ': axe ' + result.version + ' 0 violations, 0 incomplete, ' + result.passes + ' rules passed; reflow ' + widths.join(', '));
    return 'axe: 0 violations, 0 incomplete (' + result.passes + ' rules passed); reflow ' + widths.join(', ');
  }

  async function openByKeyboard(id, what) {
    const href = '#/workflows/' + encodeURIComponent(id);
    const presses = await tabTo(page, (f) => f.href === href, 'the queue link of ' + what);
    const link = await active(page);
    expect(/^Open .+, iteration \d+$/.test(link.accessibleName), 'the queue link has an accessible name with the subject: ' + JSON.stringify(link.accessibleName));
    await page.keyboard.press('Enter');
    await visible(page, '#decide', what + ': the decision form');
    const focus = await focusIs(page, (f) => f.id === 'wf-title', 'the workflow heading');
    return presses + ' Tab(s) to ' + JSON.stringify(link.accessibleName) + ', Enter → focus ' + focus;
  }

  /** Tabs to the decision radios and checks `value` with the arrow keys and Space. */
  async function chooseByKeyboard(value) {
    await tabTo(page, (f) => f.name === 'decision', 'the decision radios');
    for (let i = 0; i < 4 && (await active(page)).value !== value; i++) { await page.keyboard.press('ArrowRight'); }
    await page.keyboard.press('Space');
    return focusIs(page, (f) => f.name === 'decision' && f.value === value && f.checked, JSON.stringify(value) + ', checked');
  }

  async function submitByKeyboard(key) {
    await tabTo(page, (f) => f.id === 'submit', 'the submit button');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/feedback'), { timeout: WAIT_MS }),
      page.keyboard.press(key),
    ]);
    return response;
  }

  await step('launch Chromium', async () => {
    const version = await launch(chromium);
    const context = await ctx.browser.newContext({ viewport: DESKTOP });
    context.setDefaultTimeout(WAIT_MS);
    page = await context.newPage();
    watch(page, 'tab 1');
    page.on('request', (r) => { if (r.method() === 'POST') { posts += 1; } });
    return version;
  });

  await step('sign-in view: nothing of a signed-in user is shown', async () => {
    await page.goto(baseUrl + '/');
    await visible(page, '#sign-in', 'the sign-in form');
    expect(!(await page.isVisible('#who')), '"Signed in / Sign out" must not show while signed out');
    expect(await page.title() === 'Sign in — HITL review', 'document.title: ' + await page.title());
    return audit('01-sign-in');
  });

  await step('keyboard: a wrong token is refused, focus returns to the token field', async () => {
    await tabTo(page, (f) => f.id === 'token', 'the token field');
    await page.keyboard.type('hitl_' + '0'.repeat(64));
    await page.keyboard.press('Enter');
    const message = await textMatches(page, '#alert', /session is not valid/i, 'the refusal in the alert region');
    const focus = await focusIs(page, (f) => f.id === 'token', 'the token field');
    return 'alert ' + JSON.stringify(message) + '; focus ' + focus + '; ' + await audit('02-wrong-token');
  });

  await step('keyboard: sign in, focus on the queue heading', async () => {
    await page.keyboard.type(token);
    await page.keyboard.press('Enter');
    await visible(page, '#queue-scroll', 'the queue table');
    const focus = await focusIs(page, (f) => f.id === 'queue-title', 'the queue heading');
    expect((await liveRegions(page)).alert === '', 'the old error is cleared');
    expect(await page.title() === 'Review queue — HITL review', 'document.title: ' + await page.title());
    await until('both workflows in the queue', async () => (await page.locator('#queue-body tr').count()) === 2);
    const rowName = await page.$eval('#queue-body a', (a) => a.textContent);
    return 'focus ' + focus + '; first link reads ' + JSON.stringify(rowName) + '; ' + await audit('03-queue');
  });

  await step('keyboard: open workflow A, focus on its heading, title names it', async () => {
    const note = await openByKeyboard(workflowA, 'workflow A');
    expect(/, iteration 1 — HITL review$/.test(await page.title()), 'document.title: ' + await page.title());
    return note + '; ' + await audit('04-workflow');
  });

  await step('keyboard: request changes with an invalid correction; Enter in the value does not submit', async () => {
    const toRadio = await tabTo(page, (f) => f.name === 'decision', 'the decision radios');
    const first = await active(page);
    expect(first.value === 'approve' && !first.checked, 'Tab lands on the first radio (approve), not checked: nothing is preselected');
    await page.keyboard.press('ArrowRight');
    await focusIs(page, (f) => f.name === 'decision' && f.value === 'request_changes' && f.checked, '"Request changes", checked');
    await visible(page, '#corrections-block', 'the corrections block');
    await tabTo(page, (f) => f.id === 'add-correction', '"Add correction"');
    await page.keyboard.press('Enter');
    await focusIs(page, (f) => f.tag === 'select' && f.accessibleName === 'Correction 1: field', 'the new row\'s field (named "Correction 1: field")');
    for (let i = 0; i < 12 && (await active(page)).value !== 'colors.primary'; i++) { await page.keyboard.press('ArrowDown'); }
    expect((await active(page)).value === 'colors.primary', 'arrow keys choose colors.primary in the field list');
    await page.keyboard.press('Tab');
    await focusIs(page, (f) => f.name === 'value' && f.accessibleName === 'Correction 1: corrected value', 'the value ("Correction 1: corrected value")');
    await page.keyboard.type('blue');
    const before = posts;
    await page.keyboard.press('Enter');
    await page.waitForTimeout(500);
    expect(posts === before, 'Enter in a correction value must not submit the decision (' + (posts - before) + ' POST sent)');
    await focusIs(page, (f) => f.name === 'value' && f.value === 'blue', 'the value, still "blue"');
    const response = await submitByKeyboard('Enter');
    expect(response.status() === 400, 'the invalid correction is refused with 400, got ' + response.status());
    const focus = await focusIs(page, (f) => f.name === 'value' && f.invalid === 'true', 'the invalid value, marked aria-invalid');
    const f = await active(page);
    expect(/^Correction 1 \(colors\.primary\) must be #RRGGBB\.$/.test(f.describedBy.split(' | ')[0]), 'the value is described by a readable error: ' + JSON.stringify(f.describedBy));
    const alert = await textMatches(page, '#alert', /^Your decision was not sent: 1 problem needs fixing/, 'the alert');
    const summary = await text(page, '#field-errors-list');
    expect(summary === 'Correction 1 (colors.primary) must be #RRGGBB.', 'the problem list by the submit button: ' + JSON.stringify(summary));
    return toRadio + ' Tab(s) to the radios; alert ' + JSON.stringify(alert) + '; focus ' + focus + ' described by ' + JSON.stringify(f.describedBy) + '; ' + await audit('05-validation-error');
  });

  await step('keyboard: fix the value, add and remove a row (focus back on "Add correction"), comment, submit', async () => {
    await page.keyboard.press('Control+A');
    await page.keyboard.type(FIXED_COLOR);
    await tabTo(page, (f) => f.id === 'add-correction', '"Add correction"', { back: true });
    await page.keyboard.press('Enter');
    await focusIs(page, (f) => f.accessibleName === 'Correction 2: field', 'the second row\'s field');
    await tabTo(page, (f) => f.accessibleName === 'Remove correction 2', '"Remove correction 2"', { max: 3 });
    await page.keyboard.press('Enter');
    const afterRemove = await focusIs(page, (f) => f.id === 'add-correction', '"Add correction" after Remove');
    expect(await page.locator('#corrections li').count() === 1, 'one correction row is left');
    await tabTo(page, (f) => f.id === 'comments', 'the comments', { back: true });
    await page.keyboard.type(COMMENT);
    const response = await submitByKeyboard('Enter');
    const body = await response.json();
    expect(response.status() === 200, 'POST feedback answered ' + response.status() + ' ' + JSON.stringify(body));
    const sent = JSON.parse(response.request().postData());
    expect(JSON.stringify(sent.corrections) === JSON.stringify([{ field: 'colors.primary', value: FIXED_COLOR }]), 'sent ' + JSON.stringify(sent));
    const status = await textMatches(page, '#flash', /^Changes requested for iteration 1\./, 'the confirmation in the status region');
    const focus = await focusIs(page, (f) => f.id === 'wf-title', 'the workflow heading');
    expect(await page.getAttribute('#flash', 'role') === 'status' && await page.getAttribute('#alert', 'role') === 'alert', 'live region roles');
    return 'after Remove focus ' + afterRemove + '; status ' + JSON.stringify(status) + '; focus ' + focus;
  });

  await step('keyboard: Back to the queue, focus on its heading', async () => {
    // Focus is on the heading; "Back to the queue" is the next stop.
    const presses = await tabTo(page, (f) => f.id === 'back', '"Back to the queue"');
    await page.keyboard.press('Enter');
    const focus = await focusIs(page, (f) => f.id === 'queue-title', 'the queue heading');
    return presses + ' Tab(s), Enter → focus ' + focus;
  });

  await step('keyboard: open workflow B and approve it with Space', async () => {
    const note = await openByKeyboard(workflowB, 'workflow B');
    await chooseByKeyboard('approve');
    // Focus rings meet 3:1 (WCAG 1.4.11) on the submit button, measured against the card.
    await tabTo(page, (f) => f.id === 'submit', 'the submit button');
    const ring = await page.$eval('#submit', (el) => {
      const s = getComputedStyle(el);
      return { style: s.outlineStyle, width: s.outlineWidth, color: s.outlineColor, card: getComputedStyle(el.closest('.card')).backgroundColor, fill: s.backgroundColor };
    });
    expect(ring.style === 'solid' && parseFloat(ring.width) >= 2, 'a visible focus ring on the submit button: ' + JSON.stringify(ring));
    const ringContrast = contrast(ring.color, ring.card);
    expect(ringContrast >= 3, 'the focus ring contrasts ' + ringContrast.toFixed(2) + ':1 with the card (need 3:1)');
    const border = await page.$eval('#comments', (el) => getComputedStyle(el).borderTopColor);
    const borderContrast = contrast(border, 'rgb(255, 255, 255)');
    expect(borderContrast >= 3, 'the comment box border contrasts ' + borderContrast.toFixed(2) + ':1 (need 3:1)');
    await page.keyboard.press('Shift+Tab');
    const response = await submitByKeyboard('Space');
    expect(response.status() === 200, 'the approval answered ' + response.status());
    const status = await textMatches(page, '#flash', /^Approved iteration 1\.$/, 'the confirmation');
    const focus = await focusIs(page, (f) => f.id === 'wf-title', 'the workflow heading');
    await until('status approved', async () => {
      if (/^No decision is possible right now \(status: approved\)\.$/.test(await text(page, '#decided-note'))) { return true; }
      await page.reload();
      await visible(page, '#workflow', 'the workflow view');
      return false;
    });
    return note + '; focus ring ' + ringContrast.toFixed(2) + ':1, input border ' + borderContrast.toFixed(2) + ':1; status ' + JSON.stringify(status) + '; focus ' + focus + '; ' + await audit('06-approved');
  });

  await step('keyboard: iteration 2 of workflow A shows a diff that reads out right', async () => {
    await tabTo(page, (f) => f.id === 'back', '"Back to the queue"');
    await page.keyboard.press('Enter');
    await focusIs(page, (f) => f.id === 'queue-title', 'the queue heading');
    await until('iteration 2 of A in the queue', async () => {
      if ((await active(page)).id !== 'refresh') { await tabTo(page, (f) => f.id === 'refresh', '"Refresh"', { max: 10 }); }
      await reloadQueue(page, () => Promise.all([page.waitForResponse((r) => r.url().includes('/reviews?')), page.keyboard.press('Enter')]));
      const label = await page.$$eval('#queue-body a', (as) => as.map((a) => a.textContent).join(' | '));
      return /iteration 2/.test(label) ? label : false;
    });
    const note = await openByKeyboard(workflowA, 'workflow A, iteration 2');
    const row = await page.$$eval('#wf-artifact tr.changed', (trs) => trs.map((tr) => ({
      // What a screen reader reads, element by element: field, tag, <del>, <ins>.
      spoken: [tr.cells[0].firstChild, tr.querySelector('.tag'), tr.querySelector('del'), tr.querySelector('ins')]
        .map((n) => (n ? n.textContent.trim() : '')).filter(Boolean).join(' '),
      del: tr.querySelector('del') !== null,
      ins: tr.querySelector('ins') !== null,
      mark: getComputedStyle(tr.querySelector('td')).boxShadow,
    })).find((r) => r.spoken.startsWith('colors.primary ')));
    expect(row, 'colors.primary is marked changed');
    expect(row.del && row.ins, 'the changed row uses <del> and <ins>: ' + JSON.stringify(row));
    expect(/^colors\.primary changed Before: #[0-9A-Fa-f]{6} Now: #1A2B3C$/.test(row.spoken), 'the changed row reads out with before and now: ' + JSON.stringify(row.spoken));
    const markColor = (row.mark.match(/rgb\([^)]*\)/) || [''])[0];
    const markContrast = markColor ? contrast(markColor, 'rgb(255, 255, 255)') : 0;
    expect(markContrast >= 3, 'the changed row has a left mark of at least 3:1, got ' + JSON.stringify(row.mark));
    return note + '; reads ' + JSON.stringify(row.spoken) + '; mark ' + markContrast.toFixed(2) + ':1; ' + await audit('07-diff');
  });

  await step('keyboard: approve iteration 2; the empty queue', async () => {
    await chooseByKeyboard('approve');
    const response = await submitByKeyboard('Enter');
    expect(response.status() === 200, 'the approval answered ' + response.status());
    await textMatches(page, '#flash', /^Approved iteration 2\.$/, 'the confirmation');
    await focusIs(page, (f) => f.id === 'wf-title', 'the workflow heading');
    await tabTo(page, (f) => f.id === 'back', '"Back to the queue"');
    await page.keyboard.press('Enter');
    await focusIs(page, (f) => f.id === 'queue-title', 'the queue heading');
    await until('the empty queue', async () => {
      if (await page.isVisible('#queue-empty')) { return true; }
      if ((await active(page)).id !== 'refresh') { await tabTo(page, (f) => f.id === 'refresh', '"Refresh"', { max: 10 }); }
      await page.keyboard.press('Enter');
      return false;
    });
    expect(!(await page.isVisible('#queue-table')), 'no empty table is shown');
    return await audit('08-queue-empty');
  });

  await step('an unknown workflow: an error, no empty draft table, focus on the heading', async () => {
    await page.goto(baseUrl + '/#/workflows/wf-does-not-exist');
    await textMatches(page, '#wf-title', /^Workflow not available$/, 'the heading');
    const focus = await focusIs(page, (f) => f.id === 'wf-title', 'the heading');
    expect(!(await page.isVisible('#wf-body')), 'nothing of a workflow is shown under the error');
    const alert = await textMatches(page, '#alert', /does not exist, or you are not one of its reviewers/, 'the alert');
    expect(await page.title() === 'Workflow not available — HITL review', 'document.title: ' + await page.title());
    return 'alert ' + JSON.stringify(alert) + '; focus ' + focus + '; ' + await audit('09-not-found');
  });

  await step('keyboard: sign out; the signed-in bar is gone', async () => {
    await tabTo(page, (f) => f.id === 'sign-out', '"Sign out"', { back: true });
    await page.keyboard.press('Enter');
    const focus = await focusIs(page, (f) => f.id === 'token', 'the token field');
    expect(!(await page.isVisible('#who')), 'the signed-in bar is hidden after sign-out');
    const status = await textMatches(page, '#flash', /^You are signed out\.$/, 'the status region');
    return 'status ' + JSON.stringify(status) + '; focus ' + focus + '; ' + await audit('10-signed-out');
  });

  await step('no script errors on the page', async () => {
    expect(pageErrors.length === 0, 'uncaught page errors: ' + pageErrors.join(' | '));
    // Expected non-2xx loads: the wrong token's 401, the invalid correction's 400, the unknown
    // workflow's 404.
    const expected = [/status of 401\b.*\/reviews\?/, /status of 400\b.*\/feedback\]$/, /status of 404\b.*\/workflows\/wf-does-not-exist\]$/];
    const unexpected = consoleErrors.filter((e) => !expected.some((re) => re.test(e)));
    expect(unexpected.length === 0, 'console errors (CSP violations, failed loads): ' + unexpected.join(' | '));
    for (const line of audited) { console.log('  ' + line); }
    return audited.length + ' views audited';
  });
});
