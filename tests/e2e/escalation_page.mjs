// The escalation queue and resolution form of the review page (api/web/*) in a real headless
// Chromium, driven by playwright-core. Run by cli/tests/review_page.rs against a `hitl serve`
// with two escalated workflows and a member of their escalation group:
//
//   HITL_E2E_BASE_URL=http://127.0.0.1:8080 HITL_E2E_TOKEN=hitl_… \
//   HITL_E2E_WORKFLOW_A=wf-… HITL_E2E_WORKFLOW_B=wf-… \
//   HITL_E2E_ARTIFACTS=target/artifacts/escalation-page NODE_PATH=.tools/node_modules \
//   node tests/e2e/escalation_page.mjs
//
// A is given two more iterations with guidance; B is resolved with a final version edited in
// the page, after a JSON typo (caught in the page) and a schema error (the server's field
// error, shown next to the field). axe-core's WCAG 2.1 A/AA rules run on the queue, the
// escalation and the error state; any violation or "incomplete" fails.
import path from 'node:path';
import {
  arg, axeAudit, expect, fail as failWith, hidden, loadPlaywright, run, textMatches, until, visible, WAIT_MS, workspace,
} from './harness.mjs';

const LABEL = 'escalation page';
const fail = (message) => failWith(LABEL, message);
const baseUrl = (arg('base-url', 'HITL_E2E_BASE_URL') || fail('no base URL: set HITL_E2E_BASE_URL')).replace(/\/+$/, '');
const token = process.env.HITL_E2E_TOKEN || fail('no token: set HITL_E2E_TOKEN');
const workflowA = arg('workflow-a', 'HITL_E2E_WORKFLOW_A') || fail('no first workflow: set HITL_E2E_WORKFLOW_A');
const workflowB = arg('workflow-b', 'HITL_E2E_WORKFLOW_B') || fail('no second workflow: set HITL_E2E_WORKFLOW_B');
const workflowC = arg('workflow-c', 'HITL_E2E_WORKFLOW_C') || fail('no workflow to reject: set HITL_E2E_WORKFLOW_C');
const REJECTION = 'Legal has not cleared the name.';
const artifacts = path.resolve(arg('artifacts', 'HITL_E2E_ARTIFACTS', path.join(workspace, 'target', 'artifacts', 'escalation-page')));
const { chromium } = loadPlaywright(LABEL);
// Must match RESOLVED_TAGLINE in cli/tests/review_page.rs.
const RESOLVED_TAGLINE = 'Roasted for early risers';
const GUIDANCE = 'Lead with the morning ritual, not the beans.';

let page;

const audit = (name) => axeAudit(page, name);

async function open(id) {
  await page.click('a[href="#/workflows/' + encodeURIComponent(id) + '"]');
  await visible(page, '#escalation-panel', 'the escalation panel of ' + id);
  await until('focus on the workflow heading', () => page.evaluate(() => document.activeElement && document.activeElement.id === 'wf-title'));
}

async function submitResolution() {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/resolution'), { timeout: WAIT_MS }),
    page.click('#resolve-submit'),
  ]);
  return response;
}

