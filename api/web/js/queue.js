// The review queue and the escalations the caller's groups resolve.

import { api, newKey } from './api.js';
import { REASONS, describe } from './messages.js';
import { $, flash, signedInAs, fmtDate, cell } from './page.js';
import { state } from './state.js';

const SORTS = {
  due: ['soonest deadline first', (a, b) => String(a.deadline || '~').localeCompare(String(b.deadline || '~'))],
  waiting: ['waiting longest first', (a, b) => String(a.requested_at || '~').localeCompare(String(b.requested_at || '~'))],
  newest: ['newest first', (a, b) => String(b.requested_at || '').localeCompare(String(a.requested_at || ''))],
};

/** "in 45 min", "in 3 h", "in 2 d", "overdue by 20 min": the time left, in words. */
export function timeLeft(deadline, now) {
  const minutes = Math.round((new Date(deadline) - now) / 60000);
  const span = (m) => (m < 120 ? m + ' min' : m < 48 * 60 ? Math.round(m / 60) + ' h' : Math.round(m / 1440) + ' d');
  return minutes < 0 ? 'overdue by ' + span(-minutes) : 'due in ' + span(minutes);
}

/** The due cell: the time left (overdue, or under 4 h, marked), the date beneath. */
function dueCell(tr, deadline) {
  const td = cell(tr, '');
  if (!deadline) { td.textContent = '—'; return; }
  const left = new Date(deadline) - Date.now();
  const due = document.createElement('span');
  due.className = 'due' + (left < 0 ? ' due-overdue' : left < 4 * 3600 * 1000 ? ' due-soon' : '');
  due.textContent = timeLeft(deadline, Date.now());
  const at = document.createElement('span');
  at.className = 'due-at';
  at.textContent = fmtDate(deadline);
  td.append(due, at);
}

/** The query of the queue's filters (group, claim, type, category, search). */
function filters() {
  let query = '';
  const add = (key, value) => { if (value) { query += '&' + key + '=' + encodeURIComponent(value); } };
  add('reviewer_group', $('filter-group').value);
  if ($('filter-claim').value !== 'any') { add('claim', $('filter-claim').value); }
  add('type', $('filter-type').value);
  add('category', $('filter-category').value.trim());
  add('q', $('filter-q').value.trim());
  return query;
}

/** Offers every artifact type in the type filter (once per session). */
async function loadTypes() {
  if (state.typesListed) { return; }
  state.typesListed = true;
  try {
    const list = await api('GET', '/types');
    const select = $('filter-type');
    for (const t of list.types) {
      if (Array.from(select.options).some((o) => o.value === t.name)) { continue; }
      const option = document.createElement('option');
      option.value = t.name;
      option.textContent = t.name.replace(/-/g, ' ');
      select.appendChild(option);
    }
  } catch (_) {
    state.typesListed = false;
  }
}

/**
 * Loads the queue (or, with `more`, its next page). Loads can overlap (Refresh clicked twice,
 * a filter changed while loading): only the newest one is shown, and the old rows stay on
 * screen until it arrives. `aria-busy` on the queue is true while a load is outstanding.
 */
export async function loadQueue(more) {
  const load = ++state.queueLoads;
  const section = $('queue');
  section.setAttribute('aria-busy', 'true');
  const body = $('queue-body');
  const cursor = more ? state.cursor : null;
  let path = '/reviews?limit=20' + filters();
  if (cursor) { path += '&cursor=' + encodeURIComponent(cursor); }
  try {
    const page = await api('GET', path);
    if (load !== state.queueLoads) { return; }
    signedInAs(page.viewer);
    // The session is good: offer the types to filter by (once).
    loadTypes();
    const rows = document.createDocumentFragment();
    const [order, compare] = SORTS[$('sort').value] || SORTS.due;
    state.queueItems = (more ? state.queueItems || [] : []).concat(page.items);
    // Sorted within what is loaded ("Load more" adds the next page and sorts again).
    for (const item of state.queueItems.slice().sort(compare)) {
      rememberGroup(item.reviewer_group);
      rememberCategory(item.subject.category);
      const tr = document.createElement('tr');
      cell(tr, item.subject.name + ' (' + item.subject.id + ')');
      cell(tr, item.iteration + ' / ' + item.max_iterations);
      cell(tr, item.reviewer_group);
      dueCell(tr, item.deadline);
      cell(tr, (item.approved_by || []).length + ' of ' + item.required_approvals);
      cell(tr, item.claim ? (item.claim.reviewer === page.viewer ? 'you' : item.claim.reviewer) : '—');
      cell(tr, (item.artifact_type || '').replace(/-/g, ' '));
      // Every link says "Open" on screen; its accessible name says what it opens.
      cell(tr, '').appendChild(
        workflowLink(item.workflow_id, 'Open', ' ' + item.subject.name + ', iteration ' + item.iteration));
      const pick = document.createElement('input');
      pick.type = 'checkbox';
      pick.className = 'pick';
      pick.value = item.workflow_id;
      pick.dataset.iteration = String(item.iteration);
      pick.dataset.subject = item.subject.name;
      pick.setAttribute('aria-label', 'Select ' + item.subject.name + ', iteration ' + item.iteration);
      pick.disabled = Boolean(item.claim);
      if (pick.disabled) { pick.title = 'Claimed'; }
      cell(tr, '').appendChild(pick);
      rows.appendChild(tr);
    }
    $('queue-caption').textContent = 'Workflows waiting for your review, ' + order;
    body.replaceChildren(rows);
    state.cursor = page.next_cursor || null;
    $('more').hidden = !state.cursor;
    const empty = body.children.length === 0;
    $('queue-empty').hidden = !empty;
    $('queue-empty').textContent = filters().replace(/&(reviewer_group|claim)=[^&]*/g, '')
      ? 'Nothing waiting matches these filters.'
      : 'Nothing is waiting for you.';
    $('queue-scroll').hidden = empty;
    $('claim-selected').hidden = empty;
    if (!more) { await loadEscalations(load); }
  } catch (err) {
    if (load === state.queueLoads && err.status !== 401) { flash(describe(err), 'error'); }
  } finally {
    if (load === state.queueLoads) { section.setAttribute('aria-busy', 'false'); }
  }
}

