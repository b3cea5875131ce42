// The dashboard: sign-in, choices (PBXs, window, time zone), and what they show (totals,
// charts, the table). Every choice lives in the URL's fragment, so a link shares the view;
// the token never does (it is in sessionStorage, see session.js).

import * as session from "./session.js";
import {
  WINDOWS,
  DEFAULT_WINDOW,
  windowDays,
  dayQuery,
  trendDays,
  isZone,
} from "./windows.js";
import {
  cellText,
  sortRows,
  filterRows,
  totals,
  distinct,
  toCsv,
  firstDirection,
  hms,
} from "./summary.js";
import { columnChart, lineChart, dataTable, formatCount } from "./charts.js";

const UI = `${session.BASE}/ui`;
const EXTSUM = `${session.BASE}/v2/extsum`;
/** Per-day requests in flight at once for the trend. */
const TREND_CONCURRENCY = 4;
/** Extensions in each comparison chart. */
const CHART_EXTENSIONS = 10;

const $ = (id) => document.getElementById(id);
const root = document.documentElement;

let meta = null; // {fields, byName, defaults}
let zones = [];
let knownPbxes = [];

/** The choices; what the URL fragment encodes. */
const state = {
  pbx: "allpbxes", // or an array of names
  window: DEFAULT_WINDOW,
  from: "",
  to: "",
  tz: "UTC",
  cols: null, // null = the default columns
  sort: null, // {key, dir}
  q: "",
  department: "",
  branch: "",
};

/** What the server answered for the current choices. */
const data = { rows: [], window: null, days: [], perDay: [], trendCut: false, trendDone: 0 };
/** What the table shows right now (rows in order, columns), for the CSV. */
const view = { rows: [], columns: [] };

let loadSerial = 0;
let generation = 0;
let controller = null;

// --- the URL fragment --------------------------------------------------------------------------

function browserZone() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return zone && zones.includes(zone) ? zone : "UTC";
}

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const pbx = p.get("pbx");
  state.pbx = !pbx || pbx === "allpbxes" ? "allpbxes" : [...new Set(pbx.split(",").filter(Boolean))];
  const w = p.get("window");
  state.window = WINDOWS.some(([k]) => k === w) ? w : DEFAULT_WINDOW;
  state.from = p.get("from") || "";
  state.to = p.get("to") || "";
  state.tz = p.get("tz") || browserZone();
  const cols = (p.get("cols") || "").split(",").filter((n) => meta.byName.has(n));
  state.cols = cols.length ? cols : null;
  const sort = p.get("sort") || "";
  const key = sort.replace(/^-/, "");
  state.sort = meta.byName.has(key) ? { key, dir: sort.startsWith("-") ? "desc" : "asc" } : null;
  state.q = p.get("q") || "";
  state.department = p.get("dept") || "";
  state.branch = p.get("branch") || "";
}

function encode(value) {
  return encodeURIComponent(value).replace(/%2C/g, ",").replace(/%2F/g, "/").replace(/%3A/g, ":");
}

function writeHash() {
  const p = [["pbx", state.pbx === "allpbxes" ? "allpbxes" : state.pbx.join(",")], ["window", state.window]];
  if (state.window === "custom") p.push(["from", state.from], ["to", state.to]);
  p.push(["tz", state.tz]);
  if (state.cols) p.push(["cols", state.cols.join(",")]);
  if (state.sort) p.push(["sort", `${state.sort.dir === "desc" ? "-" : ""}${state.sort.key}`]);
  if (state.q) p.push(["q", state.q]);
  if (state.department) p.push(["dept", state.department]);
  if (state.branch) p.push(["branch", state.branch]);
  const hash = p.map(([k, v]) => `${k}=${encode(v)}`).join("&");
  history.replaceState(null, "", `${location.pathname}${location.search}#${hash}`);
}

// --- small DOM helpers -------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  node.append(...children);
  return node;
}

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ESC[c]);

function showMessage(id, text) {
  const node = $(id);
  node.textContent = text || "";
  node.hidden = !text;
}

function closeMenus(except) {
  for (const d of document.querySelectorAll("details.menu[open]")) if (d !== except) d.open = false;
}

// --- sign-in -----------------------------------------------------------------------------------

