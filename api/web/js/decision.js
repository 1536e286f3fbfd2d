// The decision form: corrections, the request body, and the field errors of an answer.

import { $, focusOn, sentence, clearErrors, markInvalid } from './page.js';
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
    li.querySelector('.value-label').textContent = 'Correction ' + (i + 1) + ': corrected value';
    li.querySelector('.remove').setAttribute('aria-label', 'Remove correction ' + (i + 1));
    const picker = li.querySelector('input[type=color]');
    if (picker) { picker.setAttribute('aria-label', 'Correction ' + (i + 1) + ': pick the colour'); }
  });
}

let suggestionLists = 0;

/**
 * Fits a row's value control to its field, from the workflow's type (issue 28): the schema's
 * longest length, its allowed values as suggestions, and for a colour a picker beside the
 * #RRGGBB text. The text input stays the value that is sent.
 */
function fitValue(row) {
  const field = row.querySelector('select').value;
  const forms = (state.workflow && state.workflow.correction_forms) || {};
  const form = forms[field] || {};
  const input = row.querySelector('input[name=value]');
  input.maxLength = form.max_length || 500;
  let list = row.querySelector('datalist');
  if (form.options && form.options.length) {
    if (!list) {
      list = document.createElement('datalist');
      list.id = 'correction-values-' + (++suggestionLists);
      row.appendChild(list);
    }
    list.textContent = '';
    for (const value of form.options) {
      const option = document.createElement('option');
      option.value = value;
      list.appendChild(option);
    }
    input.setAttribute('list', list.id);
  } else {
    if (list) { list.remove(); }
    input.removeAttribute('list');
  }
  let picker = row.querySelector('input[type=color]');
  if (form.widget === 'colour') {
    if (!picker) {
      picker = document.createElement('input');
      picker.type = 'color';
      picker.className = 'colour';
      picker.addEventListener('input', () => { input.value = picker.value.toUpperCase(); });
      input.after(picker);
    }
    if (/^#[0-9a-fA-F]{6}$/.test(input.value)) { picker.value = input.value.toLowerCase(); }
  } else if (picker) {
    picker.remove();
  }
}

export function addCorrection() {
  const row = document.querySelector('#correction-row').content.firstElementChild.cloneNode(true);
  row.querySelector('.remove').addEventListener('click', () => {
    row.remove();
    renumberCorrections();
    focusOn($('add-correction'));
  });
  // Enter in a value must not send the whole decision (implicit form submission).
  const input = row.querySelector('input[name=value]');
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') { event.preventDefault(); }
  });
  input.addEventListener('input', () => {
    const picker = row.querySelector('input[type=color]');
    if (picker && /^#[0-9a-fA-F]{6}$/.test(input.value)) { picker.value = input.value.toLowerCase(); }
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
      : { control: li.querySelector('input[name=value]'), label: 'Correction ' + n + ' (' + select.value + ')', after: li };
  }
  switch (field) {
    case 'comments': return { control: $('comments'), label: 'Comments', after: $('comments-hint') };
    case 'corrections': {
      const first = $('corrections').querySelector('input[name=value]');
      return { control: first || $('add-correction'), label: 'Field corrections', after: first ? first.closest('li') : $('corrections') };
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
      const value = li.querySelector('input[name=value]').value;
      if (value.trim()) {
        corrections.push({ field: li.querySelector('select').value, value });
        rows.push(li);
      }
    }
    if (corrections.length) { body.corrections = corrections; }
  }
  return { body: JSON.stringify(body), rows };
}
