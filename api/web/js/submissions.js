// What the buttons of the workflow view send: a claim or its release, a decision, a
// resolution. Each reloads the view when its answer says the workflow changed.

import { newKey, gone, api } from './api.js';
import { resetForm, clearFieldErrors, showFieldErrors, currentDecision, buildBody } from './decision.js';
import { waitingEscalation, showActionFields, clearResolveErrors, showResolveErrors, resolutionBody } from './escalation.js';
import { describe } from './messages.js';
import { $, flash, focusOn, sleep } from './page.js';
import { state } from './state.js';
import { openWorkflow } from './workflow.js';

export async function changeClaim(take) {
  const view = state.workflow;
  if (!view) { return; }
  const path = '/workflows/' + encodeURIComponent(view.workflow_id) + '/claim';
  const session = state.session;
  try {
    if (take) {
      await api('POST', path, JSON.stringify({ iteration: view.iteration }), newKey(), session);
    } else {
      await api('DELETE', path, undefined, undefined, session);
    }
    flash(take ? 'You hold this review now.' : 'You released this review.', 'ok');
  } catch (err) {
    if (gone(err)) { return; }
    flash(describe(err), 'error');
  }
  await openWorkflow(view.workflow_id, true);
  focusOn([$('release'), $('claim')].find((b) => !b.hidden && !$('claim-bar').hidden) || $('wf-title'));
}

export async function submit(event) {
  event.preventDefault();
  const view = state.workflow;
  if (!view) { return; }
  if (!currentDecision()) {
    flash('Your decision was not sent: 1 problem needs fixing (marked next to the fields).', 'error');
    showFieldErrors([{ field: 'decision', message: 'is not chosen: choose Approve, Request changes or Reject.' }], []);
    return;
  }
  const session = state.session;
  const { body, rows } = buildBody();
  if (!state.pending || state.pending.workflowId !== view.workflow_id || state.pending.body !== body) {
    state.pending = { workflowId: view.workflow_id, body, key: newKey() };
  }
  const pending = state.pending;
  const button = $('submit');
  button.disabled = true;
  clearFieldErrors();
  flash('Submitting…');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await api('POST', '/workflows/' + encodeURIComponent(pending.workflowId) + '/feedback', pending.body, pending.key, session);
        state.pending = null;
        flash(result.decision === 'approve' && result.status === 'awaiting_review'
          ? 'Your approval of iteration ' + result.iteration + ' is recorded; the workflow waits for another reviewer\'s approval.'
          : result.decision === 'approve'
          ? 'Approved iteration ' + result.iteration + '.'
          : result.decision === 'reject'
            ? 'Rejected iteration ' + result.iteration + '. The workflow goes to its escalation group.'
            : 'Changes requested for iteration ' + result.iteration + '. The next draft will appear in your queue.', 'ok');
        resetForm();
        await openWorkflow(pending.workflowId, true);
        focusOn($('wf-title'));
        return;
      } catch (err) {
        const retriable = !gone(err) && (err.status === undefined || err.status === 503 || err.status >= 500);
        if (retriable && attempt < 2) {
          const after = err.headers && Number(err.headers.get('Retry-After'));
          await sleep(1000 * (after > 0 && after < 30 ? after : 1));
          continue;
        }
        throw err;
      }
    }
  } catch (err) {
    if (gone(err)) { return; }
    const retriable = err.status === undefined || err.status >= 500;
    if (!retriable) { state.pending = null; }
    flash(describe(err), 'error');
    if (err.status === 400 && err.body && Array.isArray(err.body.errors)) {
      showFieldErrors(err.body.errors, rows);
    }
    // A 404 (not, or no longer, theirs) or 409 reloads the view: no form stays beside it.
    if (err.status === 404 || err.status === 409) {
      await openWorkflow(pending.workflowId, true);
      focusOn($('wf-title'));
    }
  } finally {
    button.disabled = false;
  }
}


export async function submitResolution(event) {
  event.preventDefault();
  const view = state.workflow;
  if (!view || !waitingEscalation(view) || !view.viewer_may_resolve) { return; }
  const session = state.session;
  const { body, errors } = resolutionBody(view);
  if (errors) {
    flash('The resolution was not sent: 1 problem needs fixing (marked next to the field).', 'error');
    showResolveErrors(errors);
    return;
  }
  if (!state.resolvePending || state.resolvePending.workflowId !== view.workflow_id || state.resolvePending.body !== body) {
    state.resolvePending = { workflowId: view.workflow_id, body, key: newKey() };
  }
  const pending = state.resolvePending;
  const button = $('resolve-submit');
  button.disabled = true;
  clearResolveErrors();
  flash('Submitting…');
  try {
    const result = await api('POST', '/workflows/' + encodeURIComponent(pending.workflowId) + '/resolution', pending.body, pending.key, session);
    state.resolvePending = null;
    flash('Resolution applied (' + result.decision + '): the workflow is now ' + String(result.status).replace(/_/g, ' ') + '.', 'ok');
    $('resolve').reset();
    showActionFields();
    await openWorkflow(pending.workflowId, true);
    focusOn($('wf-title'));
  } catch (err) {
    if (gone(err)) { return; }
    if (!(err.status === undefined || err.status >= 500)) { state.resolvePending = null; }
    if (err.status === 400 && err.body && Array.isArray(err.body.errors)) {
      const n = err.body.errors.length;
      flash('The resolution was not sent: ' + n + (n === 1 ? ' problem needs' : ' problems need') + ' fixing (marked next to the fields).', 'error');
      showResolveErrors(err.body.errors);
    } else {
      flash(describe(err), 'error');
      // A 404 (not, or no longer, theirs) or 409 reloads the view: no form stays beside it.
      if (err.status === 404 || err.status === 409) { await openWorkflow(pending.workflowId, true); focusOn($('wf-title')); }
    }
  } finally {
    button.disabled = false;
  }
}