function showSignIn(message, kind = "error") {
  generation++;
  if (controller) controller.abort();
  setBusy(false);
  $("dash-view").hidden = true;
  $("who").hidden = true;
  $("signin-view").hidden = false;
  const { apiKey, username } = session.remembered();
  if (!$("apikey").value) $("apikey").value = apiKey;
  if (!$("username").value) $("username").value = username;
  $("password").value = "";
  showMessage("signin-message", message);
  $("signin-message").className = `message ${kind}`;
  $("signin-message").setAttribute("role", kind === "error" ? "alert" : "status");
  const first = ["apikey", "username", "password"].map($).find((i) => !i.value);
  (first || $("password")).focus();
  root.dataset.view = "signin";
}

async function onSignIn(event) {
  event.preventDefault();
  const button = $("signin-submit");
  const [apiKey, username, password] = ["apikey", "username", "password"].map((id) => $(id).value);
  if (!apiKey || !username || !password) {
    showMessage("signin-message", "Enter the API key, your username and your password.");
    return;
  }
  button.disabled = true;
  button.textContent = "Signing in…";
  try {
    await session.signIn(apiKey, username.trim(), password);
    $("password").value = "";
    showMessage("signin-message", "");
    showDashboard().catch((err) => showMessage("error", err.message));
  } catch (e) {
    if (!(e instanceof session.SignInError)) throw e;
    showMessage("signin-message", e.message);
    $("password").select();
    $("password").focus();
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
}

function onSignOut() {
  session.signOut();
  data.rows = [];
  $("apikey").value = "";
  $("username").value = "";
  showSignIn("You have signed out.", "info");
}

// --- the dashboard -------------------------------------------------------------------------------

async function showDashboard() {
  const s = session.current();
  $("signin-view").hidden = true;
  $("dash-view").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = s ? s.username : "";
  root.dataset.view = "dashboard";
  syncControls();
  try {
    const answer = await session.apiGet(`${UI}/pbxes`);
    knownPbxes = answer.pbxIds || [];
    $("who-name").textContent = answer.username;
  } catch (e) {
    if (e instanceof session.SessionEnded) return;
    showMessage("error", e.message);
  }
  buildPbxList();
  await refresh();
}

function setBusy(busy) {
  $("progress").hidden = !busy;
  $("main").setAttribute("aria-busy", busy ? "true" : "false");
  root.dataset.load = busy ? "loading" : "ready";
}

function finished() {
  root.dataset.loaded = String(++loadSerial);
}

function pbxParam() {
  return state.pbx === "allpbxes" ? "allpbxes" : state.pbx.join(",");
}

function extsumUrl(pbxId, q) {
  const params = { pbxId, startTime: q.startTime, endTime: q.endTime, timeZone: q.timeZone };
  const query = Object.entries(params).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
  return `${EXTSUM}?${query}`;
}

/** Run ``tasks`` (functions returning promises), at most ``limit`` at a time. */
async function pool(tasks, limit) {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await tasks[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

function describeWindow(w) {
  if (!w) return "";
  const range = w.first === w.last ? w.first : `${w.first} – ${w.last}`;
  return `${range} (00:00:00 – 23:59:59, ${state.tz})`;
}

async function refresh() {
  writeHash();
  showMessage("error", "");
  let w;
  try {
    w = windowDays(state.window, state.tz, { from: state.from, to: state.to });
  } catch {
    w = { error: `${state.tz} is not a time zone this browser knows.` };
  }
  if (!w.error && state.pbx !== "allpbxes" && state.pbx.length === 0)
    w = { error: "Choose at least one PBX." };
  if (controller) controller.abort();
  const gen = ++generation;
  if (w.error) {
    showMessage("error", w.error);
    Object.assign(data, { rows: [], window: null, days: [], perDay: [] });
    $("window-text").textContent = "";
    render();
    finished();
    return;
  }
  $("window-text").textContent = describeWindow(w);
  controller = new AbortController();
  const { signal } = controller;
  const pbxId = pbxParam();
  setBusy(true);
  $("status").textContent = "Loading…";
  const started = performance.now();
  try {
    const rows = await session.apiGet(extsumUrl(pbxId, dayQuery(w.first, w.last, state.tz)), { signal });
    if (gen !== generation) return;
    const ms = Math.round(performance.now() - started);
    const { days, cut } = trendDays(w);
    Object.assign(data, { rows, window: w, days, perDay: new Array(days.length), trendCut: cut, trendDone: 0 });
    render();
    $("status").textContent = `${rows.length} extension${rows.length === 1 ? "" : "s"} with calls · answered in ${ms} ms`;
    await pool(
      days.map((day, i) => async () => {
        const answer = await session.apiGet(extsumUrl(pbxId, dayQuery(day, day, state.tz)), { signal });
        if (gen !== generation) return;
        data.perDay[i] = answer;
        data.trendDone++;
        renderTrendNote();
      }),
      TREND_CONCURRENCY,
    );
    if (gen !== generation) return;
    renderTrend();
  } catch (e) {
    if (gen !== generation || e.name === "AbortError" || e instanceof session.SessionEnded) return;
    showMessage("error", e instanceof session.ApiError ? e.message : `The request failed: ${e.message}`);
    $("status").textContent = "";
  } finally {
    if (gen === generation) {
      setBusy(false);
      finished();
    }
  }
}

// --- controls ------------------------------------------------------------------------------------

function syncControls() {
  $("window").value = state.window;
  $("custom-range").hidden = state.window !== "custom";
  $("from").value = state.from;
  $("to").value = state.to;
  if (![...$("tz").options].some((o) => o.value === state.tz)) $("tz").append(h("option", { value: state.tz }, state.tz));
  $("tz").value = state.tz;
  $("q").value = state.q;
  syncColumnChooser();
}

function buildPbxList() {
  const chosen = state.pbx === "allpbxes" ? [] : state.pbx;
  const names = [...knownPbxes, ...chosen.filter((p) => !knownPbxes.includes(p))];
  const list = $("pbx-list");
  list.replaceChildren(
    ...names.map((name) =>
      h("label", { class: "check" }, h("input", { type: "checkbox", value: name, "data-pbx": "" }), ` ${name}`),
    ),
  );
  syncPbxList();
}

function syncPbxList() {
  const all = state.pbx === "allpbxes";
  $("pbx-all").checked = all;
  for (const box of $("pbx-list").querySelectorAll("input")) box.checked = all || state.pbx.includes(box.value);
  $("pbx-summary").textContent = all
    ? "All PBXs"
    : state.pbx.length === 0
      ? "None"
      : state.pbx.length <= 2
        ? state.pbx.join(", ")
        : `${state.pbx.length} PBXs`;
}

function onPbxChange(event) {
  const target = event.target;
  if (target.id === "pbx-all") {
    state.pbx = target.checked ? "allpbxes" : [];
  } else {
    const checked = [...$("pbx-list").querySelectorAll("input:checked")].map((b) => b.value);
    const everyKnown = knownPbxes.length > 0 && knownPbxes.every((p) => checked.includes(p));
    state.pbx = everyKnown && checked.length === knownPbxes.length ? "allpbxes" : checked;
  }
  syncPbxList();
  refresh();
}

function onWindowChange() {
  state.window = $("window").value;
  if (state.window === "custom" && (!state.from || !state.to) && data.window) {
    state.from = data.window.first;
    state.to = data.window.last;
  }
  syncControls();
  refresh();
}

function onCustomChange() {
  state.from = $("from").value;
  state.to = $("to").value;
  refresh();
}

function shownNames() {
  return state.cols || meta.defaults;
}

function shownColumns() {
  const names = new Set(shownNames());
  return meta.fields.filter((f) => names.has(f.name));
}

function buildColumnChooser() {
  const groups = new Map();
  for (const f of meta.fields) {
    if (!groups.has(f.group)) groups.set(f.group, []);
    groups.get(f.group).push(f);
  }
  $("column-groups").replaceChildren(
    ...[...groups].map(([group, fields]) =>
      h(
        "fieldset",
        { class: "column-group" },
        h("legend", {}, group),
        ...fields.map((f) =>
          h(
            "label",
            { class: "check", title: `${f.name}: ${f.definition}` },
            h("input", { type: "checkbox", value: f.name, "data-column": "" }),
            ` ${f.label}`,
          ),
        ),
      ),
    ),
  );
}

function syncColumnChooser() {
  const names = new Set(shownNames());
  for (const box of $("column-groups").querySelectorAll("input")) box.checked = names.has(box.value);
  $("column-count").textContent = `${names.size}/${meta.fields.length}`;
}

function setColumns(names) {
  const ordered = meta.fields.map((f) => f.name).filter((n) => names.includes(n));
  const isDefault =
    ordered.length === meta.defaults.length && meta.defaults.every((n) => ordered.includes(n));
  state.cols = isDefault ? null : ordered;
  syncColumnChooser();
  writeHash();
  render();
}

function onColumnChange() {
  setColumns([...$("column-groups").querySelectorAll("input:checked")].map((b) => b.value));
}

function onSort(key) {
  const field = meta.byName.get(key);
  if (state.sort && state.sort.key === key) {
    state.sort = { key, dir: state.sort.dir === "asc" ? "desc" : "asc" };
  } else {
    state.sort = { key, dir: firstDirection(field) };
  }
  writeHash();
  render();
  const button = document.querySelector(`#summary thead button[data-key="${key}"]`);
  if (button) button.focus();
}

let filterTimer = null;
function onFilter() {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    state.q = $("q").value;
    state.department = $("department").value;
    state.branch = $("branch").value;
    writeHash();
    render();
  }, 120);
}

function fillSelect(id, values, chosen) {
  const select = $(id);
  const all = chosen && !values.includes(chosen) ? [...values, chosen] : values;
  select.replaceChildren(h("option", { value: "" }, "All"), ...all.map((v) => h("option", { value: v }, v)));
  select.value = chosen;
}

function download() {
  const csv = toCsv(view.rows, view.columns);
  const w = data.window;
  const name = w ? `extsum_${w.first}_${w.last}_${state.tz.replace(/\//g, "-")}.csv` : "extsum.csv";
  const url = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function copyLink() {
  writeHash();
  const link = location.href;
  $("link-text").value = link;
  try {
    await navigator.clipboard.writeText(link);
    $("status").textContent = "Link copied. It carries the choices, never the sign-in.";
    $("link-box").hidden = true;
  } catch {
    $("link-box").hidden = false;
    $("link-text").focus();
    $("link-text").select();
  }
}

// --- rendering -----------------------------------------------------------------------------------

function render() {
  const columns = shownColumns();
  const filtered = filterRows(data.rows, state);
  const rows = sortRows(filtered, state.sort, meta.byName);
  view.rows = rows;
  view.columns = columns;
  fillSelect("department", distinct(data.rows, "Department"), state.department);
  fillSelect("branch", distinct(data.rows, "Branch"), state.branch);
  $("row-count").textContent = data.window
    ? rows.length === data.rows.length
      ? `(${rows.length})`
      : `(${rows.length} of ${data.rows.length})`
    : "";
  renderTable(rows, filtered, columns);
  renderKpis(filtered);
  renderComparisons(filtered);
  renderTrend();
}

function renderTable(rows, filtered, columns) {
  const table = $("summary");
  const head = h("tr");
  for (const f of columns) {
    const sorted = state.sort && state.sort.key === f.name ? state.sort.dir : null;
    head.append(
      h(
        "th",
        {
          scope: "col",
          class: f.unit === "text" ? "" : "num",
          "aria-sort": sorted ? (sorted === "asc" ? "ascending" : "descending") : null,
        },
        h(
          "button",
          { type: "button", "data-key": f.name, title: `${f.name}: ${f.definition}. Sort.` },
          f.label,
          h("span", { class: "arrow", "aria-hidden": "true" }, sorted === "asc" ? "▲" : sorted === "desc" ? "▼" : ""),
        ),
      ),
    );
  }
  table.tHead.replaceChildren(head);

  const cls = columns.map((f) => (f.unit === "text" ? "" : ' class="num"'));
  const parts = [];
  for (const row of rows) {
    parts.push("<tr>");
    columns.forEach((f, i) => {
      parts.push(`<td${cls[i]}>${escapeHtml(cellText(f, row[f.name]))}</td>`);
    });
    parts.push("</tr>");
  }
  if (rows.length === 0) {
    const why = !data.window ? "" : data.rows.length ? "No extension matches the filters." : "No calls in this window.";
    parts.push(`<tr><td class="empty" colspan="${columns.length}">${escapeHtml(why)}</td></tr>`);
  }
  table.tBodies[0].innerHTML = parts.join("");

  const foot = table.tFoot;
  if (filtered.length === 0) {
    foot.replaceChildren();
    return;
  }
  const sums = totals(filtered, meta.fields);
  const tr = h("tr");
  let labelled = false;
  columns.forEach((f, i) => {
    let text = "";
    if (f.unit === "text") {
      if (!labelled) text = `Total (${filtered.length})`;
      labelled = true;
    } else if (f.name in sums) {
      text = cellText(f, sums[f.name]);
    }
    const attrs = { class: f.unit === "text" ? "" : "num" };
    if (f.unit !== "text" && !(f.name in sums)) attrs.title = "Not derivable from the rows";
    tr.append(h(i === 0 ? "th" : "td", i === 0 ? { ...attrs, scope: "row" } : attrs, text));
  });
  foot.replaceChildren(tr);
}

function renderKpis(rows) {
  const t = totals(rows, meta.fields);
  const pct = (a, b) => (b ? `${Math.floor((100 * a) / b)}%` : "–");
  const tiles = [
    ["Inbound", formatCount(t.Inbound_Total || 0), `${formatCount(t.Inbound_Answered || 0)} answered`, "s-inbound"],
    ["Missed", formatCount(t.Total_Missed || 0), `${pct(t.Total_Missed, t.Inbound_Total)} of inbound`, "s-missed"],
    ["Abandoned", formatCount(t.Total_Abandoned || 0), "inbound and outbound", "s-abandoned"],
    ["Voicemail", formatCount(t.Total_Calls_To_VM || 0), `${pct(t.Total_Calls_To_VM, t.Inbound_Total)} of inbound`, "s-voicemail"],
    ["Outbound", formatCount(t.Outbound_Total || 0), `${formatCount(t.Outbound_Answered || 0)} answered`, "s-outbound"],
    ["Talk time", hms(t.Total_Talk_Time || 0), `${hms(t.Avg_Talk_Time || 0)} per answered call`, "s-talk"],
  ];
  $("kpis").replaceChildren(
    ...tiles.map(([label, value, sub, cls]) =>
      h("div", { class: `kpi ${cls}` }, h("span", { class: "kpi-label" }, label), h("strong", { class: "kpi-value" }, value), h("span", { class: "kpi-sub" }, sub)),
    ),
  );
}

function plotWidth(figure) {
  return Math.max(280, Math.floor(figure.querySelector(".plot").clientWidth || figure.clientWidth - 32));
}

const VOLUME = [
  { key: "Total_Answered", label: "Answered", cls: "s-answered" },
  { key: "Total_Missed", label: "Missed", cls: "s-missed" },
  { key: "Total_Abandoned", label: "Abandoned", cls: "s-abandoned" },
  { key: "Total_Calls_To_VM", label: "Voicemail", cls: "s-voicemail" },
];
const TIMES = [
  { key: "Total_Ring_Time", label: "Ring", cls: "s-ring" },
  { key: "Total_Talk_Time", label: "Talk", cls: "s-talk" },
];

function top(rows, score) {
  return rows
    .map((row, i) => [row, i])
    .sort((a, b) => score(b[0]) - score(a[0]) || a[1] - b[1])
    .slice(0, CHART_EXTENSIONS)
    .map(([row]) => row)
    .filter((row) => score(row) > 0);
}

function who(row) {
  const name = `${row.FirstName} ${row.LastName}`.trim();
  return name || row.PbxId;
}

function comparison(figureId, noteId, rows, series, { score, unit, stacked, title, by }) {
  const figure = $(figureId);
  const chosen = top(rows, score);
  const groups = chosen.map((row) => ({ label: row.Extension, sub: who(row), values: series.map((s) => row[s.key] || 0) }));
  const plot = figure.querySelector(".plot");
  const width = plotWidth(figure);
  const fmt = unit === "ms" ? hms : formatCount;
  plot.replaceChildren(
    columnChart({ groups, series, stacked, unit, width, title }),
    dataTable(
      title,
      ["Extension", ...series.map((s) => s.label)],
      chosen.map((row) => [`${row.Extension} ${who(row)} (${row.PbxId})`, ...series.map((s) => fmt(row[s.key] || 0))]),
    ),
  );
  const withAny = rows.filter((r) => score(r) > 0).length;
  $(noteId).textContent = !data.window
    ? ""
    : withAny > chosen.length
      ? `Top ${chosen.length} of ${withAny} extensions by ${by}`
      : `${chosen.length} extension${chosen.length === 1 ? "" : "s"}`;
}

function renderComparisons(rows) {
  comparison("chart-volume", "chart-volume-note", rows, VOLUME, {
    score: (r) => r.Inbound_Total + r.Outbound_Total,
    unit: "count",
    stacked: false,
    title: "Call volume per extension",
    by: "calls",
  });
  comparison("chart-time", "chart-time-note", rows, TIMES, {
    score: (r) => r.Total_Call_Time,
    unit: "ms",
    stacked: true,
    title: "Ring and talk time per extension",
    by: "call time",
  });
}

function renderTrendNote() {
  const n = data.days.length;
  let note = "";
  if (data.window) {
    if (data.trendDone < n) note = `Loading day ${data.trendDone + 1} of ${n}…`;
    else if (n === 0) note = "The window has not started yet.";
    else note = `${n} local day${n === 1 ? "" : "s"}, one report each${data.trendCut ? " (the last days of a long window)" : ""}`;
  }
  $("chart-trend-note").textContent = note;
}

function renderTrend() {
  renderTrendNote();
  const figure = $("chart-trend");
  const plot = figure.querySelector(".plot");
  const ready = data.window && data.trendDone === data.days.length;
  if (!ready) {
    if (!data.window) plot.replaceChildren();
    return;
  }
  const perDay = data.perDay.map((rows) => totals(filterRows(rows || [], state), meta.fields));
  const series = VOLUME.map((s) => ({ ...s, values: perDay.map((t) => t[s.key] || 0) }));
  plot.replaceChildren(
    lineChart({ days: data.days, series, width: plotWidth(figure), title: "Calls per day" }),
    dataTable(
      "Calls per day",
      ["Day", ...VOLUME.map((s) => s.label)],
      data.days.map((d, i) => [d, ...series.map((s) => formatCount(s.values[i]))]),
    ),
  );
}

// --- start ---------------------------------------------------------------------------------------

async function fetchJson(path) {
  const r = await fetch(path, { cache: "no-cache" });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function wire() {
  $("signin-form").addEventListener("submit", (e) => {
    onSignIn(e).catch((err) => showMessage("signin-message", `Sign-in failed: ${err.message}`));
  });
  $("sign-out").addEventListener("click", onSignOut);
  $("pbx-menu").addEventListener("change", onPbxChange);
  $("window").addEventListener("change", onWindowChange);
  $("from").addEventListener("change", onCustomChange);
  $("to").addEventListener("change", onCustomChange);
  $("tz").addEventListener("change", () => {
    state.tz = $("tz").value;
    refresh();
  });
  $("refresh").addEventListener("click", () => refresh());
  $("q").addEventListener("input", onFilter);
  $("department").addEventListener("change", onFilter);
  $("branch").addEventListener("change", onFilter);
  $("column-groups").addEventListener("change", onColumnChange);
  $("columns-default").addEventListener("click", () => setColumns(meta.defaults));
  $("columns-all").addEventListener("click", () => setColumns(meta.fields.map((f) => f.name)));
  $("summary").tHead.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-key]");
    if (button) onSort(button.dataset.key);
  });
  $("download").addEventListener("click", download);
  $("copy-link").addEventListener("click", copyLink);
  for (const d of document.querySelectorAll("details.menu")) {
    d.addEventListener("toggle", () => d.open && closeMenus(d));
  }
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    const open = document.querySelector("details.menu[open]");
    if (open) {
      open.open = false;
      open.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", (e) => {
    if (!e.target.closest("details.menu")) closeMenus(null);
  });
  window.addEventListener("hashchange", () => {
    readHash();
    syncControls();
    buildPbxList();
    if (root.dataset.view === "dashboard") refresh();
  });
  let resizeTimer = null;
  new ResizeObserver(() => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (root.dataset.view !== "dashboard" || !data.window) return;
      renderComparisons(filterRows(data.rows, state));
      renderTrend();
    }, 100);
  }).observe($("chart-trend"));
  session.onEnded((reason) => showSignIn(reason));
}

async function start() {
  const $window = $("window");
  $window.replaceChildren(...WINDOWS.map(([value, label]) => h("option", { value }, label)));
  const [fields, zoneList] = await Promise.all([fetchJson(`${UI}/fields.json`), fetchJson(`${UI}/zones.json`)]);
  meta = {
    fields: fields.fields,
    byName: new Map(fields.fields.map((f) => [f.name, f])),
    defaults: fields.defaultColumns,
  };
  zones = zoneList.filter(isZone);
  const mine = browserZone();
  $("tz").replaceChildren(
    ...zones.map((z) => h("option", { value: z }, z === mine ? `${z} (this browser)` : z)),
  );
  buildColumnChooser();
  readHash();
  syncControls();
  wire();
  if (session.current()) await showDashboard();
  else showSignIn("");
}

start().catch((e) => {
  document.body.prepend(h("p", { class: "message error", role: "alert" }, `The dashboard could not start: ${e.message}`));
});
