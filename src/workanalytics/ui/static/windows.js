// Windows of whole local days in a time zone, as the wall-clock strings the API takes.
// Only calendar dates are computed here; the server turns wall-clock times into instants
// (and applies the zone's daylight-saving rules).

export const WINDOWS = [
  ["today", "Today"],
  ["yesterday", "Yesterday"],
  ["this-week", "This week"],
  ["last-7-days", "Last 7 days"],
  ["this-month", "This month"],
  ["last-month", "Last month"],
  ["custom", "Custom"],
];
export const DEFAULT_WINDOW = "today";

/** The per-day trend asks for at most this many days (the last ones of the window). */
export const MAX_TREND_DAYS = 92;

const DAY_MS = 86_400_000;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 of a "YYYY-MM-DD" string, or NaN. */
export function dayNumber(date) {
  const m = DATE_RE.exec(date || "");
  if (!m) return NaN;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
    return NaN;
  return Math.round(t / DAY_MS);
}

/** "YYYY-MM-DD" of a day number. */
export function dateOf(day) {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** Today's date in ``timeZone`` at instant ``now`` (epoch ms). */
export function todayIn(timeZone, now = Date.now()) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    calendar: "gregory",
    numberingSystem: "latn",
  }).formatToParts(new Date(now));
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year").padStart(4, "0")}-${get("month")}-${get("day")}`;
}

/** Whether the browser knows ``timeZone`` (the server's list is the authority). */
export function isZone(timeZone) {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The first and last day of a window: ``{first, last}`` as "YYYY-MM-DD", or ``{error}``. */
export function windowDays(kind, timeZone, { from = "", to = "", now = Date.now() } = {}) {
  const today = dayNumber(todayIn(timeZone, now));
  const t = new Date(today * DAY_MS);
  const y = t.getUTCFullYear();
  const m = t.getUTCMonth();
  const monthStart = (yy, mm) => Math.round(Date.UTC(yy, mm, 1) / DAY_MS);
  let first;
  let last;
  switch (kind) {
    case "today":
      first = last = today;
      break;
    case "yesterday":
      first = last = today - 1;
      break;
    case "this-week": {
      // Weeks start on Monday (ISO 8601).
      const weekday = (t.getUTCDay() + 6) % 7;
      first = today - weekday;
      last = first + 6;
      break;
    }
    case "last-7-days":
      first = today - 6;
      last = today;
      break;
    case "this-month":
      first = monthStart(y, m);
      last = monthStart(y, m + 1) - 1;
      break;
    case "last-month":
      first = monthStart(y, m - 1);
      last = monthStart(y, m) - 1;
      break;
    case "custom": {
      first = dayNumber(from);
      last = dayNumber(to);
      if (Number.isNaN(first) || Number.isNaN(last)) return { error: "Choose both dates." };
      if (last < first) return { error: "The last day is before the first." };
      break;
    }
    default:
      return { error: `Unknown window ${kind}.` };
  }
  return { first: dateOf(first), last: dateOf(last), today: dateOf(today) };
}

/** The API's query for whole local days ``first`` .. ``last`` (the end second included). */
export function dayQuery(first, last, timeZone) {
  return { startTime: `${first} 00:00:00`, endTime: `${last} 23:59:59`, timeZone };
}

/** Every date from ``first`` to ``last``, both included. */
export function eachDay(first, last) {
  const days = [];
  for (let d = dayNumber(first); d <= dayNumber(last); d++) days.push(dateOf(d));
  return days;
}

/** The days of the per-day trend: the window's days up to today, the last MAX_TREND_DAYS. */
export function trendDays({ first, last, today }) {
  const end = last < today ? last : today;
  if (end < first) return { days: [], cut: false };
  const days = eachDay(first, end);
  const cut = days.length > MAX_TREND_DAYS;
  return { days: cut ? days.slice(-MAX_TREND_DAYS) : days, cut };
}
