// The list under the cards: every alert of the last 24 h and what became of it.

import { byId, el, setText } from "../dom.js";
import { alertLabel } from "./alerts.js";
import { displayName, fmtClock, page, serverNow } from "./state.js";

function recentItem(alert) {
  const item = el("li", "recent-item");
  item.dataset.id = String(alert.id);
  item.dataset.condition = alert.condition;
  item.dataset.severity = alert.severity;
  item.dataset.state = alert.state;
  const head = el("p", "recent-head");
  const dot = el("span", "dot");
  dot.setAttribute("aria-hidden", "true");
  head.append(dot, el("span", "recent-label", alertLabel(alert)));
  head.append(el("span", "recent-room", displayName(alert.room)));
  const opened = `Opened ${fmtClock(Date.parse(alert.opened_at))}`;
  let outcome;
  if (alert.state === "resolved" && alert.resolved_at) {
    outcome = `Resolved ${fmtClock(Date.parse(alert.resolved_at))}`;
  } else if (alert.state === "snoozed" && alert.snoozed_until) {
    outcome = `Snoozed until ${fmtClock(Date.parse(alert.snoozed_until))}`;
  } else {
    outcome = "Still open";
  }
  const when = el("p", "recent-when", `${opened} · ${outcome}`);
  item.append(head, when);
  if (alert.acknowledged_at) {
    const at = fmtClock(Date.parse(alert.acknowledged_at));
    item.append(el("p", "recent-who", `Acknowledged by ${alert.acknowledged_by || "someone"} at ${at}`));
  } else if (alert.acknowledged_by) {
    item.append(el("p", "recent-who", `Snoozed by ${alert.acknowledged_by}`));
  }
  return item;
}

export function renderRecent() {
  const section = byId("recent");
  section.hidden = !page.alertsLoaded;
  if (!page.alertsLoaded) return;
  const key = JSON.stringify(page.alerts) + Math.floor(serverNow() / 60000);
  if (key === page.recentKey) return;
  page.recentKey = key;

  const count = byId("recent-count");
  setText(count, String(page.alerts.length));
  count.hidden = page.alerts.length === 0;
  byId("recent-empty").hidden = page.alerts.length > 0;
  const list = byId("recent-list");
  list.hidden = page.alerts.length === 0;
  list.replaceChildren(...page.alerts.map(recentItem));
}
