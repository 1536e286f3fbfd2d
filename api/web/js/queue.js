// The review queue and the escalations the caller's groups resolve.

import { api } from './api.js';
import { REASONS, describe } from './messages.js';
import { $, flash, signedInAs, fmtDate, cell } from './page.js';
import { state } from './state.js';

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
  let path = '/reviews?limit=20';
  if ($('filter-group').value) { path += '&reviewer_group=' + encodeURIComponent($('filter-group').value); }
  if ($('filter-claim').value !== 'any') { path += '&claim=' + encodeURIComponent($('filter-claim').value); }
  if (cursor) { path += '&cursor=' + encodeURIComponent(cursor); }
  try {
    const page = await api('GET', path);
    if (load !== state.queueLoads) { return; }
    signedInAs(page.viewer);
    const rows = document.createDocumentFragment();
    // Soonest deadline first (within what is loaded).
    const items = page.items.slice().sort((a, b) => String(a.deadline || '~').localeCompare(String(b.deadline || '~')));
    for (const item of items) {
      rememberGroup(item.reviewer_group);
      const tr = document.createElement('tr');
      cell(tr, item.subject.name + ' (' + item.subject.id + ')');
      cell(tr, item.iteration + ' / ' + item.max_iterations);
      cell(tr, item.reviewer_group);
      cell(tr, fmtDate(item.deadline));
      cell(tr, (item.approved_by || []).length + ' of ' + item.required_approvals);
      cell(tr, item.claim ? (item.claim.reviewer === page.viewer ? 'you' : item.claim.reviewer) : '—');
      // Every link says "Open" on screen; its accessible name says what it opens.
      cell(tr, '').appendChild(
        workflowLink(item.workflow_id, 'Open', ' ' + item.subject.name + ', iteration ' + item.iteration));
      rows.appendChild(tr);
    }
    if (more) { body.appendChild(rows); } else { body.replaceChildren(rows); }
    state.cursor = page.next_cursor || null;
    $('more').hidden = !state.cursor;
    const empty = body.children.length === 0;
    $('queue-empty').hidden = !empty;
    $('queue-scroll').hidden = empty;
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
