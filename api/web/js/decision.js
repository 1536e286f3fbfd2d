// The decision form: corrections, the request body, and the field errors of an answer.

import { $, focusOn, sentence, clearErrors, markInvalid } from './page.js';
import { buildEditor, patternOf, valueAt } from './editor.js';
import { state } from './state.js';

export function resetForm() {
  $('decide').reset();
  $('corrections').textContent = '';
  clearFieldErrors();
  showCorrections();
  state.pending = null;
}

/** Corrections go with "Request changes" (to the agent) and "Approve" (edit and approve). */
export function showCorrections() {
  const decision = currentDecision();
  $('corrections-block').hidden = decision !== 'request_changes' && decision !== 'approve';
  $('corrections-hint').textContent = decision === 'approve'
    ? 'Edit and approve: the draft with these corrections becomes the final version, exactly as you type them, without another round with the agent.'
    : 'A correction replaces a field\'s value in the next draft exactly as you type it.';
}

/** Gives every correction row numbered accessible names ("Correction 2: field", …). */
function renumberCorrections() {
  Array.from($('corrections').children).forEach((li, i) => {
    li.querySelector('.field-label').textContent = 'Correction ' + (i + 1) + ': field';
    const own = li.querySelector('.value-slot > .ed > label.ed-label, .value-slot > .ed > fieldset > legend');
    if (own) { own.textContent = 'Correction ' + (i + 1) + ': corrected value'; }
    li.querySelector('.remove').setAttribute('aria-label', 'Remove correction ' + (i + 1));
    const picker = li.querySelector('.value-slot > .ed > input[type=color]');
    if (picker) { picker.setAttribute('aria-label', 'Correction ' + (i + 1) + ': pick the colour'); }
  });
}

/**
 * Fits a row's value control to its field, from the workflow's type (issue 28): a select
 * over an `enum`, a textarea for long text, a colour picker beside the #RRGGBB text, a list
 * with "Add item" and "Remove item" for a whole list, a group for an object; limits from the
 * schema. One-line values start empty (typed afresh); the others start as the draft has them.
 */
function fitValue(row) {
  const field = row.querySelector('select').value;
  const slot = row.querySelector('.value-slot');
  slot.textContent = '';
  const content = state.workflow && state.workflow.artifact ? state.workflow.artifact.content : {};
  const forms = (state.workflow && state.workflow.correction_forms) || {};
  // Without the type (it could not be fetched), a text box limited as the view says.
  const form = forms[patternOf(field)] || {};
  const type = state.type || { hints: { fields: {} }, artifact_schema: {} };
  const schema = state.type ? undefined : { type: 'string', maxLength: form.max_length || 500 };
  row.editor = buildEditor(field, valueAt(content, field), {
    type, schema, content, label: 'Correction: corrected value', hiddenLabel: true, blank: true, name: 'value',
  });
  slot.appendChild(row.editor.element);
}

export function addCorrection() {
  const row = document.querySelector('#correction-row').content.firstElementChild.cloneNode(true);
  row.querySelector('.remove').addEventListener('click', () => {
    row.remove();
    renumberCorrections();
    focusOn($('add-correction'));
  });
  row.querySelector('select').addEventListener('change', () => {
    fitValue(row);
    renumberCorrections();
  });
  $('corrections').appendChild(row);
  fitValue(row);
  renumberCorrections();
  focusOn(row.querySelector('select'));
}

/** A row's value as sent: text for a text field, JSON for a list, an object or a number. */
function rowValue(row) {
  const v = row.editor ? row.editor.read() : undefined;
  if (v === undefined || v === null) { return ''; }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The value control of a row: the named one, else the first inside its editor. */
function valueControl(li) {
  return li.querySelector('[name=value]') || li.querySelector('.value-slot input, .value-slot select, .value-slot textarea, .value-slot button');
}

export function clearFieldErrors() { clearErrors('decide', 'field-errors'); }

/** The control and the readable name of an API error's `field`, for the rows that were sent. */
function fieldTarget(field, rows) {
  const m = /^corrections\[(\d+)\]\.(field|value)$/.exec(field);
  if (m && rows[Number(m[1])]) {
    const li = rows[Number(m[1])];
    const n = Array.from($('corrections').children).indexOf(li) + 1;
    const select = li.querySelector('select');
    return m[2] === 'field'
      ? { control: select, label: 'The field of correction ' + n, after: li }
      : { control: valueControl(li), label: 'Correction ' + n + ' (' + select.value + ')', after: li };
  }
  switch (field) {
    case 'comments': return { control: $('comments'), label: 'Comments', after: $('comments-hint') };
    case 'corrections': {
      const li = $('corrections').firstElementChild;
      const first = li && valueControl(li);
      return { control: first || $('add-correction'), label: 'Field corrections', after: li || $('corrections') };
    }
    case 'decision':
    case 'iteration': {
      const radio = document.querySelector('#decide input[name=decision]:checked') || document.querySelector('#decide input[name=decision]');
      return { control: radio, label: field === 'decision' ? 'Decision' : 'Iteration', after: document.querySelector('#decide .choice') };
    }
    default: return { control: null, label: field, after: null };
  }
}

/** Marks and describes every invalid control, lists the problems, focuses the first. */
export function showFieldErrors(errors, rows) {
  clearFieldErrors();
  const list = $('field-errors-list');
  let first = null;
  errors.forEach((e, i) => {
    const { control, label, after } = fieldTarget(e.field, rows);
    const text = sentence(label, e.message);
    const li = document.createElement('li');
    li.textContent = text;
    list.appendChild(li);
    if (!control) { return; }
    const note = document.createElement('p');
    note.className = 'field-error';
    note.id = 'field-error-' + i;
    note.textContent = text;
    if (after && after.tagName === 'LI') { after.appendChild(note); } else if (after) { after.after(note); }
    markInvalid(control, note.id);
    first = first || control;
  });
  $('field-errors').hidden = errors.length === 0;
  focusOn(first);
}

/** The chosen decision, or null: nothing is preselected, so one click never approves. */
export function currentDecision() {
  const checked = document.querySelector('#decide input[name=decision]:checked');
  return checked ? checked.value : null;
}

/** The request body, and the correction rows in the order they were sent. */
export function buildBody() {
  const decision = currentDecision();
  const body = { iteration: state.workflow.iteration, decision };
  const comments = $('comments').value.trim();
  if (comments) { body.comments = comments; }
  const rows = [];
  if (decision === 'request_changes' || decision === 'approve') {
    const corrections = [];
    for (const li of $('corrections').children) {
      const value = rowValue(li);
      if (value.trim()) {
        corrections.push({ field: li.querySelector('select').value, value });
        rows.push(li);
      }
    }
    if (corrections.length) { body.corrections = corrections; }
  }
  return { body: JSON.stringify(body), rows };
}