await run(LABEL, artifacts, async (ctx) => {
  const { launch, watch, shot, step } = ctx;
  let posts = 0;

  await step('launch Chromium and sign in', async () => {
    const version = await launch(chromium);
    const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(WAIT_MS);
    page = await context.newPage();
    watch(page, 'tab 1');
    page.on('request', (r) => { if (r.method() === 'POST') { posts += 1; } });
    await page.goto(baseUrl + '/');
    await visible(page, '#sign-in', 'the sign-in form');
    await page.fill('#token', token);
    await page.press('#token', 'Enter');
    await visible(page, '#queue', 'the queue');
    return version;
  });

  await step('a reviewer rejects a draft with a reason: it joins the escalations', async () => {
    await visible(page, '#queue-body', 'the review queue');
    await page.click('#queue-body a[href="#/workflows/' + encodeURIComponent(workflowC) + '"]');
    await visible(page, '#decide', 'the decision form');
    await page.check('#decide input[name=decision][value=reject]');
    await page.fill('#comments', REJECTION);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/feedback'), { timeout: WAIT_MS }),
      page.click('#submit'),
    ]);
    expect(response.status() === 200, 'the rejection answered ' + response.status());
    const said = await textMatches(page, '#flash', /Rejected iteration 1/, 'the confirmation');
    await textMatches(page, '#wf-facts', /Escalated.*rejected by a reviewer.*Legal has not cleared the name/s, 'the escalation with the reason');
    await page.click('#back');
    await visible(page, '#queue', 'the queue');
    await until('three escalations listed', async () => (await page.locator('#escalations-body tr').count()) === 3);
    return said;
  });

  await step('the escalation queue lists the escalations with their reason', async () => {
    await visible(page, '#escalations', 'the escalations table');
    const rows = await page.locator('#escalations-body tr').count();
    expect(rows === 3, 'three escalations listed, got ' + rows);
    await textMatches(page, '#escalations-body', /iteration limit reached/, 'the reason');
    const name = await page.locator('#escalations-body a').first().evaluate((a) => a.textContent);
    expect(/^Resolve the escalation of /.test(name), 'the link names what it resolves: ' + JSON.stringify(name));
    await shot(page, '01-escalations-queue.png');
    return await audit('escalations queue');
  });

  await step('an escalation shows its reason, every draft and the four resolutions', async () => {
    await open(workflowA);
    await textMatches(page, '#wf-facts', /Escalated.*iteration limit reached/s, 'the escalation facts');
    await textMatches(page, '#wf-facts', /Resolve by/, 'the escalation deadline');
    const drafts = await page.locator('#esc-drafts > li').count();
    expect(drafts === 1, 'one draft listed, got ' + drafts);
    const actions = await page.locator('#resolve input[name=action]').count();
    expect(actions === 4, 'four resolutions offered, got ' + actions);
    const preselected = await page.locator('#resolve input[name=action]:checked').count();
    expect(preselected === 0, 'no resolution is preselected');
    expect(await page.isHidden('#decide'), 'no review decision is offered on an escalation');
    await shot(page, '02-escalation.png');
    return await audit('escalation');
  });

  await step('no resolution chosen: refused in the page, focus on the choice', async () => {
    const before = posts;
    await page.click('#resolve-submit');
    await textMatches(page, '#alert', /not sent/, 'the alert');
    await until('focus on the first resolution', () => page.evaluate(() => document.activeElement && document.activeElement.name === 'action'));
    expect(posts === before, 'nothing was sent');
    return 'refused without a request';
  });

  await step('extend by two with guidance: the same execution regenerates', async () => {
    await page.check('#resolve input[value=extend]');
    await visible(page, '#resolve-iterations', 'the iterations field');
    await page.fill('#resolve-iterations', '2');
    await page.fill('#resolve-guidance', GUIDANCE);
    const response = await submitResolution();
    expect(response.status() === 200, 'extend answered ' + response.status());
    const said = await textMatches(page, '#flash', /Resolution applied \(extend\)/, 'the confirmation');
    await hidden(page, '#escalation-panel', 'the escalation panel after the resolution');
    return said;
  });

  await step('a final version with a JSON typo is refused in the page', async () => {
    await page.click('#back');
    await visible(page, '#queue', 'the queue');
    await until('two escalations left', async () => (await page.locator('#escalations-body tr').count()) === 2);
    await open(workflowB);
    await page.check('#resolve input[value=resolve]');
    // Issue 28: the final version is a form over the type's schema first; the bound name is
    // read-only; "Edit as JSON" carries the form's value over to the text.
    await visible(page, '#resolve-final-form', 'the final version as a form');
    const formTagline = await page.inputValue('#resolve-final-form [data-path="tagline"]');
    expect(await page.$eval('#resolve-final-form [data-path="name"]', (i) => i.readOnly), 'the bound name is read-only');
    await page.click('#resolve-mode');
    await visible(page, '#resolve-final', 'the JSON text after "Edit as JSON"');
    const draft = JSON.parse(await page.inputValue('#resolve-final'));
    expect(typeof draft.tagline === 'string' && draft.tagline === formTagline, 'the final version starts as the newest draft, the same in the form and the JSON');
    await page.fill('#resolve-final', '{"tagline": ');
    const before = posts;
    await page.click('#resolve-submit');
    await textMatches(page, '#resolve-errors-list', /final version is not valid JSON/i, 'the JSON error');
    expect(posts === before, 'nothing was sent');
    return 'JSON error shown';
  });

  await step('a schema error comes back from the server next to the field', async () => {
    const broken = { name: 'Beta Beans', tagline: RESOLVED_TAGLINE, description: 'Beta Beans is a food brand offering products for general consumers.', category: 'food', tone: 'friendly', target_audience: 'general consumers', keywords: ['beta', 'beans', 'food'], colors: { primary: 'teal', secondary: '#FFFFFF' } };
    await page.fill('#resolve-final', JSON.stringify(broken, null, 2));
    const response = await submitResolution();
    expect(response.status() === 400, 'the broken artifact answered ' + response.status());
    await textMatches(page, '#resolve-errors-list', /final version \(colors\.primary\) must be #RRGGBB/i, 'the field error');
    const invalid = await page.getAttribute('#resolve-final', 'aria-invalid');
    expect(invalid === 'true', 'the final version is marked invalid');
    await shot(page, '03-resolution-error.png');
    return await audit('resolution error');
  });

  await step('a corrected final version resolves the workflow', async () => {
    const fixed = JSON.parse(await page.inputValue('#resolve-final'));
    fixed.colors.primary = '#1A2B3C';
    await page.fill('#resolve-final', JSON.stringify(fixed, null, 2));
    await page.fill('#resolve-reason', 'Marketing wrote the tagline.');
    const response = await submitResolution();
    expect(response.status() === 200, 'resolve answered ' + response.status());
    const said = await textMatches(page, '#flash', /Resolution applied \(resolve\).*resolved/, 'the confirmation');
    await textMatches(page, '#wf-facts', /resolved/, 'the status');
    await shot(page, '04-resolved.png');
    return said;
  });
});
