// The signed-in session: a token from the API's own token endpoint, kept in sessionStorage
// (this tab only, gone when it closes), renewed before it expires, dropped on sign-out.
//
// The token endpoint only knows the password grant, so renewing means asking again with the
// same username and password. The password is therefore held in this module's memory (never
// in storage, never in the URL) for as long as the page is open; after a reload the token
// still works until it expires, and then the page asks for the password again.

export const BASE = "/analytics/work";
const TOKEN_URL = `${BASE}/v1/oauth/token`;
const STORAGE_KEY = "workanalytics.session";

/** Sign-in refused; ``message`` is for people. */
export class SignInError extends Error {}

/** The session is over (token expired or no longer valid): sign in again. */
export class SessionEnded extends Error {}

/** Any other refusal of an API request, with the server's message. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

let password = null; // in memory only, for renewal
let renewTimer = null;
const listeners = new Set();

/** ``fn(reason)`` is called when the session ends on its own (expiry, refusal). */
export function onEnded(fn) {
  listeners.add(fn);
}

function load() {
  try {
    const data = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    return data && typeof data.token === "string" ? data : null;
  } catch {
    return null;
  }
}

function save(data) {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(data));
}

/** The stored session when its token has not expired yet (by this browser's clock). */
export function current() {
  const s = load();
  if (!s || !(s.expiresAt > Date.now())) return null;
  return s;
}

/** What the sign-in form may show again: the API key and username, never the password. */
export function remembered() {
  const s = load();
  return s ? { apiKey: s.apiKey || "", username: s.username || "" } : { apiKey: "", username: "" };
}

function signInMessage(status, body, retryAfter) {
  if (status === 429) {
    const wait = retryAfter ? ` Try again in ${retryAfter} s.` : " Try again later.";
    return `Too many failed sign-ins.${wait}`;
  }
  if (body && body.code === "SHA001") return "This API key is not valid.";
  if (body && body.error === "invalid_grant") return "Wrong username or password.";
  if (body && body.error === "invalid_request") return "Enter a username and a password.";
  return `Sign-in failed (HTTP ${status}).`;
}

async function requestToken(apiKey, username, pass) {
  let response;
  try {
    response = await fetch(TOKEN_URL, {
      method: "POST",
      headers: { "8x8-apikey": apiKey, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username, password: pass }),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new SignInError("The server cannot be reached.");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok || !body || typeof body.access_token !== "string") {
    throw new SignInError(
      signInMessage(response.status, body, response.headers.get("Retry-After")),
    );
  }
  return body;
}

function store(apiKey, username, body) {
  const lifetime = Number(body.expires_in) || 1800;
  save({
    apiKey,
    username,
    token: body.access_token,
    // Relative to this browser's clock, so a skewed clock does not matter.
    expiresAt: Date.now() + lifetime * 1000,
    lifetime,
  });
  scheduleRenewal(lifetime);
}

/** Ask the token endpoint; on success the session is stored and its renewal scheduled. */
export async function signIn(apiKey, username, pass) {
  const body = await requestToken(apiKey, username, pass);
  password = pass;
  store(apiKey, username, body);
}

/** When to renew: two minutes before expiry, but not before half the lifetime. */
export function renewalDelay(lifetimeSeconds) {
  return Math.max(lifetimeSeconds - 120, lifetimeSeconds / 2) * 1000;
}

function scheduleRenewal(lifetime) {
  clearTimeout(renewTimer);
  renewTimer = setTimeout(renew, renewalDelay(lifetime));
}

async function renew() {
  const s = load();
  if (!s || password === null) return; // after a reload: the token runs out, then sign-in
  try {
    store(s.apiKey, s.username, await requestToken(s.apiKey, s.username, password));
  } catch {
    // Refused (password changed, key revoked) or unreachable: try again shortly while the
    // token lasts; once it has expired, the next request leads to sign-in.
    if (current()) renewTimer = setTimeout(renew, 30_000);
  }
}

/** Forget the token and the password; keep the API key and username for the form. */
export function end() {
  clearTimeout(renewTimer);
  password = null;
  const s = load();
  if (s) save({ apiKey: s.apiKey, username: s.username, token: "", expiresAt: 0 });
}

/** Sign out: forget everything. */
export function signOut() {
  clearTimeout(renewTimer);
  password = null;
  sessionStorage.removeItem(STORAGE_KEY);
}

function endedMessage(status, body) {
  if (status === 400 && body && body.code === "SHA001")
    return "The API key is no longer valid. Sign in again.";
  if (body && body.error_description === "Access token expired")
    return "Your session has expired. Sign in again.";
  return "Your session is no longer valid. Sign in again.";
}

function fail(reason) {
  end();
  for (const fn of listeners) fn(reason);
  throw new SessionEnded(reason);
}

function apiMessage(status, body) {
  if (!body) return `The server answered HTTP ${status}.`;
  const hint = body.details && body.details[0] && body.details[0].hint;
  const message = body.message || body.error_description || body.error || `HTTP ${status}`;
  return hint ? `${message} (${hint})` : message;
}

/** GET a JSON answer with the API key and the token; ``SessionEnded`` on 401 or a bad key. */
export async function apiGet(path, { signal } = {}) {
  const s = current();
  if (!s) fail("Your session has expired. Sign in again.");
  const response = await fetch(path, {
    headers: { "8x8-apikey": s.apiKey, Authorization: `Bearer ${s.token}` },
    signal,
    cache: "no-store",
    credentials: "omit",
  });
  const body = await response.json().catch(() => null);
  if (response.status === 401 || (response.status === 400 && body && body.code === "SHA001")) {
    if (signal && signal.aborted) throw new DOMException("aborted", "AbortError");
    fail(endedMessage(response.status, body));
  }
  if (!response.ok) throw new ApiError(apiMessage(response.status, body), response.status);
  return body;
}
