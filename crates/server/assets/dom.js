// Small DOM helpers. Every text goes in through textContent (never
// innerHTML), so a contact's name can never become markup.

/** h('tag.class#id', {attr: value, onclick: fn}, child, ...) */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement((m && m[1]) || 'div');
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else if (k === 'selected') el.selected = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
/** A labelled form field: label, control, hint and an error slot tied to it. */
export function field(labelText, control, { hint, name } = {}) {
  const id = control.id || `f${++uid}`;
  control.id = id;
  if (name) control.name = name;
  const err = h('div.field-error', { id: `${id}-error`, hidden: true });
  const hintEl = hint ? h('div.hint', { id: `${id}-hint` }, hint) : null;
  const described = [hintEl && hintEl.id, err.id].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', described);
  const wrap = h('div.field', h('label', { for: id }, labelText), control, hintEl, err);
  wrap.dataset.field = name || '';
  return wrap;
}

/** Shows `message` next to the control of a field() wrapper (or clears it). */
export function setFieldError(wrap, message) {
  const err = wrap.querySelector('.field-error');
  const control = wrap.querySelector('input, select, textarea');
  if (message) {
    err.textContent = message;
    err.hidden = false;
    control && control.setAttribute('aria-invalid', 'true');
  } else {
    err.textContent = '';
    err.hidden = true;
    control && control.removeAttribute('aria-invalid');
  }
}

export function notice(kind, ...children) {
  return h(`div.notice.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

export function announce(text) {
  const live = document.getElementById('live');
  if (live) live.textContent = text;
}

export function fmtNumber(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US');
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return i === 0 ? `${v} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

export function fmtDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  seconds = Math.round(seconds);
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${seconds % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A table whose cells carry their column name, so it stacks on phones. */
export function table(caption, columns, rows, { stack = true } = {}) {
  return h('div.table-wrap',
    h(`table${stack ? '.stack' : ''}`,
      caption ? h('caption.visually-hidden', caption) : null,
      h('thead', h('tr', columns.map((c) => h(`th${c.num ? '.num' : ''}`, { scope: 'col' }, c.title)))),
      h('tbody', rows.map((r) => h('tr', columns.map((c, i) =>
        h(`td${c.num ? '.num' : ''}${c.nowrap ? '.nowrap' : ''}`, { 'data-label': c.title }, r[i]))))),
    ));
}

export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}
