// Breakdown: GET /admin/usage grouped by key, model, provider or app.
import { el, fmt, table } from './api.js';
import { lineChart } from './charts.js';
import { usageQuery, loadUsage, rangePicker, bucketTime, timeline, COUNTS } from './overview.js';

let range = '24h';
let groupBy = 'model';
const TOP = 8;

export async function breakdown(main) {
  const redraw = () => { main.replaceChildren(); breakdown(main); };
  main.append(el('h1', {}, 'Breakdown'),
    el('div', { class: 'toolbar' },
      rangePicker(range, r => { range = r; redraw(); }),
      el('label', {}, 'Group by',
        el('select', { id: 'group-by', onchange: e => { groupBy = e.target.value; redraw(); } },
          ['key', 'model', 'provider', 'app'].map(g => el('option', { value: g, selected: g === groupBy }, g))))));
  // Two small answers rather than every (bucket, group) pair (thousands of rows at 200 keys):
  // one total per group for the table, and the busiest few over time with the rest folded
  // into one "(other)" series for the charts.
  const totalsQuery = usageQuery(range, { group_by: groupBy, bucket: 'total' });
  const query = usageQuery(range, { group_by: groupBy, top: TOP });
  const [totals, usage] = await Promise.all([loadUsage(totalsQuery.q), loadUsage(query.q)]);
  if (!totals || !usage) {
    main.append(el('p', { class: 'muted', id: 'no-data' }, 'No data: this server does not offer usage figures (GET /admin/usage answered 404).'));
    return;
  }
  // Sums per group (percentiles do not add up, so the table leaves them to the charts).
  const groups = new Map();
  for (const r of totals.data ?? []) {
    groups.set(r.group ?? '(none)', {
      requests: Number(r.requests ?? 0), errors: Number(r.errors ?? 0), prompt: Number(r.prompt_tokens ?? 0),
      completion: Number(r.completion_tokens ?? 0), cost: Number(r.cost ?? 0),
    });
  }
  if (!groups.size) {
    main.append(el('p', { class: 'muted', id: 'no-data' }, 'No requests in this range.'));
    return;
  }
  const ordered = [...groups.entries()].sort((a, b) => b[1].requests - a[1].requests);
  main.append(table(
    [groupBy, { label: 'Requests', num: 1 }, { label: 'Errors', num: 1 }, { label: 'Error rate', num: 1 }, { label: 'Prompt tokens', num: 1 }, { label: 'Completion tokens', num: 1 }, { label: 'Cost', num: 1 }],
    ordered.map(([g, s]) => el('tr', {},
      el('td', {}, g), el('td', { class: 'num' }, fmt.int(s.requests)), el('td', { class: 'num' }, fmt.int(s.errors)),
      el('td', { class: 'num' }, fmt.pct(s.requests ? (100 * s.errors) / s.requests : null)),
      el('td', { class: 'num' }, fmt.int(s.prompt)), el('td', { class: 'num' }, fmt.int(s.completion)),
      el('td', { class: 'num' }, fmt.usd(s.cost)))),
    { id: 'breakdown-table' }));
  // One series per top group (the server's ranking, by requests), then the rest as one,
  // aligned on the union of bucket times.
  const data = usage.data ?? [];
  const OTHER = '(other)';
  const label = r => (r.other ? OTHER : r.group ?? '(none)');
  const top = [...(usage.top ?? [])];
  const folded = data.some(r => r.other);
  if (folded) top.push(OTHER);
  const xs = timeline(query, data);
  const series = f => top.map(g => {
    const byT = new Map(data.filter(r => label(r) === g).map(r => [bucketTime(r.t), r[f]]));
    const empty = COUNTS.has(f) ? 0 : null;
    const rest = g === OTHER && folded;
    return {
      label: g,
      stroke: rest ? '#9ca3af' : undefined,
      // The rest's requests and cost dwarf any one group's (flattening their lines): those
      // charts start with it hidden, a click on its legend entry draws it.
      show: !(rest && COUNTS.has(f)),
      values: xs.map(x => (byT.has(x) && byT.get(x) !== null ? Number(byT.get(x)) : empty)),
    };
  });
  const charts = el('div', { class: 'charts', id: 'charts' });
  main.append(el('h2', {}, folded ? `The ${TOP} busiest over time, and the rest` : 'Over time'), charts);
  lineChart(charts, 'Requests', xs, series('requests'), fmt.int);
  lineChart(charts, 'Cost (USD)', xs, series('cost'), fmt.usd);
  lineChart(charts, 'Latency p95', xs, series('latency_ms_p95'), fmt.ms);
  lineChart(charts, 'Time to first token p95', xs, series('ttft_ms_p95'), fmt.ms);
}
