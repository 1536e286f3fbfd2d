// End-to-end test of the reviewers' web page (api/web/*) in a real headless Chromium, driven
// by playwright-core. Run by cli/tests/review_page.rs against a `hitl serve` it starts; it can
// also be run by hand against any server that has one workflow at iteration 1 waiting for the
// reviewer whose token is given:
//
//   HITL_E2E_BASE_URL=http://127.0.0.1:8080 HITL_E2E_TOKEN=hitl_… HITL_E2E_WORKFLOW=wf-… \
//   HITL_E2E_ARTIFACTS=target/artifacts/review-page NODE_PATH=.tools/node_modules \
//   node tests/e2e/review_page.mjs
//
// The non-secret inputs may also be given as --base-url=, --workflow=, --artifacts=; the token
// only through the environment (argv is visible to every user of the machine). HITL_CHROMIUM
// overrides /usr/bin/chromium. playwright-core is resolved through NODE_PATH, falling back to
// <workspace>/.tools/node_modules (installed by scripts/setup-test-tools.sh).
//
// The journey: sign in (a wrong token first), see the queue, open the workflow, see the first
// draft, request changes with a comment and a field correction, find iteration 2 in the queue,
// see the corrected field (and only it) highlighted and the earlier feedback listed, submit a
// decision for the old iteration from a second tab (409 stale_iteration, clear message),
// approve, and see the workflow approved and gone from the queue. One line per step on stdout;
// a screenshot per step in the artifacts dir; exit 1 with the reason on the first failed
// expectation.
import path from 'node:path';
import {
  arg, escapeRegExp, expect, fail as failWith, hidden, loadPlaywright, reloadQueue, run, text, textMatches, until, visible, WAIT_MS, workspace,
} from './harness.mjs';

const LABEL = 'review-page e2e';
const fail = (message) => failWith(LABEL, message);
const baseUrl = (arg('base-url', 'HITL_E2E_BASE_URL') || fail('no base URL: set HITL_E2E_BASE_URL or --base-url=')).replace(/\/+$/, '');
const token = process.env.HITL_E2E_TOKEN || fail('no reviewer token: set HITL_E2E_TOKEN');
const workflowId = arg('workflow', 'HITL_E2E_WORKFLOW') || fail('no workflow id: set HITL_E2E_WORKFLOW or --workflow=');
const artifacts = path.resolve(arg('artifacts', 'HITL_E2E_ARTIFACTS', path.join(workspace, 'target', 'artifacts', 'review-page')));
const reviewer = process.env.HITL_E2E_REVIEWER || 'rita';
const { chromium } = loadPlaywright(LABEL);

// ---- helpers -------------------------------------------------------------------------------

/** The facts list (Status, Iteration, …) of the open workflow as an object. */
async function facts(page) {
  return page.$$eval('#wf-facts dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
}

/** The artifact table: one entry per row with the field, change class, tag, value and before. */
async function artifactRows(page) {
  return page.$$eval('#wf-artifact tbody tr', (trs) => trs.map((tr) => {
    const [field, value] = tr.querySelectorAll('td');
    const tag = field.querySelector('.tag');
    // Changed values are <del>old</del><ins>new</ins>, each with a visually hidden prefix.
    const del = value.querySelector('del');
    const ins = value.querySelector('ins');
    const own = (el) => Array.from(el.childNodes).filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join('');
    return {
      field: field.firstChild ? field.firstChild.textContent : '',
      highlight: tr.className,
      tag: tag ? tag.textContent : null,
      before: del ? own(del) : null,
      beforePrefix: del && del.querySelector('.vh') ? del.querySelector('.vh').textContent : null,
      nowPrefix: ins && ins.querySelector('.vh') ? ins.querySelector('.vh').textContent : null,
      value: own(ins || value),
      background: getComputedStyle(value).backgroundColor,
      elements: (ins || value).querySelectorAll('*:not(.vh)').length,
    };
  }));
}

async function queueRow(page) {
  return page.$$eval('#queue-body tr', (trs, id) => {
    for (const tr of trs) {
      const link = tr.querySelector('a');
      if (link && link.getAttribute('href') === '#/workflows/' + encodeURIComponent(id)) {
        return Array.from(tr.querySelectorAll('td'), (td) => td.textContent.trim());
      }
    }
    return null;
  }, workflowId);
}

async function signIn(page, what) {
  await page.goto(baseUrl + '/');
  await visible(page, '#sign-in', 'the sign-in form');
  await page.fill('#token', token);
  await page.click('#sign-in-form button[type=submit]');
  await visible(page, '#who', what + ': the signed-in bar');
  await hidden(page, '#sign-in', what + ': the sign-in form');
}

/** Clicks "Submit decision" and returns the POST /feedback response. */
async function submitDecision(page) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/workflows/' + encodeURIComponent(workflowId) + '/feedback'), { timeout: WAIT_MS }),
    page.click('#submit'),
  ]);
  return response;
}

