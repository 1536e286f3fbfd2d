// Form controls built from an artifact type (issue 28): the JSON Schema says what a value is,
// the type's hints say how it is labelled and edited. One builder serves a correction's value
// and the escalation's final version: a select for an `enum`, a textarea for long text, a
// colour picker beside the #RRGGBB text, a list whose items are added and removed, a fieldset
// per object. Every control carries `data-path` (the path the server's field errors name).

import { api } from './api.js';

const COLOUR = /^\^#\[0-9A-Fa-f\]\{6\}\$$/;
let ids = 0;
const cache = new Map();

/** The type `ref` ({name, version}) with its schemas and hints, fetched once per version. */
export async function loadType(ref) {
  if (!ref || !ref.name) { return null; }
  const key = ref.name + '@' + (ref.version || '');
  if (!cache.has(key)) {
    const query = ref.version ? '?version=' + encodeURIComponent(ref.version) : '';
    cache.set(key, api('GET', '/types/' + encodeURIComponent(ref.name) + query).catch((err) => {
      cache.delete(key);
      throw err;
    }));
  }
  return cache.get(key);
}

/** `specs[2].value` as segments: keys (strings) and indices (numbers). */
export function parsePath(path) {
  const out = [];
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\d*\])*)$/.exec(part);
    if (!m) { return null; }
    if (m[1]) { out.push(m[1]); }
    for (const idx of m[2].match(/\[\d*\]/g) || []) {
      const inside = idx.slice(1, -1);
      out.push(inside === '' ? null : Number(inside));
    }
  }
  return out;
}

/** Segments back to a path. */
export function showPath(segments) {
  let text = '';
  for (const s of segments) {
    if (typeof s === 'string') { text += (text ? '.' : '') + s; } else { text += '[' + (s === null ? '' : s) + ']'; }
  }
  return text;
}

/** The pattern of a concrete path (`specs[2].value` → `specs[].value`). */
export function patternOf(path) { return path.replace(/\[\d+\]/g, '[]'); }

/** The sub-schema at `path` (`properties` for keys, `items` for indices), or null. */
export function schemaAt(schema, path) {
  let at = schema;
  for (const s of parsePath(path) || [null, null]) {
    if (!at) { return null; }
    at = typeof s === 'string' ? (at.properties || {})[s] : at.items;
  }
  return at && typeof at === 'object' ? at : null;
}

/** The value at `path` inside `value`, or undefined. */
export function valueAt(value, path) {
  let at = value;
  for (const s of parsePath(path) || []) {
    if (at === null || typeof at !== 'object') { return undefined; }
    at = at[s];
  }
  return at;
}

/** The hint of `path`: the one written for it, else for its pattern. */
export function hintOf(type, path) {
  const fields = (type && type.hints && type.hints.fields) || {};
  return fields[path] || fields[patternOf(path)] || {};
}

/**
 * A readable name for `path`: the hint's label (or the last key), then which item of each
 * list it is in ("Spec, item 2"; "new item" past the end of `content`'s list), unless
 * `numbered` is false (a control inside an item's own group, whose legend numbers it).
 */
export function labelOf(type, path, content, numbered = true) {
  const segments = parsePath(path) || [];
  let label = hintOf(type, path).label;
  const items = [];
  let end = segments.length;
  // `bullets[1]` has no label of its own: take the list's and say which item.
  while (!label && end > 0 && typeof segments[end - 1] === 'number') { end -= 1; }
  if (!label) {
    const base = showPath(segments.slice(0, end));
    label = hintOf(type, base).label || String(segments[end - 1] || path).replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
  }
  segments.forEach((s, i) => {
    if (typeof s !== 'number' || !numbered) { return; }
    const list = valueAt(content, showPath(segments.slice(0, i)));
    items.push(Array.isArray(list) && s < list.length ? 'item ' + (s + 1) : 'new item');
  });
  return items.length ? label + ', ' + items.join(', ') : label;
}

/**
 * The concrete paths a reviewer may correct in `content`: each correctable pattern with its
 * `[]` expanded over the draft's items, plus one new item past the end of each list.
 */
export function correctablePaths(patterns, content) {
  const out = [];
  const expand = (segments, i, prefix) => {
    if (i === segments.length) { out.push(showPath(prefix)); return; }
    const s = segments[i];
    if (s !== null) { expand(segments, i + 1, prefix.concat([s])); return; }
    const list = valueAt(content, showPath(prefix));
    const n = Array.isArray(list) ? list.length : 0;
    for (let k = 0; k <= n; k++) { expand(segments, i + 1, prefix.concat([k])); }
  };
  for (const pattern of patterns) {
    const segments = parsePath(pattern);
    if (segments) { expand(segments, 0, []); }
  }
  return out;
}

function typeName(schema) {
  if (!schema) { return null; }
  const t = Array.isArray(schema.type) ? schema.type.find((x) => x !== 'null') : schema.type;
  if (t) { return t; }
  if (schema.properties) { return 'object'; }
  if (schema.items) { return 'array'; }
  if (Array.isArray(schema.enum)) { return 'string'; }
  return null;
}

