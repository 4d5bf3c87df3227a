// Line charts over time with the vendored uPlot (loaded as a global by the page).
import { el } from './api.js';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

// `xs`: unix seconds; `series`: [{label, values, stroke?, show?}] with one value (or null) per
// x; a series with `show: false` starts hidden (a click on its legend entry shows it).
export function lineChart(parent, title, xs, series, format = v => v) {
  const box = el('div', { class: 'chart card' }, el('h3', {}, title));
  parent.append(box);
  const width = Math.max(320, box.clientWidth - 28);
  const opts = {
    width,
    height: 220,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    scales: { x: { time: true } },
    axes: [
      {},
      {
        values: (u, vals) => vals.map(v => (v === null ? '' : format(v))),
        // Wide enough for the longest label (cost labels run long).
        size: (u, vals) => 16 + 7 * Math.max(4, ...(vals ?? []).map(v => String(v).length)),
      },
    ],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.stroke ?? COLORS[i % COLORS.length],
        show: s.show ?? true,
        width: 2,
        value: (u, v) => (v === null || v === undefined ? '–' : format(v)),
        points: { show: (u, si) => u.data[si].filter(v => v !== null).length < 3, size: 6 },
        spanGaps: false,
      })),
    ],
  };
  const plot = new window.uPlot(opts, [xs, ...series.map(s => s.values)], box);
  return plot;
}
