/* Signed-in pages: send the session's CSRF token with every change, go back to the sign-in
 * page when the session has ended, and show who is signed in with a "Sign out" button.
 * Loaded before the page's own script, which then uses fetch() as usual. */
(function () {
  "use strict";

  const nativeFetch = window.fetch.bind(window);
  const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
  let leaving = false;

  function signIn() {
    if (leaving) return;
    leaving = true;
    const here = window.location.pathname + window.location.search;
    window.location.assign("/login?next=" + encodeURIComponent(here));
  }

  const me = nativeFetch("/api/auth/me", { cache: "no-store", credentials: "same-origin" }).then(
    async (res) => {
      if (res.status === 401) {
        signIn();
        return null;
      }
      return res.ok ? res.json() : null;
    },
    () => null,
  );

  function sameOrigin(url) {
    try {
      return new URL(url, window.location.href).origin === window.location.origin;
    } catch (e) {
      return false;
    }
  }

  window.fetch = async function (input, init) {
    const options = Object.assign({}, init || {});
    const url = typeof input === "string" ? input : input.url;
    const method = (options.method || (typeof input === "string" ? "GET" : input.method) || "GET").toUpperCase();
    if (!SAFE.has(method) && sameOrigin(url)) {
      const who = await me;
      const headers = new Headers(options.headers || {});
      if (who && who.csrf_token) headers.set("X-CSRF-Token", who.csrf_token);
      options.headers = headers;
    }
    const res = await nativeFetch(input, options);
    if (res.status === 401 && sameOrigin(url)) signIn();
    return res;
  };

  /** The caregiver this page acts for: {name, csrf_token, demo}, or null. */
  window.nurseryAccount = me;

  function showAccount(who) {
    const slot = document.getElementById("account");
    if (!slot || !who) return;
    slot.textContent = "";
    const name = document.createElement("span");
    name.className = "account-name";
    name.textContent = "Signed in as " + who.name;
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/logout";
    const csrf = document.createElement("input");
    csrf.type = "hidden";
    csrf.name = "csrf";
    csrf.value = who.csrf_token || "";
    const button = document.createElement("button");
    button.type = "submit";
    button.textContent = "Sign out";
    form.append(csrf, button);
    slot.append(name, form);
    if (who.demo) {
      const note = document.createElement("span");
      note.className = "demo-note";
      note.textContent =
        "Demo: you were signed in automatically as the demo caregiver. A real hub asks for a password.";
      slot.append(note);
    }
    slot.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", () => {
    me.then(showAccount);
  });
})();
