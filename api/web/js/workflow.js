// One workflow: its facts, the draft with its changes, the audit trail and the claim log.

import { gone, api } from './api.js';
import { stopRenewing, renderClaim } from './claims.js';
import { resetForm } from './decision.js';
import { correctablePaths, labelOf, loadType } from './editor.js';
import { clearFinalForm, renderEscalation } from './escalation.js';
import { REASONS, describe } from './messages.js';
import { $, flash, setTitle, show, signedInAs, fmtDate, fmtValue, flatten, cell, fact } from './page.js';
import { state } from './state.js';

/** `<del>`/`<ins>` with a visually hidden "Before:"/"Now:" so the diff reads out right. */
function marked(tag, prefix, value) {
  const el = document.createElement(tag);
  const hint = document.createElement('span');
  hint.className = 'vh';
  hint.textContent = prefix + ' ';
  el.append(hint, document.createTextNode(fmtValue(value)));
  return el;
}

function diffRow(body, field, change, value) {
  const tr = document.createElement('tr');
  const name = cell(tr, field, 'field');
  const td = cell(tr, '');
  if (!change) {
    td.textContent = fmtValue(value);
  } else {
    tr.className = change.change;
    const tag = document.createElement('span');
    tag.className = 'tag';
    tag.textContent = change.change;
    name.appendChild(tag);
    if (change.change !== 'added') { td.appendChild(marked('del', 'Before:', change.before)); }
    if (change.change !== 'removed') { td.appendChild(marked('ins', 'Now:', value)); }
  }
  body.appendChild(tr);
}

function renderArtifact(view) {
  const body = $('wf-artifact').querySelector('tbody');
  body.textContent = '';
  const changes = new Map(view.changes.map((c) => [c.field, c]));
  const fields = view.artifact ? flatten('', view.artifact.content, []) : [];
  for (const [field, value] of fields) { diffRow(body, field, changes.get(field), value); }
  for (const change of view.changes.filter((c) => c.change === 'removed')) {
    diffRow(body, change.field, change, undefined);
  }
  $('wf-artifact').hidden = body.children.length === 0;
  $('wf-draft-iteration').textContent = view.artifact ? '(iteration ' + view.artifact.iteration + ')' : '(none yet)';
  $('wf-changes-note').textContent = view.previous_iteration
    ? view.changes.length + ' field(s) changed since iteration ' + view.previous_iteration + ' (highlighted).'
    : 'First draft.';
}

function renderFeedback(view) {
  const list = $('wf-feedback');
  list.textContent = '';
  for (const f of view.feedback) {
    const li = document.createElement('li');
    if (f.outcome !== 'applied') { li.className = 'rejected'; }
    const said = {
      approve: 'approved', request_changes: 'requested changes', reject: 'rejected the draft and stopped the loop',
      resolve: 'resolved the escalation',
      extend: 'granted more iterations', reassign: 'reassigned the review', abandon: 'abandoned the workflow',
    };
    let text = 'Iteration ' + f.iteration + ': ' + f.reviewer + ' — ' + (said[f.decision] || f.decision);
    if (f.outcome !== 'applied') { text += ' (not applied: ' + f.reason + ')'; }
    text += ' · ' + fmtDate(f.received_at);
    li.appendChild(document.createTextNode(text));
    if (f.comments) {
      const q = document.createElement('blockquote');
      q.textContent = f.comments;
      li.appendChild(q);
    }
    if (f.corrections && f.corrections.length) {
      const ul = document.createElement('ul');
      for (const c of f.corrections) {
        const item = document.createElement('li');
        item.textContent = c.field + ' → ' + c.value;
        ul.appendChild(item);
      }
      li.appendChild(ul);
    }
    list.appendChild(li);
  }
  $('wf-feedback-empty').hidden = view.feedback.length > 0;
  renderClaimLog(view);
}

/** The workflow's claim log: every claim taken and released (an admin's release named). */
function renderClaimLog(view) {
  const list = $('wf-claim-log');
  list.textContent = '';
  for (const e of view.claim_log || []) {
    const li = document.createElement('li');
    let text = 'Iteration ' + e.iteration + ': ';
    if (e.action === 'claimed') {
      text += e.reviewer + ' claimed it';
    } else if (e.by) {
      text += e.by + ' released ' + e.reviewer + '\'s claim';
    } else {
      text += e.reviewer + ' released it';
    }
    li.textContent = text + ' · ' + fmtDate(e.at);
    list.appendChild(li);
  }
  $('wf-claims').hidden = list.children.length === 0;
}