/** A link to a workflow's view: `text` on screen, followed by `hidden` for screen readers only. */
function workflowLink(workflowId, text, hidden) {
  const open = document.createElement('a');
  open.href = '#/workflows/' + encodeURIComponent(workflowId);
  open.textContent = text;
  const what = document.createElement('span');
  what.className = 'vh';
  what.textContent = hidden;
  open.appendChild(what);
  return open;
}

/** Offers `category` as a suggestion in the category filter (the categories seen so far). */
function rememberCategory(category) {
  const list = $('categories');
  if (!category || Array.from(list.options).some((o) => o.value === category)) { return; }
  const option = document.createElement('option');
  option.value = category;
  list.appendChild(option);
}

/**
 * Claims every selected review, one after the other (each through the same rules as the
 * workflow's own "Claim"), then says what happened and reloads the queue.
 */
export async function claimSelected() {
  const picks = Array.from(document.querySelectorAll('#queue-body input.pick:checked'));
  if (!picks.length) {
    flash('Select the reviews to claim first (the checkboxes in the Select column).', 'error');
    return;
  }
  const claimed = [];
  const refused = [];
  for (const pick of picks) {
    try {
      await api('POST', '/workflows/' + encodeURIComponent(pick.value) + '/claim',
        JSON.stringify({ iteration: Number(pick.dataset.iteration) }), newKey());
      claimed.push(pick.dataset.subject);
    } catch (err) {
      if (err.status === 401) { return; }
      refused.push(pick.dataset.subject + ' (' + describe(err) + ')');
    }
  }
  await loadQueue(false);
  const said = 'Claimed ' + claimed.length + ' of ' + picks.length + ' review' + (picks.length === 1 ? '' : 's')
    + (claimed.length ? ': ' + claimed.join(', ') + '.' : '.');
  flash(refused.length ? said + ' Not claimed: ' + refused.join('; ') : said, refused.length ? 'error' : 'ok');
}

/** Offers `group` in the queue's group filter (the groups seen in the queue so far). */
function rememberGroup(group) {
  const select = $('filter-group');
  if (Array.from(select.options).some((o) => o.value === group)) { return; }
  const option = document.createElement('option');
  option.value = group;
  option.textContent = group;
  select.appendChild(option);
}

/** The escalations the caller's groups resolve (shown only when there are some). */
async function loadEscalations(load) {
  const body = $('escalations-body');
  const page = await api('GET', '/escalations?limit=50');
  if (load !== state.queueLoads) { return; }
  const rows = document.createDocumentFragment();
  for (const item of page.items) {
    const tr = document.createElement('tr');
    cell(tr, item.subject.name + ' (' + item.subject.id + ')');
    cell(tr, REASONS[item.reason] || item.reason);
    cell(tr, item.iteration + ' / ' + item.max_iterations);
    cell(tr, fmtDate(item.resolve_by));
    cell(tr, '').appendChild(
      workflowLink(item.workflow_id, 'Resolve', ' the escalation of ' + item.subject.name));
    rows.appendChild(tr);
  }
  body.replaceChildren(rows);
  $('escalations').hidden = body.children.length === 0;
}
