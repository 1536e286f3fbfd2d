// One person's session is not shown to the next, in headless Chromium on `hitl serve` with an
// OpenID Connect issuer (tests/e2e/oidc_issuer.mjs) and reviewer tokens, both sign-in kinds:
//   token: rita (group `reviewers`) opens workflow W from a link, claims it and types a
//   decision; signs out; olive (group `escalations` only, W's escalation group) signs in with
//   her token and lands on her own empty queue: at no moment is W's draft, rita's typing or the
//   decision form on screen. Olive opens W's link: she sees it (her group resolves its
//   escalations) but gets no decision form and no claim, only a note saying who decides it.
//   OIDC: rita signs in at the issuer and opens W in two tabs; tab 1 signs out (tab 2 follows);
//   in tab 2 nora (group `marketing`) signs in at the issuer and lands on her queue, not on W;
//   W's link shows her "Workflow not available" with nothing of W beside the error.
// One line per step; screenshots in the artifacts dir; exit 1 on the first failure.
import path from 'node:path';
import {
  arg, escapeRegExp, expect, fail as failWith, loadPlaywright, run, text, textMatches, visible, WAIT_MS, workspace,
} from './harness.mjs';

const LABEL = 'identity page';
const fail = (message) => failWith(LABEL, message);
const baseUrl = (arg('base-url', 'HITL_E2E_BASE_URL') || fail('set HITL_E2E_BASE_URL')).replace(/\/+$/, '');
const issuer = (arg('issuer', 'HITL_E2E_ISSUER') || fail('set HITL_E2E_ISSUER')).replace(/\/+$/, '');
const workflowId = arg('workflow', 'HITL_E2E_WORKFLOW') || fail('set HITL_E2E_WORKFLOW');
const subjectName = arg('subject', 'HITL_E2E_SUBJECT') || fail('set HITL_E2E_SUBJECT');
const tokenRita = process.env.HITL_E2E_TOKEN || fail('no token for rita: set HITL_E2E_TOKEN');
const tokenOlive = process.env.HITL_E2E_TOKEN_B || fail('no token for olive: set HITL_E2E_TOKEN_B');
const artifacts = path.resolve(arg('artifacts', 'HITL_E2E_ARTIFACTS', path.join(workspace, 'target', 'artifacts', 'identity-page')));
const { chromium } = loadPlaywright(LABEL);

// What rita types: none of it may reach the next person's screen.
const NOTE = 'Rita private note 7f3c';
const CORRECTION = 'Rita correction 9d2a';
const workflowUrl = baseUrl + '/#/workflows/' + encodeURIComponent(workflowId);

const SECRETS = { id: workflowId, name: subjectName, note: NOTE, correction: CORRECTION };

/**
 * Runs in every document of the browser context before the page's own script: while armed
 * (a flag in the tab's sessionStorage, so it survives the trip to the issuer and back), it
 * records every moment something of W or of rita's typing is on screen — the workflow view
 * with W's title, the decision form, the claim bar, W's name, rita's words. `seen(page)`
 * reads the record of the current document.
 */
