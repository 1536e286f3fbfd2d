// The reviewers' inbox on the review page, in headless Chromium with two reviewers in two
// browser contexts (rita and sam, both in `reviewers`):
//   workflow ONE (one approval): rita claims it; sam sees the claim and his approval is refused
//   (409 claimed_by_other); rita edits a field and approves (edit and approve) — the final
//   version is hers, shown as iteration 2, without another agent round;
//   workflow TWO (two approvals): rita approves (1 of 2, the workflow keeps waiting), sam sees
//   "1 of 2 (rita)" and approves: approved.
// One line per step; a screenshot per view in the artifacts dir; exit 1 on the first failure.
import path from 'node:path';
import {
  arg, expect, fail as failWith, loadPlaywright, reloadQueue, run, textMatches, until, visible, WAIT_MS, workspace,
} from './harness.mjs';

const LABEL = 'inbox page';
const fail = (message) => failWith(LABEL, message);
const baseUrl = (arg('base-url', 'HITL_E2E_BASE_URL') || fail('no base URL: set HITL_E2E_BASE_URL')).replace(/\/+$/, '');
const tokenRita = process.env.HITL_E2E_TOKEN || fail('no token for rita: set HITL_E2E_TOKEN');
const tokenSam = process.env.HITL_E2E_TOKEN_B || fail('no token for sam: set HITL_E2E_TOKEN_B');
const one = arg('workflow-one', 'HITL_E2E_WORKFLOW_ONE') || fail('set HITL_E2E_WORKFLOW_ONE');
const two = arg('workflow-two', 'HITL_E2E_WORKFLOW_TWO') || fail('set HITL_E2E_WORKFLOW_TWO');
const artifacts = path.resolve(arg('artifacts', 'HITL_E2E_ARTIFACTS', path.join(workspace, 'target', 'artifacts', 'inbox-page')));
const EDITED = 'Roasted for early risers';
const { chromium } = loadPlaywright(LABEL);

async function facts(page) {
  return page.$$eval('#wf-facts dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling ? dt.nextElementSibling.textContent : null])));
}

async function signIn(page, token, name) {
  await page.goto(baseUrl + '/');
  await visible(page, '#sign-in', name + ': the sign-in form');
  await page.fill('#token', token);
  await page.click('#sign-in-form button[type=submit]');
  await textMatches(page, '#who-name', new RegExp('^Signed in as ' + name + '$'), name + ': the signed-in bar');
}

async function open(page, id) {
  await page.goto(baseUrl + '/#/workflows/' + encodeURIComponent(id));
  // The view of another workflow may still be on screen: wait for this one's.
  await textMatches(page, '#wf-title', new RegExp(id + '$'), 'the title of ' + id);
  await visible(page, '#decide', 'the decision form of ' + id);
}

async function decide(page, id, decision) {
  await page.check('#decide input[name=decision][value=' + decision + ']');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/workflows/' + encodeURIComponent(id) + '/feedback'), { timeout: WAIT_MS }),
    page.click('#submit'),
  ]);
  return { status: response.status(), body: await response.json() };
}

