// Providers and endpoints, with live latency, throughput and uptime from GET /admin/endpoints
// when the server offers it (the columns stay empty otherwise: no figures are invented).
import { api, el, fmt, table, HttpError } from './api.js';

async function live() {
  try {
    return (await api('GET', '/admin/endpoints')).data ?? [];
  } catch (e) {
    if (e instanceof HttpError && (e.status === 404 || e.status === 405)) return null;
    throw e;
  }
}

const pcts = p => (p ? `${fmt.int(p.p50)} / ${fmt.int(p.p90)}` : '–');

export async function providers(main) {
  const [provs, models, figures] = await Promise.all([api('GET', '/admin/providers'), api('GET', '/admin/models'), live()]);
  main.append(el('h1', {}, 'Providers'),
    table(['Id', 'Kind', 'Base URL', 'State'],
      provs.data.map(p => el('tr', {},
        el('td', {}, p.id), el('td', {}, p.kind), el('td', {}, p.base_url ?? 'default'),
        el('td', {}, p.active ? el('span', { class: 'badge ok' }, 'active') : el('span', { class: 'badge error' }, p.inactive_reason ?? 'inactive')))),
      { id: 'providers-table' }));
  const byEndpoint = new Map((figures ?? []).map(f => [`${f.provider}\u0000${f.model}`, f]));
  const find = (m, e) => byEndpoint.get(`${e.provider}\u0000${m.slug}`) ?? byEndpoint.get(`${e.provider}\u0000${e.upstream_model}`);
  main.append(el('h2', {}, 'Endpoints'),
    figures === null ? el('p', { class: 'muted', id: 'no-live' }, 'Live figures are not available on this server (it does not offer GET /admin/endpoints).') : '',
    table(['Model', 'Provider', 'Upstream model', 'Enabled', 'Status', { label: 'Latency p50 / p90 (ms, 30 min)', num: 1 }, { label: 'Throughput p50 / p90 (tok/s, 30 min)', num: 1 }, { label: 'Uptime 5 min / 30 min / 1 day', num: 1 }, { label: 'Requests (30 min)', num: 1 }],
      models.data.flatMap(m => (m.endpoints ?? []).map(e => {
        const f = find(m, e);
        return el('tr', {},
          el('td', {}, m.slug), el('td', {}, e.provider), el('td', {}, e.upstream_model),
          el('td', {}, m.enabled === false || e.enabled === false ? 'no' : 'yes'),
          el('td', {}, f?.status ?? '–'),
          el('td', { class: 'num' }, pcts(f?.latency_last_30m)),
          el('td', { class: 'num' }, pcts(f?.throughput_last_30m)),
          el('td', { class: 'num' }, f ? `${fmt.pct(f.uptime_last_5m)} / ${fmt.pct(f.uptime_last_30m)} / ${fmt.pct(f.uptime_last_1d)}` : '–'),
          el('td', { class: 'num' }, f ? fmt.int(f.requests_last_30m) : '–'));
      })),
      { id: 'endpoints-table' }));
}
