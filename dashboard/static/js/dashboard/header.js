// The page's header: one summary line for every room, and the banner that says when
// phone alerts are failing (the page still shows the alerts then).

import { byId, el, setText } from "../dom.js";
import { fmtDuration } from "../format.js";
import { roomTroubles } from "./alerts.js";
import { displayName, elapsedSince, page } from "./state.js";

function summary() {
  const views = [...page.rooms.values()];
  if (page.reachable === null) return { state: "loading", message: "Connecting to the hub…" };
  if (!page.reachable) {
    return { state: "alert", message: "Can't reach the hub — readings below may be out of date" };
  }
  if (!views.length) return { state: "notice", message: "Hub connected · no monitor yet" };
  const troubled = views
    .map((view) => ({ view, troubles: roomTroubles(view) }))
    .filter((entry) => entry.troubles.length);
  const urgent = (entry) => entry.troubles.some((t) => t.level === "alert");
  if (!troubled.length) {
    return { state: "ok", message: views.length === 1 ? "Monitor reporting" : "All monitors reporting" };
  }
  if (troubled.length === 1) {
    const [{ view, troubles }] = troubled;
    const top = troubles[0];
    const answered =
      top.state === "acknowledged" ? " · acknowledged" : top.state === "snoozed" ? " · snoozed" : "";
    return { state: top.level, message: `${displayName(view.name)}: ${top.what}${answered}` };
  }
  return { state: troubled.some(urgent) ? "alert" : "warn", message: `${troubled.length} rooms need checking` };
}

export function renderSummary() {
  const { state, message } = summary();
  byId("summary").dataset.state = state;
  setText(byId("summary-text"), message);
  document.body.classList.toggle("hub-unreachable", page.reachable === false);
  setText(
    byId("updated"),
    page.lastOkAt === null ? "Not updated yet" : `Updated ${fmtDuration(elapsedSince(page.lastOkAt))} ago`
  );
}

/** Push delivery from /healthz: the page still shows alerts when phones do not get them. */
export function applyHealth(health) {
  const banner = byId("delivery");
  const n = health.notifications;
  const failing = Boolean(n && n.failing);
  banner.hidden = !failing;
  if (!failing) return;
  const error = (n.last_error || "").trim().replace(/\.$/, "");
  const rest = `${error ? `: ${error}` : ""} — retrying. Alerts still show here.`;
  const text = byId("delivery-text");
  if (text.textContent !== `Phone alerts are failing${rest}`) {
    text.replaceChildren(el("strong", "", "Phone alerts are failing"), rest);
  }
}

/** From /api/notify/status: the banner while no phone has passed a test push, and in red
 * the caregivers' channels whose last delivery failed (the words are the hub's). */
export function applyNotifyStatus(status) {
  const noPhone = byId("no-phone");
  noPhone.hidden = !status.banner;
  if (status.banner) setText(byId("no-phone-text"), status.banner);
  const down = byId("channels-down");
  down.hidden = !status.failing.length;
  setText(byId("channels-down-text"), status.failing.map((f) => f.text).join(". "));
}
