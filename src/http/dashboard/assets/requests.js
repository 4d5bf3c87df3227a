// The request log (GET /admin/requests) with filters and paging, and one request's detail
// (GET /admin/requests/{id}): every attempt, why it fell back, timings, tokens, cost.
import { api, el, fmt, table } from './api.js';

// Every filter is applied by the server (GET /admin/requests), which pages by keyset:
// `before` is the last id of the previous page, `next_before` the cursor of the next.
const PAGE = 50;
const state = { key: '', model: '', provider: '', outcome: '', since: '', until: '', cursors: [''] };

const badge = outcome => el('span', { class: `badge ${outcome}` }, outcome);

function query() {
  const q = new URLSearchParams({ limit: PAGE });
  for (const f of ['key', 'model', 'provider', 'outcome']) if (state[f]) q.set(f, state[f]);
  if (state.since) q.set('from', Math.floor(Date.parse(state.since) / 1000));
  if (state.until) q.set('to', Math.floor(Date.parse(state.until) / 1000));
  const before = state.cursors[state.cursors.length - 1];
  if (before) q.set('before', before);
  return q;
}

export async function requests(main) {
  const none = { data: [] };
  const [keyList, models, provs] = await Promise.all([
    api('GET', '/admin/keys').catch(() => none),
    api('GET', '/admin/models').catch(() => none),
    api('GET', '/admin/providers').catch(() => none),
  ]);
  const changed = name => e => { state[name] = e.target.value; state.cursors = ['']; load(); };
  const choice = (name, label, options) => el('label', {}, label,
    el('select', { id: `filter-${name}`, onchange: changed(name) },
      el('option', { value: '' }, 'any'),
      options.map(([value, text]) => el('option', { value, selected: value === state[name] }, text))));
  main.append(el('h1', {}, 'Requests'),
    el('div', { class: 'toolbar' },
      choice('key', 'Key', keyList.data.map(k => [k.id, `${k.name} (${k.prefix}…)`])),
      choice('model', 'Model', models.data.map(m => [m.slug, m.slug])),
      choice('provider', 'Provider', provs.data.map(p => [p.id, p.id])),
      choice('outcome', 'Outcome', ['success', 'error', 'cancelled', 'cut', 'timeout'].map(o => [o, o])),
      el('label', {}, 'From', el('input', { type: 'datetime-local', id: 'filter-since', value: state.since, onchange: changed('since') })),
      el('label', {}, 'To', el('input', { type: 'datetime-local', id: 'filter-until', value: state.until, onchange: changed('until') })),
      el('button', { id: 'refresh', onclick: () => { state.cursors = ['']; load(); } }, 'Refresh')));
  const out = el('div', { id: 'requests-out' });
  main.append(out);

  async function load() {
    const page = await api('GET', `/admin/requests?${query()}`);
    const rows = page.data ?? [];
    out.replaceChildren(
      table(['Time', 'Request', 'Key', 'Model', 'Provider', 'Outcome', { label: 'Status', num: 1 }, { label: 'Tokens in / out', num: 1 }, { label: 'Cost', num: 1 }, { label: 'Latency', num: 1 }, { label: 'TTFT', num: 1 }],
        rows.map(r => el('tr', {},
          el('td', {}, fmt.time(r.created_at)),
          el('td', {}, el('a', { href: `#request/${encodeURIComponent(r.id)}`, class: 'request-link' }, r.id)),
          el('td', {}, r.key_id ?? '–'),
          el('td', {}, r.served_model ?? r.requested_model ?? '–'),
          el('td', {}, r.provider ?? '–'),
          el('td', {}, badge(r.outcome)),
          el('td', { class: 'num' }, r.status),
          el('td', { class: 'num' }, `${fmt.int(r.prompt_tokens)} / ${fmt.int(r.completion_tokens)}`),
          el('td', { class: 'num' }, fmt.usd(r.cost_nanos / 1e9)),
          el('td', { class: 'num' }, fmt.ms(r.latency_ms)),
          el('td', { class: 'num' }, fmt.ms(r.ttft_ms)))),
        { id: 'requests-table' }),
      rows.length ? '' : el('p', { class: 'muted', id: 'no-requests' }, 'No requests match.'),
      el('div', { class: 'pager' },
        el('button', { id: 'prev', disabled: state.cursors.length === 1, onclick: () => { state.cursors.pop(); load(); } }, '← Newer'),
        el('span', { class: 'muted' }, `page ${state.cursors.length}`),
        el('button', { id: 'next', disabled: !page.next_before, onclick: () => { state.cursors.push(page.next_before); load(); } }, 'Older →')));
  }
  await load();
}

export async function requestDetail(main, id) {
  const r = await api('GET', `/admin/requests/${encodeURIComponent(id)}`);
  const row = (k, v) => [el('dt', {}, k), el('dd', {}, v ?? '–')];
  main.append(el('p', {}, el('a', { href: '#requests' }, '← Requests')),
    el('h1', {}, 'Request ', el('code', { id: 'detail-id' }, r.id)),
    el('div', { class: 'card' }, el('dl', { class: 'detail', id: 'request-detail' },
      row('Time', fmt.time(r.created_at)),
      row('Outcome', badge(r.outcome)),
      row('Status', r.status),
      row('Key', r.key_id),
      row('Requested model', r.requested_model),
      row('Served model', r.served_model),
      row('Provider', r.provider),
      row('Upstream id', r.upstream_id),
      row('Streamed', r.streamed ? 'yes' : 'no'),
      row('Latency', fmt.ms(r.latency_ms)),
      row('Time to first token', fmt.ms(r.ttft_ms)),
      row('Tokens', `prompt ${fmt.int(r.prompt_tokens)} (cached ${fmt.int(r.cached_tokens)}, cache write ${fmt.int(r.cache_write_tokens)}) · completion ${fmt.int(r.completion_tokens)} (reasoning ${fmt.int(r.reasoning_tokens)})${r.usage_estimated ? ' · estimated' : ''}`),
      row('Cost', fmt.usd(r.cost_nanos / 1e9)),
      row('Finish reason', r.finish_reason),
      row('App', [r.app_title, r.app_referer].filter(Boolean).join(' · ') || null),
      row('User / session', [r.external_user, r.session_id].filter(Boolean).join(' · ') || null),
      row('Preset', r.preset),
      row('Error', r.error))),
    el('h2', {}, 'Attempts'),
    table(['#', 'Provider', 'Model', 'Upstream model', 'Outcome', { label: 'Status', num: 1 }, { label: 'Latency', num: 1 }, 'Why it fell back'],
      (r.attempts ?? []).map((a, i) => el('tr', { class: 'attempt' },
        el('td', {}, i + 1), el('td', {}, a.provider), el('td', {}, a.model), el('td', {}, a.upstream_model),
        el('td', {}, badge(a.outcome)), el('td', { class: 'num' }, a.status ?? '–'), el('td', { class: 'num' }, fmt.ms(a.latency_ms)),
        el('td', {}, a.outcome === 'ok' ? '' : `${a.outcome}${a.error ? `: ${a.error}` : ''}`))),
      { id: 'attempts-table' }));
}