run(LABEL, artifacts, async (ctx) => {
  const { step, shot } = ctx;
  let rita;
  let sam;

  await step('launch Chromium with two reviewers in two browser contexts', async () => {
    const version = await ctx.launch(chromium);
    const contexts = [await ctx.browser.newContext({ viewport: { width: 1280, height: 900 } }), await ctx.browser.newContext({ viewport: { width: 1280, height: 900 } })];
    for (const c of contexts) { c.setDefaultTimeout(WAIT_MS); }
    rita = await contexts[0].newPage();
    sam = await contexts[1].newPage();
    ctx.watch(rita, 'rita');
    ctx.watch(sam, 'sam');
    await signIn(rita, tokenRita, 'rita');
    await signIn(sam, tokenSam, 'sam');
    return version;
  });

  await step('the queue shows approvals needed and nobody working on either', async () => {
    const rows = await until('both workflows in the queue', async () => {
      const r = await rita.$$eval('#queue-body tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent.trim())));
      return r.length === 2 ? r : false;
    });
    const approvals = rows.map((r) => r[4]).sort();
    expect(JSON.stringify(approvals) === JSON.stringify(['0 of 1', '0 of 2']), 'approvals column: ' + JSON.stringify(rows));
    expect(rows.every((r) => r[5] === '—'), 'nobody holds a claim: ' + JSON.stringify(rows));
    return JSON.stringify(rows.map((r) => r.slice(4, 6))) + ' [' + await shot(rita, '01-queue.png') + ']';
  });

  await step('rita claims workflow ONE', async () => {
    await open(rita, one);
    await textMatches(rita, '#claim-note', /^Nobody is working on this review\./, 'the unclaimed note');
    await rita.click('#claim');
    const note = await textMatches(rita, '#claim-note', /^You hold this review until .+ \(renewed while this page is open\)\.$/, 'the claim note');
    await visible(rita, '#release', 'the release button');
    await textMatches(rita, '#wf-claim-log li:last-child', /^Iteration 1: rita claimed it · /, 'the claim log');
    return JSON.stringify(note) + ' [' + await shot(rita, '02-claimed.png') + ']';
  });

  await step('sam filters the queue: claimed by others, nobody working on it', async () => {
    await sam.goto(baseUrl + '/#/');
    await visible(sam, '#filter-claim', 'the queue filter');
    const rows = async () => sam.$$eval('#queue-body tr', (trs) => trs.map((tr) => tr.querySelector('td').textContent.trim()));
    // Each filter change reloads the queue; the rows are read once the page has shown it.
    const filtered = async (select, value, url) => {
      await reloadQueue(sam, () => Promise.all([sam.waitForResponse((r) => r.url().includes(url)), sam.selectOption(select, value)]));
      return rows();
    };
    const others = await filtered('#filter-claim', 'others', 'claim=others');
    expect(others.length === 1 && others[0].startsWith('Solo Roasters'), 'claimed by others: ' + JSON.stringify(others));
    const free = await filtered('#filter-claim', 'unclaimed', 'claim=unclaimed');
    expect(free.length === 1 && free[0].startsWith('Duo Beans'), 'nobody working on it: ' + JSON.stringify(free));
    await filtered('#filter-group', 'reviewers', 'reviewer_group=reviewers');
    const both = await filtered('#filter-claim', 'any', 'reviewer_group=reviewers');
    expect(both.length === 2, 'both in the group filter: ' + JSON.stringify(both));
    return JSON.stringify({ others, free }) + ' [' + await shot(sam, '02b-filtered.png') + ']';
  });

  await step('sam sees the claim in the queue and on the page; his approval is refused', async () => {
    await sam.goto(baseUrl + '/#/');
    await until('the claim in sam\'s queue', async () => {
      await reloadQueue(sam, () => sam.click('#refresh'));
      const cells = await sam.$$eval('#queue-body tr td', (tds) => tds.map((td) => td.textContent.trim()));
      return cells.includes('rita');
    });
    await open(sam, one);
    const note = await textMatches(sam, '#claim-note', /^Claimed by rita until .+: only they can decide it until then\.$/, 'the claim seen by sam');
    expect(await sam.isHidden('#claim') && await sam.isHidden('#release'), 'sam can neither claim nor release');
    const answer = await decide(sam, one, 'approve');
    expect(answer.status === 409 && answer.body.reason === 'claimed_by_other', 'expected 409 claimed_by_other, got ' + answer.status + ' ' + JSON.stringify(answer.body));
    const alert = await textMatches(sam, '#alert', /^Another reviewer is working on this iteration/, 'the refusal');
    return JSON.stringify(note) + '; ' + JSON.stringify(alert.split(' (')[0]) + ' [' + await shot(sam, '03-claimed-by-other.png') + ']';
  });

  await step('rita edits the tagline and approves (edit and approve)', async () => {
    await rita.bringToFront();
    await rita.check('#decide input[name=decision][value=approve]');
    await visible(rita, '#corrections-block', 'the corrections block for an approval');
    await textMatches(rita, '#corrections-hint', /^Edit and approve:/, 'the edit-and-approve hint');
    await rita.click('#add-correction');
    await rita.selectOption('#corrections li:last-child select[name=field]', 'tagline');
    await rita.fill('#corrections li:last-child input[name=value]', EDITED);
    const [response] = await Promise.all([
      rita.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/feedback'), { timeout: WAIT_MS }),
      rita.click('#submit'),
    ]);
    const body = await response.json();
    expect(response.status() === 200 && body.status === 'approved', 'the edit-and-approve answered ' + response.status() + ' ' + JSON.stringify(body));
    await textMatches(rita, '#flash', /^Approved iteration 1\.$/, 'the confirmation');
    await textMatches(rita, '#wf-draft-iteration', /^\(iteration 2\)$/, 'the final version (iteration 2)');
    const tagline = await rita.$$eval('#wf-artifact tbody tr', (trs) => {
      const row = trs.find((tr) => tr.querySelector('td').firstChild.textContent === 'tagline');
      const ins = row && row.querySelector('ins');
      return ins ? Array.from(ins.childNodes).filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join('') : null;
    });
    expect(tagline === EDITED, 'the final tagline is rita\'s, marked as changed: ' + JSON.stringify(tagline));
    await textMatches(rita, '#decided-note', /status: approved/, 'the decided note');
    return 'final tagline ' + JSON.stringify(tagline) + ' [' + await shot(rita, '04-edited-and-approved.png') + ']';
  });

  await step('rita approves workflow TWO: 1 of 2, it keeps waiting', async () => {
    await open(rita, two);
    const answer = await decide(rita, two, 'approve');
    expect(answer.status === 200 && answer.body.status === 'awaiting_review', 'first approval answered ' + answer.status + ' ' + JSON.stringify(answer.body));
    const flash = await textMatches(rita, '#flash', /^Your approval of iteration 1 is recorded; the workflow waits for another reviewer's approval\.$/, 'the partial approval');
    const f = await until('the approvals fact', async () => ((await facts(rita)).Approvals === '1 of 2 (rita)' ? facts(rita) : false));
    return JSON.stringify(flash) + '; Approvals ' + JSON.stringify(f.Approvals) + ' [' + await shot(rita, '05-one-of-two.png') + ']';
  });

  await step('sam sees 1 of 2 (rita) and approves: approved', async () => {
    await sam.bringToFront();
    await open(sam, two);
    const f = await facts(sam);
    expect(f.Approvals === '1 of 2 (rita)', 'sam sees the approvals so far: ' + JSON.stringify(f));
    const answer = await decide(sam, two, 'approve');
    expect(answer.status === 200 && answer.body.status === 'approved', 'second approval answered ' + answer.status + ' ' + JSON.stringify(answer.body));
    await textMatches(sam, '#flash', /^Approved iteration 1\.$/, 'the confirmation');
    await textMatches(sam, '#decided-note', /status: approved/, 'the decided note');
    return await shot(sam, '06-two-of-two.png');
  });

  await step('no script errors; the only failed request is sam\'s refused approval', async () => {
    expect(ctx.pageErrors.length === 0, 'page errors: ' + ctx.pageErrors.join(' | '));
    const unexpected = ctx.httpErrors.filter((e) => !/^sam: 409 POST \/workflows\/.+\/feedback$/.test(e));
    expect(unexpected.length === 0, 'unexpected HTTP errors: ' + unexpected.join(' | '));
    const consoleUnexpected = ctx.consoleErrors.filter((e) => !/status of 409\b.*\/feedback\]$/.test(e));
    expect(consoleUnexpected.length === 0, 'console errors: ' + consoleUnexpected.join(' | '));
    return ctx.httpErrors.length + ' expected HTTP error(s)';
  });
});