async function openFromQueue(page) {
  await page.click('#queue-body a[href="#/workflows/' + encodeURIComponent(workflowId) + '"]');
  await visible(page, '#workflow', 'the workflow view');
  await textMatches(page, '#wf-title', new RegExp(escapeRegExp(workflowId)), 'the workflow title');
}

// ---- the journey -----------------------------------------------------------------------------

const COMMENT = 'The tagline is too generic: make it about mornings.';
// Markup in a value must be shown as text, never interpreted.
const CORRECTED = 'Good mornings, <b>brewed</b> & ready';
const APPROVAL = 'Looks good now.';

let page;
let stale;
let originalTagline;

await run(LABEL, artifacts, async (ctx) => {
  const { launch, watch, shot, step, pageErrors, consoleErrors, httpErrors } = ctx;
  await step('launch Chromium', async () => {
    const version = await launch(chromium);
    const context = await ctx.browser.newContext({ viewport: { width: 1200, height: 900 } });
    context.setDefaultTimeout(WAIT_MS);
    page = await context.newPage();
    watch(page, 'tab 1');
    return version;
  });

  await step('a wrong token is refused with a clear message', async () => {
    await page.goto(baseUrl + '/');
    await visible(page, '#sign-in', 'the sign-in form');
    await hidden(page, '#queue', 'the queue before signing in');
    await page.fill('#token', 'hitl_' + '0'.repeat(64));
    await page.click('#sign-in-form button[type=submit]');
    const message = await textMatches(page, '#alert', /session is not valid/i, 'the 401 message');
    await visible(page, '#sign-in', 'the sign-in form after a wrong token');
    expect(await page.evaluate(() => sessionStorage.getItem('hitl.token')) === null, 'a refused token must not stay in sessionStorage');
    return JSON.stringify(message) + ' [' + await shot(page, '01-wrong-token.png') + ']';
  });

  await step('sign in and see the queue with the workflow', async () => {
    await page.fill('#token', token);
    await page.click('#sign-in-form button[type=submit]');
    await visible(page, '#queue', 'the queue');
    await hidden(page, '#sign-in', 'the sign-in form');
    await until('the old error message to be cleared', async () => (await text(page, '#alert')) === '');
    const row = await until('the workflow in the queue', () => queueRow(page));
    expect(/\(.+\)$/.test(row[0]), 'the queue row names the subject and its id, got ' + JSON.stringify(row[0]));
    expect(/^1 \/ \d+$/.test(row[1]), 'the queue row shows iteration 1, got ' + JSON.stringify(row[1]));
    expect(row[2] === 'reviewers', 'the queue row shows the reviewer group, got ' + JSON.stringify(row[2]));
    expect(row[3] !== '—' && row[3] !== '', 'the queue row shows a deadline, got ' + JSON.stringify(row[3]));
    expect(row[4] === '0 of 1' && row[5] === '—', 'the queue row shows no approvals and no claim, got ' + JSON.stringify(row.slice(4, 6)));
    return row.slice(0, 3).join(' | ') + ' [' + await shot(page, '02-queue.png') + ']';
  });

  await step('open the workflow and see the first draft', async () => {
    await openFromQueue(page);
    await textMatches(page, '#wf-draft-iteration', /^\(iteration 1\)$/, 'the draft iteration');
    await textMatches(page, '#wf-changes-note', /^First draft\.$/, 'the changes note');
    const f = await facts(page);
    expect(f.Status === 'awaiting review', 'status should be "awaiting review", got ' + JSON.stringify(f.Status));
    expect(/^1 of at most \d+$/.test(f.Iteration), 'iteration fact, got ' + JSON.stringify(f.Iteration));
    const rows = await artifactRows(page);
    const fields = rows.map((r) => r.field);
    for (const field of ['name', 'tagline', 'description', 'colors.primary']) {
      expect(fields.includes(field), 'the draft shows field ' + field + '; fields: ' + fields.join(', '));
    }
    expect(rows.every((r) => r.highlight === '' && r.tag === null), 'nothing is highlighted in a first draft: ' + JSON.stringify(rows.filter((r) => r.highlight)));
    originalTagline = rows.find((r) => r.field === 'tagline').value;
    expect(originalTagline && originalTagline !== CORRECTED, 'the first tagline, got ' + JSON.stringify(originalTagline));
    await visible(page, '#wf-feedback-empty', '"No feedback yet."');
    await visible(page, '#decide', 'the decision form');
    await textMatches(page, '#decide-iteration', /^1$/, 'the decision form iteration');
    // Nothing is preselected: submitting without a choice sends nothing and says what is missing.
    expect(await page.locator('#decide input[name=decision]:checked').count() === 0, 'no decision is preselected');
    await hidden(page, '#corrections-block', 'the corrections block before a decision is chosen');
    let posted = 0;
    const count = (r) => { if (r.method() === 'POST') { posted++; } };
    page.on('request', count);
    await page.click('#submit');
    const missing = await textMatches(page, '#field-errors-list', /^Decision is not chosen: choose Approve, Request changes or Reject\.$/, 'the missing decision');
    await page.waitForTimeout(300);
    page.off('request', count);
    expect(posted === 0, 'nothing is sent without a decision (' + posted + ' POST)');
    return JSON.stringify(missing) + '; ' + fields.length + ' fields, tagline ' + JSON.stringify(originalTagline) + ' [' + await shot(page, '03-draft.png') + ']';
  });

  await step('a second tab opens the same draft (iteration 1)', async () => {
    stale = await page.context().newPage();
    watch(stale, 'tab 2');
    await signIn(stale, 'tab 2');
    await stale.goto(baseUrl + '/#/workflows/' + encodeURIComponent(workflowId));
    await visible(stale, '#decide', 'tab 2: the decision form');
    await textMatches(stale, '#decide-iteration', /^1$/, 'tab 2: the decision form iteration');
    // Background tabs get throttled animation frames, which slows every click: tab 1 to front.
    await page.bringToFront();
    return 'tab 2 shows iteration 1';
  });

  await step('request changes with a comment and a field correction', async () => {
    await page.check('#decide input[name=decision][value=request_changes]');
    await visible(page, '#corrections-block', 'the corrections block');
    await page.fill('#comments', COMMENT);
    await page.click('#add-correction');
    const options = await page.$$eval('#corrections li select[name=field] option', (os) => os.map((o) => o.value));
    expect(options.includes('tagline') && options.includes('colors.primary'), 'the field dropdown lists the correctable fields, got ' + options.join(', '));
    // Issue 28: the options carry the type's labels, and the facts name the type.
    const texts = await page.$$eval('#corrections li select[name=field] option', (os) => os.map((o) => o.textContent));
    expect(texts.includes('Tagline (tagline)') && texts.includes('Primary colour (colors.primary)'), 'the options are labelled from the type\'s hints, got ' + texts.join(', '));
    const facts = await page.textContent('#wf-facts');
    expect(/Artifact type\s*brand metadata/.test(facts), 'the facts name the artifact type, got ' + facts);
    await page.selectOption('#corrections li select[name=field]', 'tagline');
    await page.fill('#corrections li input[name=value]', CORRECTED);
    // The value control follows the field's schema and hints: a tagline's 160 characters; a
    // tone's allowed values as suggestions; a colour picker, named, that writes #RRGGBB.
    expect(await page.$eval('#corrections li input[name=value]', (i) => i.maxLength) === 160, 'the tagline value takes at most 160 characters');
    await page.click('#add-correction');
    const second = '#corrections li:nth-child(2)';
    await page.selectOption(second + ' select[name=field]', 'tone');
    const allowed = await page.$$eval(second + ' select[name=value] option', (os) => os.map((o) => o.value));
    expect(allowed.slice(-5).join(',') === 'friendly,premium,playful,professional,bold', 'the tone is chosen from its values, got ' + allowed.join(','));
    await page.selectOption(second + ' select[name=field]', 'colors.primary');
    expect(await page.$(second + ' select[name=value]') === null, 'a colour is typed or picked, not chosen from a list');
    const pickerName = await page.getAttribute(second + ' input[type=color]', 'aria-label');
    expect(pickerName === 'Correction 2: pick the colour', 'the colour picker is named, got ' + pickerName);
    await page.$eval(second + ' input[type=color]', (p) => { p.value = '#1a2b3c'; p.dispatchEvent(new Event('input', { bubbles: true })); });
    const picked = await page.inputValue(second + ' input[name=value]');
    expect(picked === '#1A2B3C', 'the picker writes the value, got ' + picked);
    await page.click(second + ' .remove');
    expect((await page.$$('#corrections li')).length === 1, 'the second correction is removed');
    await shot(page, '04-request-changes.png');
    const response = await submitDecision(page);
    const body = await response.json();
    expect(response.status() === 200, 'POST feedback answered ' + response.status() + ' ' + JSON.stringify(body));
    const sent = JSON.parse(response.request().postData());
    expect(sent.iteration === 1 && sent.decision === 'request_changes' && sent.comments === COMMENT, 'the page sent ' + JSON.stringify(sent));
    expect(JSON.stringify(sent.corrections) === JSON.stringify([{ field: 'tagline', value: CORRECTED }]), 'the page sent corrections ' + JSON.stringify(sent.corrections));
    expect(/^[0-9a-f-]{32,36}$/.test(response.request().headers()['idempotency-key'] || ''), 'a random Idempotency-Key, got ' + response.request().headers()['idempotency-key']);
    const flash = await textMatches(page, '#flash.ok', /^Changes requested for iteration 1\./, 'the confirmation');
    return JSON.stringify(flash);
  });

  await step('iteration 2 appears in the queue', async () => {
    await page.click('#back');
    await visible(page, '#queue', 'the queue');
    // The next draft is generated in the background: refresh the queue until it is there.
    const row = await until('iteration 2 in the queue', async () => {
      await reloadQueue(page, () => page.click('#refresh'));
      const r = await queueRow(page);
      return r && /^2 \/ \d+$/.test(r[1]) ? r : false;
    });
    return row.slice(0, 2).join(' | ');
  });

  await step('open iteration 2: the changed fields, and only they, are highlighted', async () => {
    await openFromQueue(page);
    await textMatches(page, '#wf-draft-iteration', /^\(iteration 2\)$/, 'the draft iteration');
    // The local generator applies the correction and also answers the comment (issue 29), so
    // iteration 2 changes the tagline and at least one more field: the note counts them all.
    const note = await textMatches(page, '#wf-changes-note', /^\d+ field\(s\) changed since iteration 1 \(highlighted\)\.$/, 'the changes note');
    const changed = Number(note.split(' ')[0]);
    const rows = await artifactRows(page);
    const highlighted = rows.filter((r) => r.highlight !== '');
    expect(highlighted.length === changed && changed >= 1 && highlighted.some((r) => r.field === 'tagline'),
      'the ' + changed + ' changed field(s), the corrected tagline among them, are highlighted, got ' + JSON.stringify(highlighted.map((r) => r.field)));
    const tagline = highlighted.find((r) => r.field === 'tagline');
    expect(tagline.highlight === 'changed' && tagline.tag === 'changed', 'tagline is marked "changed": ' + JSON.stringify(tagline));
    expect(tagline.value === CORRECTED, 'the new tagline is the corrected value, shown as text: ' + JSON.stringify(tagline.value));
    expect(tagline.elements === 0, 'markup in the value must not become elements: ' + JSON.stringify(tagline));
    expect(tagline.before === originalTagline, 'the old tagline is shown as deleted text: ' + JSON.stringify(tagline.before));
    expect(tagline.beforePrefix === 'Before: ' && tagline.nowPrefix === 'Now: ', 'the old and new values are named for screen readers: ' + JSON.stringify(tagline));
    // The highlight is really painted (app.css loaded under the CSP): --changed is #fff4cc.
    expect(tagline.background === 'rgb(255, 244, 204)', 'the changed row is painted yellow, got ' + tagline.background);
    const plain = rows.find((r) => r.field === 'name');
    expect(plain.background !== tagline.background, 'an unchanged row is not painted: ' + plain.background);
    const f = await facts(page);
    expect(f.Status === 'awaiting review' && /^2 of at most/.test(f.Iteration), 'facts: ' + JSON.stringify(f));
    await textMatches(page, '#decide-iteration', /^2$/, 'the decision form iteration');
    return 'tagline ' + JSON.stringify(tagline.before) + ' → ' + JSON.stringify(tagline.value) + ' [' + await shot(page, '05-diff.png') + ']';
  });

  await step('the earlier feedback is listed', async () => {
    await hidden(page, '#wf-feedback-empty', '"No feedback yet."');
    const items = await page.$$eval('#wf-feedback > li', (lis) => lis.map((li) => ({
      text: li.firstChild.textContent,
      comment: li.querySelector('blockquote') ? li.querySelector('blockquote').textContent : null,
      corrections: Array.from(li.querySelectorAll('ul li'), (c) => c.textContent),
      rejected: li.classList.contains('rejected'),
    })));
    expect(items.length === 1, 'one feedback entry, got ' + JSON.stringify(items));
    const [entry] = items;
    expect(entry.text.startsWith('Iteration 1: ' + reviewer + ' — requested changes'), 'the entry says who asked for what: ' + JSON.stringify(entry.text));
    expect(entry.comment === COMMENT, 'the comment is quoted: ' + JSON.stringify(entry.comment));
    expect(JSON.stringify(entry.corrections) === JSON.stringify(['tagline → ' + CORRECTED]), 'the correction is listed: ' + JSON.stringify(entry.corrections));
    expect(!entry.rejected, 'the entry was applied');
    return JSON.stringify(entry.text.split(' · ')[0]);
  });

  await step('a decision for the old iteration (second tab) gets a clear 409 message', async () => {
    await stale.bringToFront();
    await textMatches(stale, '#decide-iteration', /^1$/, 'tab 2 still shows iteration 1');
    await stale.check('#decide input[name=decision][value=approve]');
    const response = await submitDecision(stale);
    const body = await response.json();
    expect(response.status() === 409 && body.reason === 'stale_iteration', 'expected 409 stale_iteration, got ' + response.status() + ' ' + JSON.stringify(body));
    const message = await textMatches(stale, '#alert', /^A newer draft exists: your decision was for an older iteration\./, 'the stale message');
    // The page reloads the workflow: the current draft and decision form are for iteration 2.
    await textMatches(stale, '#decide-iteration', /^2$/, 'tab 2 reloaded to iteration 2');
    await textMatches(stale, '#wf-draft-iteration', /^\(iteration 2\)$/, 'tab 2 shows the current draft');
    const rejected = await textMatches(stale, '#wf-feedback > li.rejected', /not applied: stale_iteration/, 'the rejected attempt in the feedback list');
    await shot(stale, '06-stale-409.png');
    await stale.close();
    return JSON.stringify(message.split(' (')[0]) + '; listed as ' + JSON.stringify(rejected.split(' · ')[0]);
  });

  await step('approve iteration 2', async () => {
    await page.bringToFront();
    await page.check('#decide input[name=decision][value=approve]');
    // With "Approve", corrections would be an edit-and-approve; none are given here.
    await visible(page, '#corrections-block', 'the corrections block for an approval');
    await textMatches(page, '#corrections-hint', /^Edit and approve:/, 'the edit-and-approve hint');
    await page.fill('#comments', APPROVAL);
    const response = await submitDecision(page);
    const body = await response.json();
    expect(response.status() === 200 && body.decision === 'approve' && body.iteration === 2, 'POST feedback answered ' + response.status() + ' ' + JSON.stringify(body));
    return JSON.stringify(await textMatches(page, '#flash.ok', /^Approved iteration 2\.$/, 'the confirmation'));
  });

  await step('the workflow is shown as approved', async () => {
    // The approval finishes the execution; reload until the page reports it (normally at once).
    await until('status approved', async () => {
      const f = await facts(page);
      if (f.Status === 'approved') { return true; }
      await page.reload();
      await visible(page, '#workflow', 'the workflow view');
      return false;
    });
    await hidden(page, '#decide', 'the decision form of a finished workflow');
    await textMatches(page, '#decided-note', /^No decision is possible right now \(status: approved\)\.$/, 'the decided note');
    const entries = await page.$$eval('#wf-feedback > li', (lis) => lis.map((li) => li.firstChild.textContent.split(' · ')[0]));
    expect(entries.some((e) => e === 'Iteration 2: ' + reviewer + ' — approved'), 'the approval is listed: ' + JSON.stringify(entries));
    expect(entries.some((e) => e.startsWith('Iteration 1: ' + reviewer + ' — requested changes')), 'the change request is still listed: ' + JSON.stringify(entries));
    return entries.length + ' feedback entries [' + await shot(page, '07-approved.png') + ']';
  });

  await step('the queue no longer lists the workflow', async () => {
    await page.click('#back');
    await visible(page, '#queue', 'the queue');
    await until('the workflow to leave the queue', async () => (await queueRow(page)) === null);
    await visible(page, '#queue-empty', '"Nothing is waiting for you."');
    return JSON.stringify(await text(page, '#queue-empty')) + ' [' + await shot(page, '08-queue-empty.png') + ']';
  });

  await step('no script errors on the page', async () => {
    expect(pageErrors.length === 0, 'uncaught page errors: ' + pageErrors.join(' | '));
    // The browser logs every non-2xx load. Expected: the wrong token's 401 and the stale 409
    // (the page declares an empty icon, so Chromium does not ask for /favicon.ico).
    const expected = [/status of 401\b.*\/reviews\?[^\]]*\]$/, /status of 409\b.*\/feedback\]$/];
    const unexpected = consoleErrors.filter((e) => !expected.some((re) => re.test(e)));
    expect(unexpected.length === 0, 'console errors (CSP violations, failed loads): ' + unexpected.join(' | '));
    const http = httpErrors.map((e) => e.replace(/^tab \d: /, ''));
    expect(http.length === 2 && http[0] === '401 GET /reviews' && /^409 POST \/workflows\/.+\/feedback$/.test(http[1]),
      'HTTP errors other than the expected 401 and 409: ' + httpErrors.join(' | '));
    return 'only the expected ' + consoleErrors.length + ' console error(s) for non-2xx loads';
  });
});
