// The request log (GET /admin/requests) with filters and paging, and one request's detail
// (GET /admin/requests/{id}): every attempt, why it fell back, timings, tokens, cost.
import { api, el, fmt, table } from './api.js';

// The admin API filters by key and returns the newest records; the other filters apply to
// that window here.
const WINDOW = 1000;
const PAGE = 50;
const state = { key: '', model: '', provider: '', outcome: '', since: '', until: '', page: 0 };

function matches(r) {
  const t = r.created_at;
  return (!state.model || [r.requested_model, r.served_model].some(m => (m ?? '').includes(state.model)))
    && (!state.provider || (r.provider ?? '').includes(state.provider)
      || (r.attempts ?? []).some(a => a.provider.includes(state.provider)))
    && (!state.outcome || r.outcome === state.outcome)
    && (!state.since || t >= Date.parse(state.since))
    && (!state.until || t <= Date.parse(state.until));
}

const badge = outcome => el('span', { class: `badge ${outcome}` }, outcome);

export async function requests(main) {
  const keyList = await api('GET', '/admin/keys').catch(() => ({ data: [] }));
  const field = (name, label, input) => el('label', {}, label, input);
  const onInput = name => e => { state[name] = e.target.value; state.page = 0; render(); };
  const keySelect = el('select', { id: 'filter-key', onchange: e => { state.key = e.target.value; state.page = 0; load(); } },
    el('option', { value: '' }, 'any'),
    keyList.data.map(k => el('option', { value: k.id, selected: k.id === state.key }, `${k.name} (${k.prefix}…)`)));
  main.append(el('h1', {}, 'Requests'),
    el('div', { class: 'toolbar' },
      field('key', 'Key', keySelect),
      field('model', 'Model', el('input', { id: 'filter-model', value: state.model, oninput: onInput('model'), placeholder: 'contains' })),
      field('provider', 'Provider', el('input', { id: 'filter-provider', value: state.provider, oninput: onInput('provider'), placeholder: 'contains' })),
      field('outcome', 'Outcome', el('select', { id: 'filter-outcome', onchange: onInput('outcome') },
        ['', 'success', 'error', 'cancelled', 'cut', 'timeout'].map(o => el('option', { value: o, selected: o === state.outcome }, o || 'any')))),
      field('since', 'From', el('input', { type: 'datetime-local', id: 'filter-since', value: state.since, onchange: onInput('since') })),
      field('until', 'To', el('input', { type: 'datetime-local', id: 'filter-until', value: state.until, onchange: onInput('until') })),
      el('button', { id: 'refresh', onclick: () => load() }, 'Refresh')));
  const out = el('div', { id: 'requests-out' });
  main.append(out);
  let rows = [];

  function render() {
    const shown = rows.filter(matches);
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const page = shown.slice(state.page * PAGE, (state.page + 1) * PAGE);
    out.replaceChildren(
      table(['Time', 'Request', 'Key', 'Model', 'Provider', 'Outcome', { label: 'Status', num: 1 }, { label: 'Tokens in / out', num: 1 }, { label: 'Cost', num: 1 }, { label: 'Latency', num: 1 }, { label: 'TTFT', num: 1 }],
        page.map(r => el('tr', {},
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
      el('div', { class: 'pager' },
        el('button', { id: 'prev', disabled: state.page === 0, onclick: () => { state.page--; render(); } }, '← Newer'),
        el('span', { class: 'muted' }, `page ${state.page + 1} of ${pages} · ${shown.length} of the newest ${rows.length} records`),
        el('button', { id: 'next', disabled: state.page >= pages - 1, onclick: () => { state.page++; render(); } }, 'Older →')));
  }

  async function load() {
    const q = new URLSearchParams({ limit: WINDOW });
    if (state.key) q.set('key_id', state.key);
    rows = (await api('GET', `/admin/requests?${q}`)).data ?? [];
    render();
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
