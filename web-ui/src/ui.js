// Draws the dashboard's charts from the JSON the page carries (no inline script: strict CSP).
// The tables under each chart hold the same numbers for screen readers and for copying.
import uPlot from "uplot";

const COLOURS = ["#1f4e99", "#b3400a", "#2d6a2d", "#6b2d83"];
const HEIGHT = 240;

function draw(box, width) {
  const source = document.getElementById(box.dataset.chart);
  if (!source) return;
  const data = JSON.parse(source.textContent);
  if (!data.x.length) return;
  const names = Object.keys(data.series);
  const unit = box.dataset.unit || "";
  const opts = {
    width: Math.max(280, width),
    height: HEIGHT,
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
  // The observer also reports the size the plot was drawn at: redrawing then would lay the
  // page out once more for nothing.
  let drawnAt = width;
  new ResizeObserver(() => {
    if (box.clientWidth === drawnAt) return;
    drawnAt = box.clientWidth;
    plot.setSize({ width: Math.max(280, drawnAt), height: HEIGHT });
  }).observe(box);
}

// Every width is read before any chart is added: reading one after adding another would make
// the browser lay the whole page out again in the middle of the script.
const boxes = Array.from(document.querySelectorAll("[data-chart]"));
const widths = boxes.map((box) => box.clientWidth);
boxes.forEach((box, i) => draw(box, widths[i]));
