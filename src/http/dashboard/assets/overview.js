// Overview: totals and time series from GET /admin/usage (no grouping).
import { api, el, fmt, HttpError, errorBox } from './api.js';
import { lineChart } from './charts.js';

export const RANGES = { '24h': 86400, '7d': 7 * 86400, '30d': 30 * 86400 };

// The usage query for a range; hourly buckets up to a week, daily beyond.
export function usageQuery(range, extra = {}) {
  const to = Math.ceil(Date.now() / 1000);
  const from = to - RANGES[range];
  const bucket = RANGES[range] <= 7 * 86400 ? 'hour' : 'day';
  const q = new URLSearchParams({ from, to, bucket });
  for (const [k, v] of Object.entries(extra)) if (v) q.set(k, v);
  return { q, bucket, from, to, step: bucket === 'hour' ? 3600 : 86400 };
}

// Every bucket start of the range (UTC-aligned), plus any the server answered with, so a
// bucket without requests is drawn as zero rather than skipped.
export function timeline({ from, to, step }, rows) {
  const xs = new Set(rows.map(r => bucketTime(r.t)));
  for (let t = Math.floor(from / step) * step; t < to; t += step) xs.add(t);
  return [...xs].sort((a, b) => a - b);
}

// Counts are zero in a bucket without rows; percentiles are unknown there (null).
export const COUNTS = new Set(['requests', 'errors', 'cancelled', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'reasoning_tokens', 'cost', 'cost_nanos']);

export function bucketTime(t) {
  return typeof t === 'number' ? (t > 1e12 ? t / 1000 : t) : Date.parse(t) / 1000;
}

// GET /admin/usage, or null when this server has no usage API (404).
export async function loadUsage(q) {
  try {
    return await api('GET', `/admin/usage?${q}`);
  } catch (e) {
    if (e instanceof HttpError && e.status === 404) return null;
    throw e;
  }
}

export function rangePicker(current, onChange) {
  return el('label', {}, 'Range',
    el('select', { id: 'range', onchange: e => onChange(e.target.value) },
      Object.keys(RANGES).map(r => el('option', { value: r, selected: r === current }, r))));
}

const stat = (id, label, value) =>
  el('div', { class: 'card stat' }, el('div', { class: 'label' }, label), el('div', { class: 'value', id }, value));

let range = '24h';

export async function overview(main) {
  const redraw = () => { main.replaceChildren(); overview(main); };
  main.append(el('h1', {}, 'Overview'),
    el('div', { class: 'toolbar' }, rangePicker(range, r => { range = r; redraw(); })));
  const query = usageQuery(range);
  const usage = await loadUsage(query.q);
  if (!usage) {
    main.append(el('p', { class: 'muted', id: 'no-data' }, 'No data: this server does not offer usage figures (GET /admin/usage answered 404).'));
    return;
  }
  const t = usage.totals ?? {};
  const requests = Number(t.requests ?? 0);
  const errorRate = requests ? (100 * Number(t.errors ?? 0)) / requests : null;
  main.append(el('div', { class: 'cards', id: 'totals' },
    stat('total-requests', 'Requests', fmt.int(t.requests ?? 0)),
    stat('total-cost', 'Cost', fmt.usd(t.cost ?? 0)),
    stat('total-tokens', 'Tokens (prompt + completion)', fmt.int(Number(t.prompt_tokens ?? 0) + Number(t.completion_tokens ?? 0))),
    stat('total-error-rate', 'Error rate', fmt.pct(errorRate)),
    stat('total-latency', 'Latency p50 / p95', `${fmt.ms(t.latency_ms_p50)} / ${fmt.ms(t.latency_ms_p95)}`),
    stat('total-ttft', 'Time to first token p50 / p95', `${fmt.ms(t.ttft_ms_p50)} / ${fmt.ms(t.ttft_ms_p95)}`)));
  const data = usage.data ?? [];
  if (!data.length) {
    main.append(el('p', { class: 'muted', id: 'no-data' }, 'No requests in this range.'));
    return;
  }
  const xs = timeline(query, data);
  const byT = new Map(data.map(r => [bucketTime(r.t), r]));
  const rows = xs.map(x => byT.get(x) ?? {});
  const col = f => rows.map(r => (r[f] === null || r[f] === undefined ? (COUNTS.has(f) ? 0 : null) : Number(r[f])));
  const charts = el('div', { class: 'charts', id: 'charts' });
  main.append(charts);
  lineChart(charts, 'Requests', xs, [{ label: 'requests', values: col('requests') }, { label: 'errors', values: col('errors') }], fmt.int);
  lineChart(charts, 'Cost (USD)', xs, [{ label: 'cost', values: col('cost') }], fmt.usd);
  lineChart(charts, 'Tokens', xs, [{ label: 'prompt', values: col('prompt_tokens') }, { label: 'completion', values: col('completion_tokens') }, { label: 'cached', values: col('cached_tokens') }], fmt.int);
  lineChart(charts, 'Error rate', xs, [{ label: 'errors %', values: rows.map(r => (Number(r.requests) ? (100 * Number(r.errors)) / Number(r.requests) : null)) }], fmt.pct);
  lineChart(charts, 'Latency', xs, [{ label: 'p50', values: col('latency_ms_p50') }, { label: 'p95', values: col('latency_ms_p95') }], fmt.ms);
  lineChart(charts, 'Time to first token', xs, [{ label: 'p50', values: col('ttft_ms_p50') }, { label: 'p95', values: col('ttft_ms_p95') }], fmt.ms);
}
