// Draws the dashboard's charts from the JSON the page carries (no inline script: strict CSP).
// The tables under each chart hold the same numbers for screen readers and for copying.
import uPlot from "uplot";

const COLOURS = ["#1f4e99", "#b3400a", "#2d6a2d", "#6b2d83"];

function draw(box) {
  const source = document.getElementById(box.dataset.chart);
  if (!source) return;
  const data = JSON.parse(source.textContent);
  if (!data.x.length) return;
  const names = Object.keys(data.series);
  const unit = box.dataset.unit || "";
  const opts = {
    width: Math.max(280, box.clientWidth),
    height: 240,
    series: [
      {},
      ...names.map((label, i) => ({
        label,
        stroke: COLOURS[i % COLOURS.length],
        width: 2,
        spanGaps: false,
        value: (u, v) => (v == null ? "–" : `${v}${unit}`),
      })),
    ],
    axes: [{}, { values: (u, ticks) => ticks.map((t) => `${t}${unit}`) }],
  };
  const plot = new uPlot(opts, [data.x, ...names.map((n) => data.series[n])], box);
  new ResizeObserver(() => plot.setSize({ width: Math.max(280, box.clientWidth), height: 240 })).observe(box);
}

document.querySelectorAll("[data-chart]").forEach(draw);