function renderWorkflow(view) {
  state.workflow = view;
  $('wf-body').hidden = false;
  $('wf-title').textContent = view.subject.name + ' — ' + view.workflow_id;
  setTitle(view.subject.name + ', iteration ' + view.iteration);
  const facts = $('wf-facts');
  facts.textContent = '';
  fact(facts, 'Status', view.status.replace(/_/g, ' '));
  if (view.artifact_type) { fact(facts, 'Artifact type', view.artifact_type.name.replace(/-/g, ' ')); }
  fact(facts, 'Iteration', view.iteration + ' of at most ' + view.max_iterations);
  fact(facts, 'Reviewer group', view.reviewer_group);
  if (view.deadline) { fact(facts, 'Review deadline', fmtDate(view.deadline)); }
  if (view.review && view.review.required_approvals > 1) {
    const by = view.review.approved_by;
    fact(facts, 'Approvals', by.length + ' of ' + view.review.required_approvals + (by.length ? ' (' + by.join(', ') + ')' : ''));
  }
  if (view.escalation) { fact(facts, 'Escalated', (REASONS[view.escalation.reason] || view.escalation.reason) + ': ' + view.escalation.detail); }
  if (view.escalation && view.escalation.resolve_by) { fact(facts, 'Resolve by', fmtDate(view.escalation.resolve_by)); }
  if (view.escalation && view.escalation.unresolved_at) { fact(facts, 'Unresolved since', fmtDate(view.escalation.unresolved_at)); }
  renderArtifact(view);
  renderFeedback(view);
  const reviewing = view.status === 'awaiting_review' && view.review && view.review.iteration === view.iteration;
  // The decision form and the claim only for who may decide (the escalation group may look).
  const open = Boolean(reviewing && view.viewer_may_decide);
  signedInAs(view.viewer);
  renderClaim(view, open);
  $('decide').hidden = !open;
  $('decided-note').hidden = open;
  $('decided-note').textContent = open ? '' : reviewing
    ? 'Only group ' + view.reviewer_group + ' decides this review; you can follow it here.'
    : 'No decision is possible right now (status: ' + view.status.replace(/_/g, ' ') + ').';
  $('decide-iteration').textContent = String(view.iteration);
  renderEscalation(view);
  const select = document.querySelector('#correction-row').content.querySelector('select');
  select.textContent = '';
  // The type's labels (with the path a reviewer would type on the command line); a pattern
  // over list items (`specs[].value`) becomes one entry per item of the draft and one for a
  // new item.
  const labels = { hints: { fields: view.correction_forms || {} } };
  const content = view.artifact ? view.artifact.content : {};
  for (const field of correctablePaths(view.correctable_fields, content)) {
    const option = document.createElement('option');
    option.value = field;
    option.textContent = labelOf(labels, field, content) + ' (' + field + ')';
    select.appendChild(option);
  }
}

/** Shows workflow `id`; resolves to true when it was loaded. */
export async function openWorkflow(id, keepFlash) {
  const load = ++state.workflowLoads;
  if (!keepFlash) { flash(''); }
  if (!state.workflow || state.workflow.workflow_id !== id) {
    // Nothing of the workflow shown before (or of the person signed in before) is on screen
    // while this one loads.
    clearWorkflow('Loading the workflow…');
    resetForm();
  }
  show('workflow');
  $('workflow').setAttribute('aria-busy', 'true');
  try {
    const view = await api('GET', '/workflows/' + encodeURIComponent(id));
    // The type's schemas and hints build the correction and final-version controls; without
    // them (an error other than a lost session) the page falls back to text boxes.
    let type = null;
    try {
      type = await loadType(view.artifact_type);
    } catch (err) {
      if (gone(err)) { return false; }
    }
    // Another workflow (or this one again) was opened meanwhile: its answer is the one shown.
    if (load !== state.workflowLoads) { return false; }
    state.type = type;
    renderWorkflow(view);
    return true;
  } catch (err) {
    if (gone(err) || load !== state.workflowLoads) { return false; }
    // Nothing of another workflow (or an empty draft table) may stay under the error.
    clearWorkflow('Workflow not available');
    setTitle('Workflow not available');
    flash(describe(err), 'error');
    return false;
  } finally {
    if (load === state.workflowLoads) { $('workflow').setAttribute('aria-busy', 'false'); }
  }
}

/** Empties the workflow view (hidden, `title` as its heading) and stops renewing its claim. */
export function clearWorkflow(title) {
  state.workflow = null;
  state.type = null;
  stopRenewing();
  $('wf-body').hidden = true;
  $('wf-title').textContent = title;
  $('wf-facts').textContent = '';
  $('wf-artifact').querySelector('tbody').textContent = '';
  $('wf-draft-iteration').textContent = '';
  $('wf-changes-note').textContent = '';
  $('wf-feedback').textContent = '';
  $('wf-claim-log').textContent = '';
  $('wf-claims').hidden = true;
  $('claim-bar').hidden = true;
  $('claim-note').textContent = '';
  $('decide').hidden = true;
  $('decide-iteration').textContent = '';
  $('decided-note').hidden = true;
  $('decided-note').textContent = '';
  $('escalation-panel').hidden = true;
  $('esc-drafts').textContent = '';
  $('resolve-final').value = '';
  clearFinalForm();
  $('resolve-iteration').textContent = '';
}
