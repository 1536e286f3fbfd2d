// The review page for an artifact type other than brand metadata (issue 28), in a real headless
// Chromium driven by playwright-core. Run by cli/tests/review_page.rs against a `hitl serve`
// holding three workflows of one type, for the built-in `product-description` and for a type
// the test added from a temporary folder; the reviewer's token is in both groups:
//
//   HITL_E2E_BASE_URL=http://127.0.0.1:8080 HITL_E2E_TOKEN=hitl_… \
//   HITL_E2E_WORKFLOW_EDIT=wf-… HITL_E2E_WORKFLOW_REJECT=wf-… HITL_E2E_WORKFLOW_LIMIT=wf-… \
//   HITL_E2E_SPEC='{"type":"product-description","list":"bullets",…}' \
//   HITL_E2E_ARTIFACTS=target/artifacts/types-page NODE_PATH=.tools/node_modules \
//   node tests/e2e/types_page.mjs
//
// EDIT: changes are requested with the whole list edited in its list control (the first item
// removed when there are two or more, one added), iteration 2 shows item-level changes (the removed and the added item
// only, not every later item), then the reviewer approves with an item-level correction
// (edit and approve). REJECT: rejected with a reason. LIMIT (at most one iteration): changes
// requested, so it escalates at the limit, and the same person resolves it with a final
// version edited as a form (a schema error first, shown next to its control, then a list item
// added). axe-core's WCAG 2.1 A/AA rules run on every new control; any violation or
// "incomplete" fails. The spec names, for the type under test: `list` (a correctable list),
// `item` and `item_value` (an item-level path to correct), `final_field`, `final_bad` and
// `final_good` (a text field of the final version, a value its schema refuses and one it
// takes), `final_list` (a list of the final version to add an item to).
import path from 'node:path';
import {
  arg, axeAudit, expect, fail as failWith, hidden, loadPlaywright, reloadQueue, run, textMatches, until, visible, WAIT_MS, workspace,
} from './harness.mjs';

const LABEL = 'types page';
const fail = (message) => failWith(LABEL, message);
const baseUrl = (arg('base-url', 'HITL_E2E_BASE_URL') || fail('no base URL: set HITL_E2E_BASE_URL')).replace(/\/+$/, '');
const token = process.env.HITL_E2E_TOKEN || fail('no token: set HITL_E2E_TOKEN');
const edit = arg('workflow-edit', 'HITL_E2E_WORKFLOW_EDIT') || fail('set HITL_E2E_WORKFLOW_EDIT');
const reject = arg('workflow-reject', 'HITL_E2E_WORKFLOW_REJECT') || fail('set HITL_E2E_WORKFLOW_REJECT');
const limit = arg('workflow-limit', 'HITL_E2E_WORKFLOW_LIMIT') || fail('set HITL_E2E_WORKFLOW_LIMIT');
const spec = JSON.parse(process.env.HITL_E2E_SPEC || fail('set HITL_E2E_SPEC'));
const artifacts = path.resolve(arg('artifacts', 'HITL_E2E_ARTIFACTS', path.join(workspace, 'target', 'artifacts', 'types-page')));
const { chromium } = loadPlaywright(LABEL);
// Must match ADDED in cli/tests/review_page.rs.
const ADDED = 'Added on the review page';
const REJECTION = 'Legal has not cleared these claims.';

let page;
let listSent;
let removing;

const audit = (name) => axeAudit(page, name);

async function facts() {
  return page.$$eval('#wf-facts dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
}

/** The draft table's rows: field, change tag (or null). */
async function rows() {
  return page.$$eval('#wf-artifact tbody tr', (trs) => trs.map((tr) => {
    const field = tr.querySelector('td');
    const tag = field.querySelector('.tag');
    return { field: field.firstChild ? field.firstChild.textContent : '', tag: tag ? tag.textContent : null };
  }));
}

async function open(id, from) {
  if (await page.isVisible('#back')) { await page.click('#back'); }
  await visible(page, '#queue', 'the queue');
  await until(id + ' listed in ' + from, async () => {
    await reloadQueue(page, () => page.click('#refresh'));
    return (await page.locator(from + ' a[href="#/workflows/' + encodeURIComponent(id) + '"]').count()) > 0;
  });
  await page.click(from + ' a[href="#/workflows/' + encodeURIComponent(id) + '"]');
  await visible(page, '#workflow', 'the workflow view');
  await textMatches(page, '#wf-title', new RegExp(id), 'the title of ' + id);
  await until('focus on the workflow heading', () => page.evaluate(() => document.activeElement && document.activeElement.id === 'wf-title'));
}

async function submit(id, button, suffix) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/workflows/' + encodeURIComponent(id) + suffix), { timeout: WAIT_MS }),
    page.click(button),
  ]);
  return response;
}