function labelled(control, text, hiddenLabel) {
  control.id = control.id || 'ed-' + (++ids);
  const label = document.createElement('label');
  label.htmlFor = control.id;
  label.className = 'ed-label' + (hiddenLabel ? ' vh' : '');
  label.textContent = text;
  return label;
}

/** Enter in a one-line control must not submit the whole form (implicit submission). */
function noEnterSubmit(input) {
  input.addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); } });
}

/**
 * Builds the editor of `path` for `value`: returns `{ element, read, focus }`. Options:
 * `type` (the fetched type: schemas and hints), `schema` (defaults to the artifact schema at
 * `path`), `label` (the accessible name of the top control), `hiddenLabel` (no visible
 * label for the top control), `blank` (an empty one-line value, for a correction typed
 * afresh), `readOnly` (paths the reviewer may not change, e.g. bound fields), `name` (the
 * top control's name attribute).
 */
export function buildEditor(path, value, options) {
  const type = options.type;
  const schema = options.schema || schemaAt(type.artifact_schema, path) || {};
  const hint = hintOf(type, path);
  const label = options.label || labelOf(type, path, options.content, false);
  const kind = typeName(schema);
  const readOnly = (options.readOnly || []).includes(path);
  const wrap = document.createElement('div');
  wrap.className = 'ed ed-kind-' + (kind || 'json');
  wrap.dataset.edPath = path;

  if (kind === 'object') {
    const set = group('ed-object', path, label, options.hiddenLabel);
    const keys = orderedKeys(type, path, schema);
    const required = new Set(schema.required || []);
    const children = keys.map((key) => {
      const child = path ? path + '.' + key : key;
      const sub = schema.properties[key];
      const v = value && typeof value === 'object' ? value[key] : undefined;
      const ed = buildEditor(child, v, { ...options, schema: sub, label: null, hiddenLabel: false, blank: false, name: null });
      set.appendChild(ed.element);
      return [key, ed];
    });
    wrap.appendChild(set);
    return {
      element: wrap,
      focus: () => children.length && children[0][1].focus(),
      read: () => {
        const out = {};
        for (const [key, ed] of children) {
          const v = ed.read();
          // An optional field left empty is left out; a required one is sent for the
          // server to name.
          if (v === undefined || (v === '' && !required.has(key))) { continue; }
          out[key] = v;
        }
        return out;
      },
    };
  }

  if (kind === 'array') {
    return listEditor(path, Array.isArray(value) ? value : [], schema, label, options, wrap);
  }

  let control;
  let read;
  if (kind === 'string' && Array.isArray(schema.enum)) {
    control = document.createElement('select');
    const values = schema.enum.map(String);
    if (value !== undefined && value !== null && !values.includes(String(value))) { values.unshift(String(value)); }
    if (value === undefined) { values.unshift(''); }
    for (const v of values) {
      const option = document.createElement('option');
      option.value = v;
      option.textContent = v || '(none)';
      control.appendChild(option);
    }
    control.value = value === undefined ? '' : String(value);
    read = () => control.value;
  } else if (kind === 'string' && hint.widget === 'long_text') {
    control = document.createElement('textarea');
    control.rows = 4;
    control.value = value === undefined || value === null ? '' : String(value);
    read = () => control.value;
  } else if (kind === 'string' || kind === 'number' || kind === 'integer') {
    control = document.createElement('input');
    control.type = 'text';
    if (kind !== 'string') { control.inputMode = kind === 'integer' ? 'numeric' : 'decimal'; }
    control.value = options.blank || value === undefined || value === null ? '' : String(value);
    if (options.blank) { control.placeholder = 'Corrected value'; }
    noEnterSubmit(control);
    read = kind === 'string'
      ? () => control.value
      : () => (control.value.trim() === '' ? undefined : Number(control.value));
  } else if (kind === 'boolean') {
    control = document.createElement('input');
    control.type = 'checkbox';
    control.checked = value === true;
    read = () => control.checked;
  } else {
    // No schema to build from: the value as JSON text.
    control = document.createElement('textarea');
    control.rows = 3;
    control.spellcheck = false;
    control.value = value === undefined ? '' : JSON.stringify(value);
    read = () => {
      if (!control.value.trim()) { return undefined; }
      try { return JSON.parse(control.value); } catch (_) { return control.value; }
    };
  }
  if (schema.maxLength && 'maxLength' in control) { control.maxLength = schema.maxLength; }
  control.dataset.path = path;
  if (options.name) { control.name = options.name; }
  if (readOnly) { control.readOnly = true; control.disabled = control.tagName === 'SELECT'; }
  wrap.appendChild(labelled(control, label, options.hiddenLabel));
  wrap.appendChild(control);
  if (hint.help && !options.hiddenLabel) {
    const help = document.createElement('p');
    help.className = 'hint';
    help.id = control.id + '-help';
    help.textContent = hint.help;
    control.setAttribute('aria-describedby', help.id);
    wrap.appendChild(help);
  }
  if (kind === 'string' && (hint.widget === 'colour' || COLOUR.test(schema.pattern || '')) && !readOnly) {
    const picker = document.createElement('input');
    picker.type = 'color';
    picker.className = 'colour';
    picker.setAttribute('aria-label', 'Pick the colour: ' + label);
    const sync = () => { if (/^#[0-9a-fA-F]{6}$/.test(control.value)) { picker.value = control.value.toLowerCase(); } };
    picker.addEventListener('input', () => { control.value = picker.value.toUpperCase(); });
    control.addEventListener('input', sync);
    sync();
    wrap.appendChild(picker);
  }
  return { element: wrap, read, focus: () => control.focus() };
}

/** A fieldset for `path` named by its legend (visually hidden when `hiddenLabel`). */
function group(className, path, label, hiddenLabel) {
  const set = document.createElement('fieldset');
  set.className = className;
  set.dataset.path = path;
  const legend = document.createElement('legend');
  legend.textContent = label;
  if (hiddenLabel) { legend.className = 'vh'; }
  set.appendChild(legend);
  return set;
}

/** Object keys in the hints' order (for the top level), then the schema's. */
function orderedKeys(type, path, schema) {
  const keys = Object.keys(schema.properties || {});
  const order = ((type.hints && type.hints.order) || [])
    .map((p) => (path ? (p.startsWith(path + '.') ? p.slice(path.length + 1) : null) : p.split('.')[0]))
    .filter((k) => k && keys.includes(k));
  return [...new Set(order.concat(keys))];
}

/** A list: one editor per item, each with a Remove button, and an "Add item" button. */
function listEditor(path, items, schema, label, options, wrap) {
  const set = group('ed-list', path, label, options.hiddenLabel);
  const list = document.createElement('ol');
  list.className = 'ed-items';
  set.appendChild(list);
  const add = document.createElement('button');
  add.type = 'button';
  add.className = 'secondary ed-add';
  set.appendChild(add);
  wrap.appendChild(set);
  const readOnly = (options.readOnly || []).includes(path);
  const entries = [];
  const itemSchema = schema.items && typeof schema.items === 'object' ? schema.items : {};
  // In a correction row the list's own name is "Correction N: corrected value"; its items
  // are named after the field ("Bullet points, item 2").
  const base = options.hiddenLabel ? labelOf(options.type, path, options.content) : label;
  const itemName = (n) => base + ', item ' + n;

  const renumber = () => {
    entries.forEach((entry, i) => {
      entry.li.querySelector(':scope > .ed-remove').textContent = 'Remove item ' + (i + 1);
      // The visible text starts the accessible name (WCAG 2.5.3, label in name).
      entry.li.querySelector(':scope > .ed-remove').setAttribute('aria-label', 'Remove item ' + (i + 1) + ' of ' + base);
      const own = entry.li.querySelector(':scope > .ed > label.ed-label, :scope > .ed > fieldset > legend');
      if (own) { own.textContent = itemName(i + 1); }
      for (const el of entry.li.querySelectorAll('[data-path]')) {
        el.dataset.path = el.dataset.path.replace(new RegExp('^' + escapeRe(path) + '\\[\\d+\\]'), path + '[' + i + ']');
      }
    });
    add.textContent = 'Add item to ' + base;
    add.disabled = readOnly || (schema.maxItems !== undefined && entries.length >= schema.maxItems);
  };
  const append = (v, focus) => {
    const li = document.createElement('li');
    const n = entries.length;
    const ed = buildEditor(path + '[' + n + ']', v, { ...options, schema: itemSchema, label: itemName(n + 1), hiddenLabel: false, blank: false, name: null });
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'link ed-remove';
    remove.disabled = readOnly;
    const entry = { li, ed };
    remove.addEventListener('click', () => {
      const at = entries.indexOf(entry);
      entries.splice(at, 1);
      li.remove();
      renumber();
      const next = entries[at] || entries[at - 1];
      if (next) { next.ed.focus(); } else { add.focus(); }
    });
    li.append(ed.element, remove);
    list.appendChild(li);
    entries.push(entry);
    renumber();
    if (focus) { ed.focus(); }
  };
  add.addEventListener('click', () => append(undefined, true));
  items.forEach((v) => append(v, false));
  renumber();
  return {
    element: wrap,
    focus: () => (entries.length ? entries[0].ed.focus() : add.focus()),
    // Items added and left empty are dropped.
    read: () => entries.map((e) => e.ed.read()).filter((v) => !isEmpty(v)),
  };
}

function isEmpty(v) {
  if (v === undefined || v === '') { return true; }
  if (v && typeof v === 'object' && !Array.isArray(v)) { return Object.values(v).every(isEmpty); }
  return false;
}

function escapeRe(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

/** The control of `path` inside `root` (its own, else the nearest list or object holding it). */
export function controlFor(root, path) {
  let p = path;
  while (p) {
    const el = Array.from(root.querySelectorAll('[data-path]')).find((c) => c.dataset.path === p);
    if (el) {
      return el.tagName === 'FIELDSET' ? (el.querySelector('input, select, textarea, button') || el) : el;
    }
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    p = cut > 0 ? p.slice(0, cut) : '';
  }
  return null;
}
