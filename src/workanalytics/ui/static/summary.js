// The table's logic, without the DOM: formatting, filtering, sorting, totals and CSV.
// Field names, units and how totals add up come from the server's fields.json (generated
// from metrics.FIELDS); nothing here lists the fields.

/** Milliseconds as h:mm:ss (whole seconds, rounded down; hours are not capped at 24). */
export function hms(ms) {
  const total = Math.floor(Math.max(0, Number(ms) || 0) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

/** A cell's text: exactly what the table shows and the CSV carries. */
export function cellText(field, value) {
  if (value === null || value === undefined || value === "") return "";
  if (field.unit === "ms") return hms(value);
  return String(value);
}

/** Extension order of the API (docs/decisions.md): digit strings first, numerically. */
export function compareExtensions(a, b) {
  const da = /^[0-9]+$/.test(a);
  const db = /^[0-9]+$/.test(b);
  if (da !== db) return da ? -1 : 1;
  if (da) {
    const sa = a.replace(/^0+/, "");
    const sb = b.replace(/^0+/, "");
    if (sa.length !== sb.length) return sa.length - sb.length;
    if (sa !== sb) return sa < sb ? -1 : 1;
  }
  return codePointCompare(a, b);
}

function codePointCompare(a, b) {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0);
    const cy = y.value.codePointAt(0);
    if (cx !== cy) return cx - cy;
  }
}

const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

/** Numbers first click: largest first; text: A to Z. */
export function firstDirection(field) {
  return field.unit === "text" ? "asc" : "desc";
}

/**
 * Rows sorted by ``sort`` ({key, dir}) or left in the API's order when ``sort`` is null.
 * Ties keep the API's order.
 */
export function sortRows(rows, sort, fieldsByName) {
  if (!sort || !fieldsByName.has(sort.key)) return rows.slice();
  const indexed = rows.map((row, i) => [row, i]);
  const field = fieldsByName.get(sort.key);
  const sign = sort.dir === "desc" ? -1 : 1;
  let cmp;
  if (field.name === "Extension") cmp = (a, b) => compareExtensions(a, b);
  else if (field.unit === "text") cmp = (a, b) => collator.compare(a, b);
  else cmp = (a, b) => a - b;
  indexed.sort((x, y) => {
    const c = cmp(x[0][sort.key] ?? "", y[0][sort.key] ?? "");
    return c !== 0 ? sign * c : x[1] - y[1];
  });
  return indexed.map(([row]) => row);
}

/** The text a name filter looks in: extension, first and last name, username. */
function haystack(row) {
  return [row.Extension, `${row.FirstName} ${row.LastName}`, `${row.LastName} ${row.FirstName}`, row.UserName]
    .join("\n")
    .toLowerCase();
}

/** Rows whose name or extension contains every word of ``q`` and whose department and
 * branch are the ones chosen ("" = any). */
export function filterRows(rows, { q = "", department = "", branch = "" } = {}) {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter(
    (row) =>
      (!department || row.Department === department) &&
      (!branch || row.Branch === branch) &&
      (words.length === 0 || words.every((w) => haystack(row).includes(w))),
  );
}

/** The totals row: sums, and ratios recomputed from summed fields (fields.json's "total"). */
export function totals(rows, fields) {
  const out = {};
  for (const f of fields) {
    if (f.total && f.total.op === "sum") out[f.name] = rows.reduce((a, r) => a + (r[f.name] || 0), 0);
  }
  for (const f of fields) {
    if (f.total && f.total.op === "ratio") {
      const num = out[f.total.num];
      const den = out[f.total.den];
      out[f.name] = den ? Math.floor((f.total.scale * num) / den) : 0;
    }
  }
  return out;
}

/** Distinct non-empty values of a column, sorted for a menu. */
export function distinct(rows, key) {
  return [...new Set(rows.map((r) => r[key]).filter((v) => v !== "" && v != null))].sort(
    collator.compare,
  );
}

function csvCell(text) {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The CSV of what the table shows: a header of the API's field names for the shown columns,
 * then the shown rows in the shown order, each cell the table's text. The totals row is not
 * included (a spreadsheet would add it again). UTF-8 with a byte-order mark, CRLF lines.
 */
export function toCsv(rows, columns) {
  const lines = [columns.map((f) => csvCell(f.name)).join(",")];
  for (const row of rows) lines.push(columns.map((f) => csvCell(cellText(f, row[f.name]))).join(","));
  return `\ufeff${lines.join("\r\n")}\r\n`;
}