/** Fills every empty control of a freshly added item: text gets ADDED, a select its first value. */
async function fillNewItem(item) {
  for (const control of await item.locator('input[type=text], textarea, select').all()) {
    if (await control.evaluate((el) => el.tagName === 'SELECT')) {
      const first = await control.evaluate((el) => Array.from(el.options).map((o) => o.value).find(Boolean));
      await control.selectOption(first);
    } else {
      await control.fill(ADDED);
    }
  }
}

const leaves = (v) => (v && typeof v === 'object' ? Object.values(v).reduce((n, x) => n + leaves(x), 0) : 1);

await run(LABEL, artifacts, async (ctx) => {
  const { launch, watch, shot, step, pageErrors, consoleErrors } = ctx;
  await step('launch Chromium and sign in', async () => {
    const version = await launch(chromium);
    const context = await ctx.browser.newContext({ viewport: { width: 1200, height: 900 } });
    context.setDefaultTimeout(WAIT_MS);
    page = await context.newPage();
    watch(page, 'tab');
    await page.goto(baseUrl + '/');
    await page.fill('#token', token);
    await page.click('#sign-in-form button[type=submit]');
    await visible(page, '#queue', 'the queue');
    return version;
  });

  await step('the queue: time left, type filter, search, sort, and two reviews claimed at once', async () => {
    const rows = async () => page.$$eval('#queue-body tr', (trs) => trs.map((tr) => {
      const td = Array.from(tr.querySelectorAll('td'));
      return { subject: td[0].textContent, due: td[3].querySelector('.due') ? td[3].querySelector('.due').textContent : '', claimed: td[5].textContent, type: td[6].textContent };
    }));
    const all = await until('three reviews in the queue', async () => { const r = await rows(); return r.length === 3 ? r : false; });
    expect(all.every((r) => /^due in (3 d|7\d h)$/.test(r.due)), 'time left, in words: ' + JSON.stringify(all.map((r) => r.due)));
    expect(all.every((r) => r.type === spec.type.replace(/-/g, ' ')), 'the type column: ' + JSON.stringify(all.map((r) => r.type)));
    await until('the type filter offers ' + spec.type, async () => (await page.locator('#filter-type option[value="' + spec.type + '"]').count()) === 1);
    await reloadQueue(page, () => page.selectOption('#filter-type', spec.type));
    expect((await rows()).length === 3, 'all three are of that type');
    await page.fill('#filter-q', 'two');
    await page.waitForResponse((r) => r.url().includes('/reviews?') && r.url().includes('q=two'));
    await page.waitForSelector('#queue[aria-busy="false"]', { state: 'attached' });
    const found = await rows();
    expect(found.length === 1 && /^Lumen Two /.test(found[0].subject), 'search finds Lumen Two alone: ' + JSON.stringify(found));
    await page.fill('#filter-q', '');
    await reloadQueue(page, () => page.press('#filter-q', 'Enter'));
    await reloadQueue(page, () => page.selectOption('#sort', 'newest'));
    const caption = await page.textContent('#queue-caption');
    expect(/newest first$/.test(caption), 'the caption says the order: ' + caption);
    const out = await audit('queue with filters');
    // By keyboard: Space on two checkboxes, then Enter on "Claim selected".
    for (const name of ['Lumen One', 'Lumen Two']) {
      await page.focus('#queue-body input.pick[aria-label^="Select ' + name + ',"]');
      await page.keyboard.press('Space');
    }
    await page.focus('#claim-selected');
    await page.keyboard.press('Enter');
    const said = await textMatches(page, '#flash', /^Claimed 2 of 2 reviews: /, 'the bulk claim confirmation');
    const after = await until('both claimed', async () => {
      const r = await rows();
      return r.filter((x) => x.claimed === 'you').length === 2 ? r : false;
    });
    expect(after.find((x) => /^Lumen Three /.test(x.subject)).claimed === '—', 'the third is not claimed');
    await shot(page, '00-queue.png');
    return JSON.stringify(said) + '; ' + out;
  });

  await step('the draft names its type and shows list items one per row', async () => {
    await open(edit, '#queue-body');
    const f = await facts();
    expect(f['Artifact type'] === spec.type.replace(/-/g, ' '), 'the facts name the type: ' + JSON.stringify(f));
    const fields = (await rows()).map((r) => r.field);
    expect(fields.some((f) => f.startsWith(spec.list + '[0]')) && !fields.includes(spec.list), 'the list is shown item by item: ' + fields.join(', '));
    return fields.length + ' rows; ' + await audit('draft');
  });

  await step('request changes with the whole list edited in its control', async () => {
    await page.check('#decide input[name=decision][value=request_changes]');
    await page.fill('#comments', 'Reworked the list on the page.');
    await page.click('#add-correction');
    const row = page.locator('#corrections li').first();
    await row.locator('select[name=field]').selectOption(spec.list);
    const list = row.locator('fieldset.ed-list').first();
    await visible(page, '#corrections li fieldset.ed-list', 'the list control');
    const legend = await list.locator(':scope > legend').textContent();
    expect(legend === 'Correction 1: corrected value', 'the list is named for the correction: ' + JSON.stringify(legend));
    const items = list.locator(':scope > ol > li');
    const count = await items.count();
    expect(count >= 1, 'the list starts as the draft has it, got ' + count + ' items');
    const removeName = await items.first().locator(':scope > .ed-remove').getAttribute('aria-label');
    expect(/^Remove item 1 of .+/.test(removeName), 'Remove is named for its item and list: ' + JSON.stringify(removeName));
    // A list of one item keeps it (removing it and adding one would be a changed item).
    removing = count >= 2;
    // By keyboard: Enter on "Remove item 1" removes it and moves focus to the item that took
    // its place; Enter on "Add item" adds one and moves focus into it.
    const inItem = () => page.evaluate(() => {
      const el = document.activeElement;
      const li = el && el.closest('.ed-items > li');
      return li ? { index: Array.from(li.parentElement.children).indexOf(li), tag: el.tagName, remove: el.classList.contains('ed-remove') } : null;
    });
    if (removing) {
      await items.first().locator(':scope > .ed-remove').focus();
      await page.keyboard.press('Enter');
      expect(await items.count() === count - 1, 'the first item is removed');
      const at = await inItem();
      expect(at && at.index === 0 && !at.remove, 'focus moves to the item that took its place, got ' + JSON.stringify(at));
    }
    await list.locator(':scope > .ed-add').focus();
    await page.keyboard.press('Enter');
    const expected = removing ? count : count + 1;
    expect(await items.count() === expected, 'an item is added');
    const added = items.last();
    const at = await inItem();
    expect(at && at.index === expected - 1 && !at.remove, 'focus moves into the new item, got ' + JSON.stringify(at));
    await fillNewItem(added);
    const out = await audit('list control');
    await shot(page, '01-list-correction.png');
    const response = await submit(edit, '#submit', '/feedback');
    expect(response.status() === 200, 'request changes answered ' + response.status() + ' ' + await response.text());
    const sent = JSON.parse(response.request().postData());
    expect(sent.corrections.length === 1 && sent.corrections[0].field === spec.list, 'one correction of the list: ' + JSON.stringify(sent.corrections));
    listSent = JSON.parse(sent.corrections[0].value);
    expect(Array.isArray(listSent) && listSent.length === expected, 'the list is sent as JSON with ' + expected + ' items: ' + sent.corrections[0].value);
    expect(JSON.stringify(listSent[listSent.length - 1]).includes(ADDED), 'the added item is last: ' + sent.corrections[0].value);
    return expected + ' items sent' + (removing ? ' (the first removed)' : '') + '; ' + out;
  });

  await step('iteration 2 marks the removed and the added item only', async () => {
    await until('iteration 2', async () => {
      await open(edit, '#queue-body');
      return /^2 of/.test((await facts()).Iteration || '');
    });
    const marked = (await rows()).filter((r) => r.tag && r.field.startsWith(spec.list + '['));
    const added = marked.filter((r) => r.tag === 'added').map((r) => r.field);
    const removed = marked.filter((r) => r.tag === 'removed').map((r) => r.field);
    const last = spec.list + '[' + (listSent.length - 1) + ']';
    expect(added.length > 0 && added.every((f) => f.startsWith(last)), 'the new item is added at ' + last + ': ' + JSON.stringify(added));
    expect(removing ? removed.length > 0 && removed.every((f) => f.startsWith(spec.list + '[0]')) : removed.length === 0, 'the first item is removed: ' + JSON.stringify(removed));
    expect(marked.length === added.length + removed.length && added.length === leaves(listSent[listSent.length - 1]),
      'no other item of the list is marked (items are matched by content): ' + JSON.stringify(marked));
    await shot(page, '02-item-diff.png');
    return 'added ' + added.join(', ') + '; removed ' + removed.join(', ') + '; ' + await audit('item diff');
  });

  await step('edit and approve with an item-level correction', async () => {
    await page.check('#decide input[name=decision][value=approve]');
    await page.click('#add-correction');
    const row = page.locator('#corrections li').first();
    const options = await row.locator('select[name=field] option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
    const option = options.find(([v]) => v === spec.item);
    expect(option && /, item 1 \(/.test(option[1]), 'the item path is offered with its item named: ' + JSON.stringify(option));
    expect(options.some(([v, t]) => /, new item \(/.test(t) && v.startsWith(spec.list + '[')), 'a new item of the list is offered: ' + JSON.stringify(options.map(([v]) => v)));
    await row.locator('select[name=field]').selectOption(spec.item);
    await row.locator('[name=value]').fill(spec.item_value);
    const response = await submit(edit, '#submit', '/feedback');
    expect(response.status() === 200, 'approve answered ' + response.status() + ' ' + await response.text());
    await textMatches(page, '#wf-facts', /approved/, 'the status');
    return option[1];
  });

  await step('reject another draft with a reason', async () => {
    await open(reject, '#queue-body');
    await page.check('#decide input[name=decision][value=reject]');
    await page.fill('#comments', REJECTION);
    const response = await submit(reject, '#submit', '/feedback');
    expect(response.status() === 200, 'reject answered ' + response.status());
    await textMatches(page, '#wf-facts', /escalated/, 'the status');
    return 'escalated';
  });

  await step('request changes at the iteration limit: the workflow escalates', async () => {
    await open(limit, '#queue-body');
    await page.check('#decide input[name=decision][value=request_changes]');
    await page.fill('#comments', 'Still not right.');
    const response = await submit(limit, '#submit', '/feedback');
    expect(response.status() === 200, 'request changes answered ' + response.status());
    return 'sent';
  });

  await step('the escalation is resolved with a final version edited as a form', async () => {
    await open(limit, '#escalations-body');
    await page.check('#resolve input[value=resolve]');
    await visible(page, '#resolve-final-form', 'the final version form');
    await hidden(page, '#resolve-final', 'the JSON text');
    const field = page.locator('#resolve-final-form [data-path="' + spec.final_field + '"]');
    await field.fill(spec.final_bad);
    const list = page.locator('#resolve-final-form fieldset.ed-list[data-path="' + spec.final_list + '"]');
    const before = await list.locator(':scope > ol > li').count();
    await list.locator(':scope > .ed-add').click();
    await fillNewItem(list.locator(':scope > ol > li').last());
    await audit('final version form');
    // Reflow (WCAG 1.4.10): at 320 CSS px the form needs no sideways scrolling.
    await page.setViewportSize({ width: 320, height: 900 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await shot(page, '03-final-form-320px.png');
    await page.setViewportSize({ width: 1200, height: 900 });
    expect(overflow <= 0, 'the final version form reflows at 320 px, ' + overflow + ' px too wide');
    const refused = await submit(limit, '#resolve-submit', '/resolution');
    expect(refused.status() === 400, 'the schema-breaking final version answered ' + refused.status());
    const said = await textMatches(page, '#resolve-errors-list', new RegExp('final version \\(' + spec.final_field + '\\)', 'i'), 'the field error');
    expect(await field.getAttribute('aria-invalid') === 'true', 'the control of ' + spec.final_field + ' is marked invalid');
    await shot(page, '04-final-form-error.png');
    const out = await audit('final version error');
    await field.fill(spec.final_good);
    const accepted = await submit(limit, '#resolve-submit', '/resolution');
    expect(accepted.status() === 200, 'the resolution answered ' + accepted.status() + ' ' + await accepted.text());
    const final = JSON.parse(accepted.request().postData()).final;
    expect(final[spec.final_list].length === before + 1, 'the final version has the added item: ' + JSON.stringify(final[spec.final_list]));
    await textMatches(page, '#wf-facts', /resolved/, 'the status');
    await shot(page, '05-resolved.png');
    return JSON.stringify(said) + '; ' + out;
  });

  await step('no script errors on the page', async () => {
    expect(pageErrors.length === 0, 'uncaught page errors: ' + pageErrors.join(' | '));
    const unexpected = consoleErrors.filter((e) => !/status of 400\b.*\/resolution\]$/.test(e));
    expect(unexpected.length === 0, 'console errors: ' + unexpected.join(' | '));
    return 'only the expected 400';
  });
});
