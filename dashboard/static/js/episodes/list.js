// The list of the last 14 days' episodes, with edit, delete and a short undo.

import { request } from "../api.js";
import { el } from "../dom.js";
import { fmtDuration, fmtTemp } from "../format.js";
import { openForm } from "./form.js";
import { $, hooks, problems, state, whenFmt } from "./state.js";

const UNDO_MS = 10000;
const LIMB_WORDS = { left_leg: "left leg", right_leg: "right leg", arms: "arms", whole_body: "whole body" };
const STATE_WORDS = { asleep: "asleep", waking: "waking up", awake: "awake" };
const SIGN_WORDS = {
  long: "longer than a minute",
  whole_body: "whole body",
  not_alert: "not alert",
  floppy: "floppy",
  fever: "fever",
  vomiting: "vomiting",
  poor_feeding: "poor feeding",
  cluster: "cluster",
};
const LABEL = { label: true };

function snapshotWords(snap) {
  if (!snap || snap.temperature_c === null) return "No room reading at onset";
  const parts = [`Room ${fmtTemp(snap.temperature_c, LABEL)} at onset`];
  if (snap.trend) parts.push(snap.trend);
  if (snap.minutes_below_cold) parts.push(`${snap.minutes_below_cold} min below ${fmtTemp(snap.cold_below_c, LABEL)} in the hour before`);
  if (snap.cold_alert_open) parts.push("cold alert open");
  return parts.join(", ");
}

function episodeItem(episode) {
  const item = el("li", "ep-item");
  item.dataset.id = String(episode.id);
  const head = el("div", "ep-item-head");
  head.append(el("span", "ep-when", whenFmt.format(new Date(episode.started_at))));
  const lasted = episode.running ? "running" : fmtDuration(episode.duration_s, { precise: true });
  head.append(el("span", "ep-lasted", lasted));
  item.append(head);
  const what = episode.limbs.map((l) => LIMB_WORDS[l] || l).join(", ");
  const facts = [what || "details not filled in yet", episode.room];
  if (episode.state) facts.push(STATE_WORDS[episode.state]);
  if (episode.alert === false) facts.push("not alert");
  if (episode.floppy) facts.push("floppy");
  if (episode.jerks && episode.jerks > 1) facts.push(`${episode.jerks} jerks`);
  if (episode.fever) facts.push(episode.fever_c ? `fever ${fmtTemp(episode.fever_c, LABEL)}` : "fever");
  if (episode.vomiting) facts.push("vomiting");
  if (episode.poor_feeding) facts.push("poor feeding");
  item.append(el("p", "ep-facts", facts.join(" · ")));
  item.append(el("p", "ep-snap", snapshotWords(episode.snapshot)));
  if (episode.notes) item.append(el("p", "ep-notes-text", episode.notes));
  if (episode.signs.length) {
    const signs = el("p", "ep-signs");
    for (const sign of episode.signs) signs.append(el("span", "ep-sign", SIGN_WORDS[sign] || sign));
    item.append(signs);
  }
  if (!episode.running) {
    const actions = el("div", "ep-item-actions");
    const edit = el("button", "ep-btn ep-edit", episode.details_missing ? "Add details" : "Edit");
    edit.type = "button";
    edit.addEventListener("click", () => openForm("edit", episode));
    const remove = el("button", "ep-btn ep-delete", "Delete");
    remove.type = "button";
    remove.addEventListener("click", () => deleteEpisode(episode));
    actions.append(edit, remove);
    item.append(actions);
  }
  return item;
}

export function renderList() {
  const list = $("list");
  list.textContent = "";
  const items = [...state.episodes].reverse();
  $("list-empty").hidden = items.length > 0;
  for (const episode of items) list.append(episodeItem(episode));
}

async function deleteEpisode(episode) {
  const res = await request("DELETE", `/api/episodes/${episode.id}`);
  if (!res.ok) return;
  await hooks.refresh();
  clearTimeout(state.undo && state.undo.timer);
  $("toast-text").textContent = `Episode of ${whenFmt.format(new Date(episode.started_at))} deleted.`;
  $("toast").hidden = false;
  state.undo = { id: episode.id, timer: setTimeout(hideToast, UNDO_MS) };
}

function hideToast() {
  $("toast").hidden = true;
  state.undo = null;
}

export async function undoDelete() {
  const undo = state.undo;
  if (!undo) return;
  clearTimeout(undo.timer);
  const res = await request("POST", `/api/episodes/${undo.id}/restore`);
  if (res.ok) {
    hideToast();
    await hooks.refresh();
  } else {
    $("toast-text").textContent = problems(res.data).map((p) => p.msg).join(" ");
    undo.timer = setTimeout(hideToast, UNDO_MS);
  }
}
