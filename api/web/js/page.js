// What every part of the page uses: its elements, the two live regions, the title, the
// signed-in name, formatting, table cells, and the marks of invalid fields.

import { state } from './state.js';

export const $ = (id) => document.getElementById(id);

// Messages go to one of two live regions that are always rendered: `#alert` (role=alert)
// for errors, `#flash` (role=status) for progress and confirmations. Only their text
// changes; the same message twice is re-announced by clearing the region first.
let announcement = 0;
export function flash(message, kind) {
  const target = kind === 'error' ? $('alert') : $('flash');
  const other = kind === 'error' ? $('flash') : $('alert');
  other.textContent = '';
  if (kind !== 'error') { target.className = 'flash' + (kind ? ' ' + kind : ''); }
  const seq = ++announcement;
  if (message && target.textContent === message) {
    target.textContent = '';
    setTimeout(() => { if (seq === announcement) { target.textContent = message; } }, 100);
  } else {
    target.textContent = message || '';
  }
}

export function setTitle(part) { document.title = part ? part + ' — HITL review' : 'HITL review'; }

export function focusOn(element) {
  if (element) { element.focus(); }
}

export function show(section) {
  for (const id of ['sign-in', 'queue', 'workflow']) { $(id).hidden = id !== section; }
  if (section === 'sign-in') { setTitle('Sign in'); }
  if (section === 'queue') { setTitle('Review queue'); }
}

export function signedInAs(name) {
  state.viewer = name || state.viewer;
  $('who-name').textContent = name ? 'Signed in as ' + name : 'Signed in';
}

export function fmtDate(text) {
  if (!text) { return '—'; }
  const d = new Date(text);
  return isNaN(d) ? text : d.toLocaleString();
}

export function fmtValue(value) {
  if (value === undefined || value === null) { return '—'; }
  if (Array.isArray(value)) { return value.map(fmtValue).join(', '); }
  if (typeof value === 'object') { return JSON.stringify(value); }
  return String(value);
}

/** Every leaf of `value` as [path, value]: objects by key, lists by item (`specs[0].name`). */
export function flatten(prefix, value, out) {
  if (Array.isArray(value) && value.length) {
    value.forEach((item, i) => flatten(prefix + '[' + i + ']', item, out));
  } else if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
    for (const key of Object.keys(value)) { flatten(prefix ? prefix + '.' + key : key, value[key], out); }
  } else if (prefix) {
    out.push([prefix, value]);
  }
  return out;
}

export function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) { td.className = className; }
  row.appendChild(td);
  return td;
}


export function fact(list, label, value) {
  const dt = document.createElement('dt');
  dt.textContent = label;
  const dd = document.createElement('dd');
  dd.textContent = value;
  list.append(dt, dd);
}

export function sentence(label, message) {
  const text = label + ' ' + String(message || 'is not valid').trim();
  return /[.!?)]$/.test(text) ? text : text + '.';
}

/** Removes the error notes and marks of form `formId` and empties its summary box. */
export function clearErrors(formId, boxId) {
  for (const el of document.querySelectorAll('#' + formId + ' .field-error')) { el.remove(); }
  for (const el of document.querySelectorAll('#' + formId + ' [aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    const own = el.dataset.describedby;
    if (own) { el.setAttribute('aria-describedby', own); } else { el.removeAttribute('aria-describedby'); }
  }
  $(boxId).hidden = true;
  $(boxId + '-list').textContent = '';
}

/** Marks `control` invalid, described first by the error note `noteId`. */
export function markInvalid(control, noteId) {
  if (!control.hasAttribute('aria-invalid')) {
    if (control.dataset.describedby === undefined) { control.dataset.describedby = control.getAttribute('aria-describedby') || ''; }
    control.setAttribute('aria-invalid', 'true');
  }
  const ids = (control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  control.setAttribute('aria-describedby', [noteId].concat(ids).join(' '));
}

export function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }
