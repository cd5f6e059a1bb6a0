// A room's two charts (temperature, humidity) over the chosen range, and the readout a
// touch or hover on them gives.

import { clockFmt, drawPlot, nearest, placeCursor, timeAt, timeTicks } from "../chart.js";
import { setText } from "../dom.js";
import { fmtHumidity, fmtTemp, toUnit, unit, unitLabel } from "../format.js";
import { RANGES, SPAN_MS, fmtClock, page, serverNow } from "./state.js";

const weekHourFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "numeric" });
const dateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

// The temperature chart in the household's unit: the points stay in °C, the spec
// converts what it draws.
function tempSpec() {
  const f = unit() === "F" ? 9 / 5 : 1;
  const band = { lo: toUnit(page.band.lo), hi: toUnit(page.band.hi) };
  return {
    className: "plot-temp-svg",
    height: 150,
    timeLabels: true,
    band,
    marks: true,
    value: (p) => toUnit(p.temp),
    lo: (p) => toUnit(p.tMin),
    hi: (p) => toUnit(p.tMax),
    empty: [band.lo, band.hi],
    scale: { include: [band.lo, band.hi], pad: 0.4 * f, minSpan: 4 * f, steps: [1, 2, 5], maxTicks: 4 },
    tickLabel: (v) => `${v}°`,
    label: (points, chart) =>
      points.length
        ? `Temperature chart, ${RANGES[chart.range].label}, ${points.length} points, latest ${fmtTemp(points.at(-1).temp)} ${unitLabel()}`
        : "Temperature chart, no readings yet",
  };
}

const HUMIDITY_SPEC = {
  className: "plot-humidity-svg",
  height: 64,
  timeLabels: false,
  band: null,
  marks: false,
  value: (p) => p.hum,
  lo: (p) => p.hMin,
  hi: (p) => p.hMax,
  empty: [40, 60],
  scale: {
    include: [Infinity, -Infinity],
    pad: 2,
    minSpan: 20,
    steps: [10, 20, 25, 50],
    maxTicks: 2,
    clamp: [0, 100],
  },
  tickLabel: (v) => `${v}%`,
  label: (points) =>
    points.length
      ? `Humidity chart, latest ${fmtHumidity(points.at(-1).hum)} %`
      : "Humidity chart, no readings yet",
};

function fmtWhen(range, ms) {
  if (range === "1y") return dateFmt.format(new Date(ms));
  if (range === "7d") return weekHourFmt.format(new Date(ms));
  return fmtClock(ms);
}

// What the chart shows now: the live day, or a week or year from the rollups.
function chartData(view) {
  const range = view.range;
  const episodes = (view.episodes[range] && view.episodes[range].items) || [];
  const shown = { range, episodes, emptyText: RANGES[range].empty, when: (ms) => fmtWhen(range, ms) };
  if (range === "24h") {
    const t1 = Math.max(serverNow(), view.points.length ? view.points.at(-1).t : 0);
    const first = view.points.length ? view.points[0].t : t1;
    // Show the whole day once there is a day of data; until then, what there is.
    const t0 = Math.max(t1 - SPAN_MS, Math.min(first, t1 - 30 * 60 * 1000));
    const alerts = page.alerts.filter((a) => a.room === view.name);
    return { ...shown, t0, t1, points: view.points, ready: view.synced, source: view.source, alerts };
  }
  const state = view.long[range];
  const t1 = Math.max(serverNow(), state && state.loaded ? state.until : 0);
  const t0 = state && state.loaded ? state.since : t1 - RANGES[range].spanMs;
  return {
    ...shown,
    t0,
    t1,
    points: state ? state.points : [],
    ready: Boolean(state && state.loaded),
    source: state && state.loaded ? state.source : "",
    alerts: state ? state.alerts : [],
  };
}

export function drawCharts(view) {
  const chart = chartData(view);
  const width = view.nodes.plotTemp.clientWidth || 320;
  chart.ticks = timeTicks(chart.range, chart.t0, chart.t1, width - 36);
  view.chart = chart;
  const drawn = drawPlot(view.nodes.plotTemp, chart, tempSpec());
  const humidity = drawPlot(view.nodes.plotHumidity, chart, HUMIDITY_SPEC);
  const n = view.nodes;
  n.keySpread.hidden = !(drawn.spread || humidity.spread);
  n.keyAlert.hidden = !drawn.alerts;
  n.keyEpisode.hidden = !drawn.episodes;
  n.legend.hidden = n.keySpread.hidden && n.keyAlert.hidden && n.keyEpisode.hidden;
  let span = RANGES[chart.range].label;
  if (chart.range === "24h" && (chart.t1 - chart.t0) / 3600000 <= 23.5) {
    span = `since ${clockFmt.format(new Date(chart.t0))}`;
  }
  setText(n.chartSpan, span);
  for (const button of n.rangeButtons) {
    button.setAttribute("aria-pressed", String(button.dataset.range === chart.range));
  }
  view.drawnAt = performance.now();
  view.dirty = false;
  showCursor(view);
}

// "Tue 3 PM · 19.1 °C (18.4–19.9) · 52 % humidity" (or °F): the range only where a point stands
// for several readings.
function readoutText(range, p) {
  const spread = p.tMax > p.tMin ? ` (${fmtTemp(p.tMin)}–${fmtTemp(p.tMax)})` : "";
  const when = fmtWhen(range, p.bucketMs ? p.start : p.t);
  return `${when} · ${fmtTemp(p.temp)} ${unitLabel()}${spread} · ${fmtHumidity(p.hum)} % humidity`;
}

function showCursor(view) {
  const points = view.chart ? view.chart.points : [];
  const p = view.cursorT === null || !points.length ? null : nearest(points, view.cursorT);
  placeCursor([view.nodes.plotTemp, view.nodes.plotHumidity], p);
  setText(view.nodes.readout, p ? readoutText(view.chart.range, p) : "");
  view.nodes.readout.hidden = !p;
}

/** Touch or hover on a chart to read a past value. */
export function attachCursor(view) {
  const figure = view.nodes.chart;
  const move = (event) => {
    const t = timeAt(event);
    if (t === null) return;
    view.cursorT = t;
    showCursor(view);
  };
  figure.addEventListener("pointerdown", move);
  figure.addEventListener("pointermove", move);
  figure.addEventListener("pointerleave", (event) => {
    if (event.pointerType === "mouse") {
      view.cursorT = null;
      showCursor(view);
    }
  });
}
