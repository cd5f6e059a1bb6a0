// Talking to the hub: one request function that sends the session's CSRF token with every
// change and sends the parent to sign in when the session has ended. window.fetch is left
// as the browser made it.

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
export const FETCH_TIMEOUT_MS = 10000;
let leaving = false;

function signIn() {
  if (leaving) return;
  leaving = true;
  const here = window.location.pathname + window.location.search;
  window.location.assign("/login?next=" + encodeURIComponent(here));
}

function sameOrigin(url) {
  try {
    return new URL(url, window.location.href).origin === window.location.origin;
  } catch (e) {
    return false;
  }
}

/** The caregiver this page acts for: {name, csrf_token, demo}, or null. */
export const account = fetch("/api/auth/me", { cache: "no-store", credentials: "same-origin" }).then(
  async (res) => {
    if (res.status === 401) {
      signIn();
      return null;
    }
    return res.ok ? res.json() : null;
  },
  () => null,
);

/**
 * fetch() for the hub: never from the cache, given up after `timeoutMs`, with the CSRF
 * header on a change; a 401 sends the parent to sign in. Resolves to the Response.
 */
export async function send(url, { timeoutMs = FETCH_TIMEOUT_MS, ...init } = {}) {
  const options = { cache: "no-store", signal: AbortSignal.timeout(timeoutMs), ...init };
  const method = (options.method || "GET").toUpperCase();
  if (!SAFE.has(method) && sameOrigin(url)) {
    const who = await account;
    const headers = new Headers(options.headers || {});
    if (who && who.csrf_token) headers.set("X-CSRF-Token", who.csrf_token);
    options.headers = headers;
  }
  const res = await fetch(url, options);
  if (res.status === 401 && sameOrigin(url)) signIn();
  return res;
}

/** A JSON request: {ok, status, data}, data null when the answer is not JSON (204). */
export async function request(method, url, body, timeoutMs = FETCH_TIMEOUT_MS) {
  const options = { method, timeoutMs, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const res = await send(url, options);
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  return { ok: res.ok, status: res.status, data };
}

/** GET a JSON body; `alsoOk` lists statuses whose body still answers (503 from /healthz). */
export async function getJson(url, alsoOk = []) {
  const res = await send(url);
  if (!res.ok && !alsoOk.includes(res.status)) throw new Error(`${url}: HTTP ${res.status}`);
  return { res, body: await res.json() };
}
