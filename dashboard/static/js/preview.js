// The settings page's "what if": before a threshold is saved, what the last 7 days of
// stored readings would have paged with it (POST /api/settings/preview), beside the
// pushes the thresholds in force would have sent. The sentence comes from the hub.

import { request } from "./api.js";
import { el } from "./dom.js";

const WAIT_MS = 500; // after the last keystroke
const PREVIEW_TIMEOUT_MS = 120000; // a week of readings takes a Pi a while

const timers = new WeakMap();
const asked = new WeakMap(); // the node -> the body it last asked about

function when(iso) {
  return new Date(iso).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
}

/** The alerts the changed thresholds would have raised, each with its first push. */
function alertList(alerts) {
  const list = el("ul", "st-preview-list");
  for (const alert of alerts) {
    const first = alert.pushes.length ? alert.pushes[0].title : "";
    const item = el("li", null, `${when(alert.opened)} · ${alert.label} · ${alert.pushes.length} × ${first}`);
    list.append(item);
  }
  return list;
}

function show(node, data) {
  node.replaceChildren(el("span", "st-preview-sentence", data.summary));
  if (data.alerts_changed.length) node.append(alertList(data.alerts_changed));
  node.hidden = false;
}

/** Ask the hub about `body` (a PATCH /api/settings body) once typing pauses; a newer
 * question wins over an older answer. `body` null hides the preview. */
export function previewSoon(node, body) {
  clearTimeout(timers.get(node));
  if (body === null) {
    asked.delete(node);
    node.hidden = true;
    return;
  }
  timers.set(
    node,
    setTimeout(async () => {
      asked.set(node, body);
      node.replaceChildren(el("span", "st-preview-wait", "Working out what the last 7 days would have sent…"));
      node.hidden = false;
      let res;
      try {
        res = await request("POST", "/api/settings/preview", body, PREVIEW_TIMEOUT_MS);
      } catch (e) {
        if (asked.get(node) === body) node.hidden = true; // a help only: saving still works
        return;
      }
      if (asked.get(node) !== body) return;
      if (res.ok) show(node, res.data);
      else node.hidden = true; // the form says what is wrong when the parent saves
    }, WAIT_MS),
  );
}
