// The escalation panel: the drafts, the resolution form, its body and its field errors.

import { $, focusOn, fmtValue, flatten, fact, sentence, clearErrors, markInvalid } from './page.js';
import { buildEditor, controlFor } from './editor.js';
import { state } from './state.js';

// The final version's form (built from the workflow's type), and whether the resolver edits
// it as a form or as JSON text.
let finalEditor = null;
let asJson = false;

export function waitingEscalation(view) {
  return view.status === 'escalated' && view.escalation && view.escalation.resolve_by;
}

export function renderEscalation(view) {
  const waiting = Boolean(waitingEscalation(view) && view.viewer_may_resolve);
  $('escalation-panel').hidden = !waiting;
  if (waitingEscalation(view) && !waiting) {
    $('decided-note').textContent = 'Only group ' + view.escalation_group + ' resolves this escalation; you can follow it here.';
  }
  if (!waiting) { return; }
  $('decided-note').hidden = true;
  $('resolve-iteration').textContent = String(view.escalation.iteration);
  const list = $('esc-drafts');
  list.textContent = '';
  for (const draft of view.drafts || []) {
    const li = document.createElement('li');
    li.appendChild(document.createTextNode('Iteration ' + draft.iteration + ' (' + draft.generator + ')'));
    const dl = document.createElement('dl');
    dl.className = 'facts';
    for (const [field, value] of flatten('', draft.content, [])) { fact(dl, field, fmtValue(value)); }
    li.appendChild(dl);
    list.appendChild(li);
  }
  if (!state.resolvePending || state.resolvePending.workflowId !== view.workflow_id) {
    const newest = (view.drafts || [])[view.drafts.length - 1];
    $('resolve-final').value = newest ? JSON.stringify(newest.content, null, 2) : '';
    buildFinalForm(newest ? newest.content : {});
    showFinalMode(!finalEditor);
  }
}

/** The final version as a form over the type's schema (bound fields read-only). */
function buildFinalForm(content) {
  const box = $('resolve-final-form');
  box.textContent = '';
  finalEditor = null;
  if (!state.type) { return; }
  finalEditor = buildEditor('', content, {
    type: state.type, content, label: 'Final version', hiddenLabel: true,
    readOnly: Object.keys(state.type.hints.bound || {}),
  });
  box.appendChild(finalEditor.element);
}

function showFinalMode(json) {
  asJson = json;
  $('resolve-final-form').hidden = json;
  $('resolve-final-json').hidden = !json;
  $('resolve-mode').hidden = !finalEditor;
  $('resolve-mode').textContent = json ? 'Edit as a form' : 'Edit as JSON';
}

/** Switches between the form and the JSON text, carrying the edits over. */
export function toggleFinalMode() {
  clearResolveErrors();
  if (!asJson) {
    $('resolve-final').value = JSON.stringify(finalEditor.read(), null, 2);
    showFinalMode(true);
    focusOn($('resolve-final'));
    return;
  }
  let content;
  try {
    content = JSON.parse($('resolve-final').value);
  } catch (err) {
    showResolveErrors([{ field: 'final', message: 'is not valid JSON (' + err.message + ')' }]);
    return;
  }
  buildFinalForm(content);
  showFinalMode(false);
  finalEditor.focus();
}

/** Forgets the final version's form (the workflow view was cleared). */
export function clearFinalForm() {
  $('resolve-final-form').textContent = '';
  finalEditor = null;
  showFinalMode(false);
}

function currentAction() {
  const checked = document.querySelector('#resolve input[name=action]:checked');
  return checked ? checked.value : '';
}

export function showActionFields() {
  const action = currentAction();
  for (const el of document.querySelectorAll('#resolve [data-action]')) {
    el.hidden = !el.dataset.action.split(' ').includes(action);
  }
}

export function clearResolveErrors() { clearErrors('resolve', 'resolve-errors'); }

const RESOLVE_FIELDS = {
  action: ['Resolution', () => document.querySelector('#resolve input[name=action]')],
  final: ['The final version', (path) => (asJson || !finalEditor
    ? $('resolve-final')
    : controlFor($('resolve-final-form'), path) || $('resolve-final-form').querySelector('input, select, textarea'))],
  iterations: ['More iterations', () => $('resolve-iterations')],
  guidance: ['The guidance', () => $('resolve-guidance')],
  reviewer_group: ['The reviewer group', () => $('resolve-group')],
  review_timeout_seconds: ['The new review deadline', () => $('resolve-hours')],
  reason: ['The reason', () => $('resolve-reason')],
};

export function showResolveErrors(errors) {
  clearResolveErrors();
  let first = null;
  errors.forEach((e, i) => {
    const key = Object.keys(RESOLVE_FIELDS).find((k) => e.field === k || e.field.startsWith(k + '.') || e.field.startsWith(k + '['));
    const [label, control] = key ? RESOLVE_FIELDS[key] : [e.field, () => null];
    const where = key && e.field !== key ? ' (' + e.field.slice(key.length + 1) + ')' : '';
    const text = sentence(label + where, e.message);
    const li = document.createElement('li');
    li.textContent = text;
    $('resolve-errors-list').appendChild(li);
    const el = control(key && e.field !== key ? e.field.slice(key.length + 1) : '');
    if (!el) { return; }
    const note = document.createElement('p');
    note.className = 'field-error';
    note.id = 'resolve-error-' + i;
    note.textContent = text;
    (el.type === 'radio' ? el.closest('fieldset') : el).after(note);
    markInvalid(el, note.id);
    first = first || el;
  });
  $('resolve-errors').hidden = errors.length === 0;
  focusOn(first);
}

/** The resolution body, or field errors found before sending (no action, JSON that does not parse). */
export function resolutionBody(view) {
  const action = currentAction();
  if (!action) { return { errors: [{ field: 'action', message: 'is required: choose one' }] }; }
  const body = { iteration: view.escalation.iteration, action };
  const reason = $('resolve-reason').value.trim();
  if (action === 'resolve') {
    if (!asJson && finalEditor) {
      body.final = finalEditor.read();
    } else {
      try {
        body.final = JSON.parse($('resolve-final').value);
      } catch (err) {
        return { errors: [{ field: 'final', message: 'is not valid JSON (' + err.message + ')' }] };
      }
    }
    if (reason) { body.reason = reason; }
  } else if (action === 'extend') {
    body.iterations = Number($('resolve-iterations').value);
    const guidance = $('resolve-guidance').value.trim();
    if (guidance) { body.guidance = guidance; }
  } else if (action === 'reassign') {
    body.reviewer_group = $('resolve-group').value.trim();
    const hours = $('resolve-hours').value.trim();
    if (hours) { body.review_timeout_seconds = Math.round(Number(hours) * 3600); }
  } else if (reason) {
    body.reason = reason;
  }
  return { body: JSON.stringify(body) };
}
