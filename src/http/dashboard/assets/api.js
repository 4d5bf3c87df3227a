// Talks to the admin API with the session cookie; writes carry the session's CSRF token,
// which the page received in a meta tag.
const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? '';

export class HttpError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const init = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') init.headers['x-csrf-token'] = csrf;
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 401) {
    // The session expired (or the master key changed): back to the login form.
    location.assign('/dashboard/login');
  }
  let json = null;
  try { json = await resp.json(); } catch { /* not JSON */ }
  if (!resp.ok) throw new HttpError(resp.status, json);
  return json;
}

// Builds an element; children are nodes or text (never parsed as HTML).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

export function table(headers, rows, attrs = {}) {
  return el('table', attrs,
    el('thead', {}, el('tr', {}, headers.map(h =>
      el('th', { class: h.num ? 'num' : undefined }, h.label ?? h)))),
    el('tbody', {}, rows));
}

export const fmt = {
  int: v => v === null || v === undefined ? '–' : Number(v).toLocaleString('en-US'),
  usd: v => {
    if (v === null || v === undefined) return '–';
    const n = Number(v);
    return '$' + (n !== 0 && Math.abs(n) < 0.01 ? n.toPrecision(3) : n.toFixed(4));
  },
  ms: v => v === null || v === undefined ? '–' : `${Math.round(Number(v)).toLocaleString('en-US')} ms`,
  pct: v => v === null || v === undefined ? '–' : `${Number(v).toFixed(1)}%`,
  // Unix milliseconds, unix seconds or RFC 3339, as local time.
  time: v => {
    if (v === null || v === undefined) return '–';
    const d = typeof v === 'number' ? new Date(v > 1e12 ? v : v * 1000) : new Date(v);
    return isNaN(d) ? String(v) : d.toLocaleString('sv-SE');
  },
};

export function errorBox(e) {
  return el('p', { class: 'error' }, e instanceof HttpError ? `${e.status}: ${e.message}` : String(e));
}
