// The one client of Roster's JSON API: the same routes, rules and messages
// scripts use. The session cookie is HttpOnly; writes carry the CSRF token
// the server handed out with the session.

let csrfToken = null;

/** The API's sentences start lowercase (they read well after "roster: "); the page shows them as sentences. */
export function sentence(text) {
  const t = String(text || '').trim();
  if (!t) return t;
  return t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(sentence(body && body.message) || `The server answered ${status}.`);
    this.status = status;
    this.code = (body && body.code) || 'http_' + status;
    this.body = body || {};
    this.retryAfter = retryAfter;
  }
}

export function setCsrf(token) {
  csrfToken = token || null;
}

function csrf() {
  if (csrfToken) return csrfToken;
  const m = /(?:^|;\s*)roster_csrf=([^;]+)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]) : null;
}

/** fetch() with JSON in and out; throws ApiError with the server's sentence. */
export async function api(method, path, body, { headers = {}, raw = false, signal } = {}) {
  const h = { Accept: 'application/json', ...headers };
  let payload = body;
  if (body !== undefined && !(body instanceof Blob) && !(body instanceof FormData) && typeof body !== 'string') {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD') {
    const t = csrf();
    if (t) h['X-CSRF-Token'] = t;
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body: payload, credentials: 'same-origin', signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, { code: 'unreachable', message: 'The server cannot be reached; check that roster serve is running, then try again.' });
  }
  if (raw && res.ok) return res;
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { message: text.slice(0, 300) }; }
  }
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/session' && !path.startsWith('/api/setup')) {
      window.dispatchEvent(new CustomEvent('roster:unauthorized'));
    }
    throw new ApiError(res.status, data, res.headers.get('Retry-After'));
  }
  return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body, opts);
export const patch = (path, body, opts) => api('PATCH', path, body, opts);
export const del = (path, opts) => api('DELETE', path, undefined, opts);

/** Builds a query string from an object; arrays repeat the key. */
export function qs(params) {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    if (Array.isArray(v)) v.forEach((x) => sp.append(k, x));
    else sp.append(k, v === true ? 'true' : String(v));
  }
  const s = sp.toString();
  return s ? `?${s}` : '';
}

/**
 * Which of the form's fields an API error is about: the field the server
 * names, else the "field: …" its sentence starts with, else a field name
 * quoted or mentioned in it. Returns [field, message without the prefix].
 */
export function errorField(e, names) {
  const b = (e && e.body) || {};
  const msg = (e && e.message) || '';
  for (const k of [b.field, b.column, b.variable_name]) {
    if (k && names.includes(k)) return [k, msg];
  }
  // "field 'custom.renewal': …" (the API's form) or "password: …".
  const named = /^field '(?:custom\.)?([^']+)'\s*:?\s*(.*)$/is.exec(msg);
  if (named && names.includes(named[1])) return [named[1], sentence(named[2]) || msg];
  const prefix = /^([a-z][a-z0-9_]*)\s*:\s*(.+)$/is.exec(msg);
  if (prefix && names.includes(prefix[1].toLowerCase())) return [prefix[1].toLowerCase(), sentence(prefix[2])];
  const quoted = /['"`‘“]([a-z][a-z0-9_]*)['"`’”]/.exec(msg);
  if (quoted && names.includes(quoted[1])) return [quoted[1], msg];
  const word = names.find((n) => new RegExp(`\\b${n}\\b`, 'i').test(msg));
  return [word || null, msg];
}