function leakWatcher({ id, name, note, correction }) {
  window.__leaks = [];
  const armed = () => { try { return sessionStorage.getItem('e2e.watch') === '1'; } catch (_) { return false; } };
  const shown = (el) => Boolean(el) && el.closest('[hidden]') === null;
  const check = () => {
    const main = document.getElementById('main');
    if (!main || !armed()) { return; }
    const found = [];
    if (shown(document.getElementById('workflow')) && document.getElementById('wf-title').textContent.includes(id)) { found.push('W\'s view'); }
    if (shown(document.getElementById('decide'))) { found.push('the decision form'); }
    if (shown(document.getElementById('claim-bar'))) { found.push('the claim bar'); }
    const visibleText = main.innerText;
    for (const t of [name, note, correction]) { if (visibleText.includes(t)) { found.push(JSON.stringify(t)); } }
    for (const f of found) { if (!window.__leaks.includes(f)) { window.__leaks.push(f); } }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
}

/** Arms (or disarms) the leak watcher of `page`'s tab and empties its record. */
async function watch(page, on) {
  await page.evaluate((flag) => { sessionStorage.setItem('e2e.watch', flag); window.__leaks = []; }, on ? '1' : '0');
}

const seen = (page) => page.evaluate(() => window.__leaks || []);

/** Everything of rita's session still in the page, shown or hidden (text, form values). */
async function leftovers(page) {
  return page.evaluate(({ id, name, note, correction }) => {
    const all = document.getElementById('main').textContent
      + Array.from(document.querySelectorAll('input, textarea'), (el) => el.value).join(' ');
    const options = document.getElementById('filter-group').options.length;
    return [id, name, note, correction].filter((t) => all.includes(t))
      .concat(options > 1 ? ['the group filter keeps ' + options + ' options'] : [])
      .concat(document.querySelector('#queue-body tr') ? ['queue rows'] : []);
  }, SECRETS);
}

async function signInWithToken(page, token, name) {
  await visible(page, '#sign-in-form', 'the token sign-in form');
  await page.fill('#token', token);
  await page.click('#sign-in-form button[type=submit]');
  return textMatches(page, '#who-name', new RegExp('^Signed in as ' + name + '$'), 'the signed-in name');
}

async function signInAtIssuer(page, user) {
  await page.click('#oidc-start');
  await page.waitForURL((u) => u.toString().startsWith(issuer + '/authorize'), { timeout: WAIT_MS });
  await page.fill('#username', user);
  await page.click('#login');
  await page.waitForURL((u) => u.toString().startsWith(baseUrl), { timeout: WAIT_MS });
  return textMatches(page, '#who-name', new RegExp('^Signed in as ' + user + '\\b'), 'the signed-in name');
}

async function expectQueueOf(page, who) {
  await visible(page, '#queue', who + '\'s queue');
  await page.waitForSelector('#queue[aria-busy="false"]', { state: 'attached', timeout: WAIT_MS });
  await visible(page, '#queue-empty', who + '\'s empty queue ("Nothing is waiting for you")');
  const hash = await page.evaluate(() => location.hash);
  expect(hash === '' || hash === '#/', who + ' starts at their queue, not at the last person\'s address: ' + hash);
}

/**
 * After `who` signed in: their own (empty) queue is shown and, since the watcher was armed,
 * nothing of rita's session was ever on screen. Both findings are reported together.
 */
async function expectOnlyTheirQueue(page, who) {
  const problems = [];
  try { await expectQueueOf(page, who); } catch (err) { problems.push(err.message); }
  const leaks = await seen(page);
  if (leaks.length) { problems.push('shown to ' + who + ' after the sign-in: ' + leaks.join(', ')); }
  expect(problems.length === 0, problems.join('; '));
}

/** Rita's draft decision on W: request changes, a comment and a correction. */
async function typeDecision(page) {
  await page.check('#decide input[name=decision][value=request_changes]');
  await page.fill('#comments', NOTE);
  await page.click('#add-correction');
  await page.fill('#corrections li:last-child input[name=value]', CORRECTION);
}

run(LABEL, artifacts, async (ctx) => {
  const { step, shot } = ctx;
  let page;
  let second;

  await step('token: rita opens W from a link, claims it and types a decision', async () => {
    const version = await ctx.launch(chromium);
    const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(WAIT_MS);
    await context.addInitScript(leakWatcher, SECRETS);
    page = await context.newPage();
    ctx.watch(page, 'tab 1');
    await page.goto(workflowUrl);
    await signInWithToken(page, tokenRita, 'rita');
    await textMatches(page, '#wf-title', new RegExp(escapeRegExp(workflowId) + '$'), 'W\'s title');
    await visible(page, '#decide', 'the decision form');
    await page.click('#claim');
    await textMatches(page, '#claim-note', /^You hold this review/, 'the claim note');
    await typeDecision(page);
    return version + ' [' + await shot(page, '01-rita-typing.png') + ']';
  });

  await step('token: rita signs out; nothing of her session stays in the page', async () => {
    await page.click('#sign-out');
    await visible(page, '#sign-in-form', 'the sign-in form');
    const left = await leftovers(page);
    expect(left.length === 0, 'left in the page after sign-out: ' + JSON.stringify(left));
    const hash = await page.evaluate(() => location.hash);
    expect(hash === '' || hash === '#/', 'the address no longer names W: ' + hash);
    return 'address ' + JSON.stringify(hash);
  });

  await step('token: olive (escalations only) signs in and sees only her own queue', async () => {
    await watch(page, true);
    const who = await signInWithToken(page, tokenOlive, 'olive');
    await expectOnlyTheirQueue(page, 'olive');
    await watch(page, false);
    return JSON.stringify(who) + ' [' + await shot(page, '02-olive-queue.png') + ']';
  });

  await step('token: W\'s link shows olive the draft her group may see, but no form and no claim', async () => {
    await page.goto(workflowUrl);
    await textMatches(page, '#wf-title', new RegExp(escapeRegExp(workflowId) + '$'), 'W\'s title');
    const note = await textMatches(page, '#decided-note', /^Only group reviewers decides this review/, 'the note saying who decides');
    expect(await page.isHidden('#decide'), 'no decision form for olive');
    expect(await page.isHidden('#claim-bar'), 'no claim for olive');
    expect(await page.inputValue('#comments') === '', 'rita\'s comment is not in the form');
    expect((await text(page, '#alert')) === '', 'no error: ' + await text(page, '#alert'));
    return JSON.stringify(note) + ' [' + await shot(page, '03-olive-follows-w.png') + ']';
  });

  await step('OIDC: olive signs out; rita signs in at the issuer and types in two tabs', async () => {
    await page.click('#sign-out');
    await visible(page, '#oidc-start', 'the organisation sign-in');
    await signInAtIssuer(page, 'rita');
    await page.goto(workflowUrl);
    await visible(page, '#decide', 'tab 1: the decision form');
    second = await page.context().newPage();
    ctx.watch(second, 'tab 2');
    await second.goto(workflowUrl);
    await textMatches(second, '#who-name', /^Signed in as rita\b/, 'tab 2: the shared session');
    await visible(second, '#decide', 'tab 2: the decision form');
    await typeDecision(second);
    return await shot(second, '04-rita-oidc-typing.png');
  });

  await step('OIDC: tab 1 signs out, tab 2 follows and keeps nothing of rita', async () => {
    await page.bringToFront();
    await page.click('#sign-out');
    await page.waitForURL((u) => u.toString().startsWith(baseUrl + '/'), { timeout: WAIT_MS });
    await visible(page, '#oidc-start', 'tab 1: the sign-in, back from the issuer');
    await visible(second, '#oidc-start', 'tab 2: the sign-in after tab 1 signed out');
    const left = await leftovers(second);
    expect(left.length === 0, 'left in tab 2 after sign-out: ' + JSON.stringify(left));
    const hash = await second.evaluate(() => location.hash);
    expect(hash === '' || hash === '#/', 'tab 2\'s address no longer names W: ' + hash);
    return 'tab 2 address ' + JSON.stringify(hash);
  });

  await step('OIDC: nora (marketing) signs in at the issuer in tab 2 and sees only her queue', async () => {
    await second.bringToFront();
    await watch(second, true);
    const who = await signInAtIssuer(second, 'nora');
    // The record of the page that came back from the issuer, from its first render on.
    await expectOnlyTheirQueue(second, 'nora');
    return JSON.stringify(who) + ' [' + await shot(second, '05-nora-queue.png') + ']';
  });

  await step('OIDC: W\'s link shows nora "not available" and nothing of W beside it', async () => {
    await watch(second, true);
    await second.goto(workflowUrl);
    await textMatches(second, '#wf-title', /^Workflow not available$/, 'the heading');
    const alert = await textMatches(second, '#alert', /does not exist, or you are not one of its reviewers/, 'the alert');
    expect(await second.isHidden('#wf-body'), 'nothing of a workflow under the error');
    const leaks = await seen(second);
    expect(leaks.length === 0, 'shown to nora: ' + leaks.join(', '));
    return JSON.stringify(alert) + ' [' + await shot(second, '06-nora-not-available.png') + ']';
  });

  await step('no script errors; the only failed request is nora\'s look at W', async () => {
    expect(ctx.pageErrors.length === 0, 'page errors: ' + ctx.pageErrors.join(' | '));
    const expected = 'tab 2: 404 GET /workflows/' + encodeURIComponent(workflowId);
    const unexpected = ctx.httpErrors.filter((e) => e !== expected);
    expect(unexpected.length === 0, 'unexpected HTTP errors: ' + unexpected.join(' | '));
    const consoleUnexpected = ctx.consoleErrors.filter((e) => !/status of 404\b/.test(e));
    expect(consoleUnexpected.length === 0, 'console errors: ' + consoleUnexpected.join(' | '));
    return ctx.httpErrors.length + ' expected 404';
  });
});
