// The one way the pages talk to the API: JSON in and out, the CSRF token on
// every write, and one answer to an expired session (back to sign-in).

const CSRF = "pilotline.csrf";

// csrf is the token of this browser's session: kept by the sign-in page and
// refreshed by /me, or read from the CSRF cookie.
export function csrf() {
  const kept = sessionStorage.getItem(CSRF);
  if (kept) return kept;
  const m = document.cookie.match(/(?:^|;\s*)pilotline_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export function keepCSRF(token) { if (token) sessionStorage.setItem(CSRF, token); }

// signInURL is the sign-in page that returns here afterwards.
export function signInURL() {
  return "/login.html?next=" + encodeURIComponent(location.pathname + location.search + location.hash);
}

// ApiError is a failed call: the HTTP status, the API's stable error code,
// its parameters (when the API gives them) and its English message.
export class ApiError extends Error {
  constructor(status, code, message, params) {
    super(message);
    this.status = status;
    this.code = code;
    this.params = params || {};
  }
}

// api calls method path (under /api/v1) with body as JSON and returns the
// decoded answer. A 401 sends the browser to sign in, unless opts.stay
// (the e-signature form treats a 401 as a wrong password).
export async function api(method, path, body, opts = {}) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") init.headers["X-CSRF-Token"] = csrf();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch("/api/v1" + path, init);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.ok) return data;
  const e = data?.error || {};
  if (res.status === 401 && !opts.stay) location.href = signInURL();
  throw new ApiError(res.status, e.code || "", e.message || res.statusText, e.params);
}

// me returns the signed-in user ({user, csrf_token}) and keeps the token.
export async function me() {
  const info = await api("GET", "/me");
  keepCSRF(info.csrf_token);
  return info;
}

// signOut ends the session and opens the sign-in page.
export async function signOut() {
  try { await api("POST", "/logout", undefined, { stay: true }); } catch (_) { /* signed out either way */ }
  sessionStorage.removeItem(CSRF);
  location.href = "/login.html";
}
