// Signed-in pages: who is signed in, with a "Sign out" button (js/api.js sends the CSRF
// token with every change and goes back to the sign-in page when the session has ended).

import { account } from "./js/api.js";
import { byId, el } from "./js/dom.js";

function showAccount(who) {
  const slot = byId("account");
  if (!slot || !who) return;
  slot.textContent = "";
  const form = el("form");
  form.method = "post";
  form.action = "/logout";
  const csrf = el("input");
  csrf.type = "hidden";
  csrf.name = "csrf";
  csrf.value = who.csrf_token || "";
  const button = el("button", "", "Sign out");
  button.type = "submit";
  form.append(csrf, button);
  slot.append(el("span", "account-name", "Signed in as " + who.name), form);
  if (who.demo) {
    const note =
      "Demo: you were signed in automatically as the demo caregiver. A real hub asks for a password.";
    slot.append(el("span", "demo-note", note));
  }
  slot.hidden = false;
}

account.then(showAccount);
