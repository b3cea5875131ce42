// Hand-written SVG charts: grouped or stacked columns, and lines over days. Colours come
// from the stylesheet (classes s-answered, s-missed, ...), so light and dark mode both work.
// Each chart is drawn at its container's pixel width (one SVG unit = one CSS pixel), and
// comes with a table of its numbers for screen readers and keyboard users.

import { hms } from "./summary.js";

const NS = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function html(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export const formatCount = (n) => Number(n).toLocaleString();

/** Tick step for counts: 1, 2 or 5 times a power of ten. */
function countStep(max, target) {
  const raw = Math.max(max / target, 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

const TIME_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** Tick step for milliseconds: whole seconds, minutes or hours. */
function timeStep(max, target) {
  const raw = max / target / 1000;
  for (const s of TIME_STEPS_S) if (s >= raw) return s * 1000;
  return countStep(raw / 86400, 1) * 86400 * 1000;
}

/** A short label for an axis: 1:30:00 becomes 1:30 h, 0:05:00 becomes 5 min. */
function shortDuration(ms) {
  const s = Math.round(ms / 1000);
  if (s === 0) return "0";
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 3600) return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  if (s >= 60) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} min`;
  return `${s} s`;
}

function ticks(max, unit, target) {
  const step = unit === "ms" ? timeStep(max, target) : countStep(max, target);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const values = [];
  for (let v = 0; v <= top + step / 2; v += step) values.push(v);
  return { top, values, label: unit === "ms" ? shortDuration : formatCount };
}

function truncate(text, chars) {
  if (chars < 2) return "";
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

function empty(width, height, message) {
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": message });
  svg.append(el("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty" }, message));
  return svg;
}

function yAxis(svg, t, { left, right, top, plotH, width }) {
  for (const v of t.values) {
    const y = top + plotH - (v / t.top) * plotH;
    svg.append(el("line", { x1: left, x2: width - right, y1: y, y2: y, class: v === 0 ? "axis" : "grid" }));
    svg.append(el("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "tick" }, t.label(v)));
  }
}

/**
 * Columns per group: ``groups`` = [{label, sub, values: [..]}], ``series`` = [{label, cls}].
 * Grouped side by side, or ``stacked``. ``unit`` "count" or "ms" for axis and tooltips.
 */
export function columnChart({ groups, series, stacked = false, unit = "count", width, height = 280, title }) {
  if (groups.length === 0) return empty(width, height, "No calls in this window.");
  const fmt = unit === "ms" ? hms : formatCount;
  const m = { left: unit === "ms" ? 62 : 44, right: 8, top: 12, bottom: 38 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const max = Math.max(
    ...groups.map((g) => (stacked ? g.values.reduce((a, b) => a + b, 0) : Math.max(...g.values))),
  );
  const t = ticks(max, unit, 4);
  const svg = el("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `${title}: ${groups.length} extensions`,
  });
  yAxis(svg, t, { left: m.left, right: m.right, top: m.top, plotH, width });
  const band = plotW / groups.length;
  const inner = Math.min(band * 0.78, stacked ? 44 : 64);
  const barW = stacked ? inner : inner / series.length;
  const chars = Math.floor((band - 8) / 6.8);
  const y = (v) => m.top + plotH - (v / t.top) * plotH;
  groups.forEach((g, gi) => {
    const x0 = m.left + gi * band + (band - inner) / 2;
    let base = 0;
    g.values.forEach((v, si) => {
      const x = stacked ? x0 : x0 + si * barW;
      const y0 = stacked ? y(base + v) : y(v);
      const h = stacked ? y(base) - y(base + v) : y(0) - y(v);
      const rect = el("rect", {
        x: x + (stacked ? 0 : 0.5),
        y: y0,
        width: Math.max(stacked ? barW : barW - 1, 1),
        height: Math.max(h, v > 0 ? 1 : 0),
        class: `bar ${series[si].cls}`,
      });
      rect.append(el("title", {}, `${g.label} ${g.sub}: ${series[si].label} ${fmt(v)}`.trim()));
      svg.append(rect);
      base += v;
    });
    const cx = m.left + gi * band + band / 2;
    svg.append(el("text", { x: cx, y: height - m.bottom + 15, "text-anchor": "middle", class: "tick strong" }, truncate(g.label, chars)));
    svg.append(el("text", { x: cx, y: height - m.bottom + 29, "text-anchor": "middle", class: "tick" }, truncate(g.sub, chars)));
  });
  return svg;
}

/** Lines over days: ``days`` = ["YYYY-MM-DD"], ``series`` = [{label, cls, values: [..]}]. */
export function lineChart({ days, series, width, height = 240, title }) {
  if (days.length === 0) return empty(width, height, "No days to show yet.");
  const m = { left: 44, right: 8, top: 12, bottom: 28 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const t = ticks(max, "count", 4);
  const svg = el("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `${title}: ${days.length} days`,
  });
  yAxis(svg, t, { left: m.left, right: m.right, top: m.top, plotH, width });
  const step = plotW / days.length;
  const x = (i) => m.left + (i + 0.5) * step;
  const y = (v) => m.top + plotH - (v / t.top) * plotH;
  const fmtDay = new Intl.DateTimeFormat(undefined, {
    timeZone: "UTC",
    month: "short",
    day: "numeric",
    ...(days.length <= 7 ? { weekday: "short" } : {}),
  });
  const label = (d) => fmtDay.format(new Date(`${d}T00:00:00Z`));
  const every = Math.max(1, Math.ceil(days.length / Math.max(2, Math.floor(plotW / 80))));
  days.forEach((d, i) => {
    if (i % every === 0 || (i === days.length - 1 && days.length <= 7))
      svg.append(el("text", { x: x(i), y: height - 8, "text-anchor": "middle", class: "tick" }, label(d)));
  });
  for (const s of series) {
    if (days.length > 1) {
      const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      svg.append(el("polyline", { points, class: `line ${s.cls}` }));
    }
    const r = days.length > 45 ? 2 : 3.5;
    s.values.forEach((v, i) => {
      const dot = el("circle", { cx: x(i), cy: y(v), r, class: `dot ${s.cls}` });
      dot.append(el("title", {}, `${days[i]}: ${s.label} ${formatCount(v)}`));
      svg.append(dot);
    });
  }
  return svg;
}

/** The numbers of a chart as a table in a closed <details>, for keyboard and screen readers. */
export function dataTable(caption, head, rows) {
  const details = html("details", { class: "chart-data" });
  details.append(html("summary", {}, "Numbers"));
  const table = html("table");
  table.append(html("caption", { class: "sr-only" }, caption));
  const tr = html("tr");
  head.forEach((h, i) => tr.append(html("th", { scope: "col", class: i ? "num" : "" }, h)));
  const thead = html("thead");
  thead.append(tr);
  table.append(thead);
  const body = html("tbody");
  for (const r of rows) {
    const row = html("tr");
    r.forEach((c, i) => row.append(html(i ? "td" : "th", i ? { class: "num" } : { scope: "row" }, c)));
    body.append(row);
  }
  table.append(body);
  details.append(table);
  return details;
}
