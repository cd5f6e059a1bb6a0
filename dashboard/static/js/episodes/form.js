// The episode form: what was seen after "Stop", an earlier episode, or an edit; each
// problem the hub names is shown under its field.

import { request } from "../api.js";
import { el } from "../dom.js";
import { fmtDuration, fmtTemp, unit } from "../format.js";
import { showCard } from "./card.js";
import { $, fillRooms, hooks, localInput, problems, selectedRoom, state } from "./state.js";

/** A number as typed in the shown unit, in °C for the hub (null when empty). */
function typedCelsius(text) {
  if (text === "") return null;
  const value = Number(text);
  if (unit() !== "F") return value;
  return Math.round((((value - 32) * 5) / 9) * 100) / 100;
}

function setRadio(name, value) {
  for (const input of $("form").querySelectorAll(`input[name="${name}"]`)) input.checked = input.value === value;
}

function radio(name) {
  const checked = $("form").querySelector(`input[name="${name}"]:checked`);
  return checked ? checked.value : null;
}

function clearErrors() {
  for (const node of $("form").querySelectorAll(".ep-field-error")) node.remove();
  for (const node of $("form").querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  $("form-error").hidden = true;
}

function showErrors(items) {
  clearErrors();
  const general = [];
  for (const item of items) {
    const slot = item.field && [...$("form").querySelectorAll("[data-field]")].find((node) =>
      node.dataset.field.split(" ").includes(item.field),
    );
    if (slot && !slot.hidden && !slot.closest("[hidden]")) {
      const note = el("span", "ep-field-error", item.msg);
      note.dataset.for = item.field;
      slot.append(note);
      slot.setAttribute("aria-invalid", "true");
    } else {
      general.push(item.msg);
    }
  }
  if (general.length) {
    $("form-error").textContent = general.join(" ");
    $("form-error").hidden = false;
  }
  const first = $("form").querySelector(".ep-field-error");
  if (first) first.scrollIntoView({ block: "center", behavior: "smooth" });
}

export function openForm(mode, episode) {
  const form = $("form");
  form.reset();
  clearErrors();
  state.form = { mode, episode };
  const titles = { details: "What did you see?", past: "An earlier episode", edit: "Edit episode" };
  $("form-title").textContent = titles[mode];
  $("timing").hidden = mode === "details";
  const lasted = $("form-lasted");
  lasted.hidden = mode !== "details";
  if (episode) lasted.textContent = `It lasted ${fmtDuration(episode.duration_s, { precise: true })}.`;
  fillRooms($("f-room"), episode ? episode.room : selectedRoom());
  const start = episode ? new Date(episode.started_at) : new Date(Date.now() - 5 * 60 * 1000);
  $("f-start").value = localInput(start);
  $("f-start").max = localInput(new Date());
  const seconds = episode && episode.duration_s !== null ? Math.round(episode.duration_s) : 20;
  $("f-min").value = String(Math.floor(seconds / 60));
  $("f-sec").value = String(seconds % 60);
  $("f-untimed").checked = Boolean(episode && !episode.timed);
  if (episode) {
    for (const input of form.querySelectorAll('input[name="limbs"]')) input.checked = episode.limbs.includes(input.value);
    setRadio("alert", episode.alert === null ? "" : episode.alert ? "yes" : "no");
    setRadio("state", episode.state || "");
    setRadio("pattern", episode.cluster ? "cluster" : "one");
    $("f-jerks").value = episode.jerks && episode.jerks > 1 ? String(episode.jerks) : "";
    $("f-fever").checked = episode.fever;
    $("f-fever-c").value = episode.fever_c === null ? "" : fmtTemp(episode.fever_c, { trim: true });
    form.elements.floppy.checked = episode.floppy;
    form.elements.vomiting.checked = episode.vomiting;
    form.elements.poor_feeding.checked = episode.poor_feeding;
    $("f-notes").value = episode.notes;
  }
  syncForm();
  form.hidden = false;
  $("past").hidden = true;
  form.scrollIntoView({ block: "start", behavior: "smooth" });
}

export function closeForm() {
  $("form").hidden = true;
  $("past").hidden = false;
  state.form = null;
}

export function syncForm() {
  $("jerks-line").hidden = radio("pattern") !== "cluster";
  $("fever-line").hidden = !$("f-fever").checked;
  const untimed = $("f-untimed").checked;
  $("f-min").disabled = untimed;
  $("f-sec").disabled = untimed;
}

function detailsBody() {
  const form = $("form");
  const alert = radio("alert");
  const cluster = radio("pattern") === "cluster";
  const jerks = $("f-jerks").value;
  const feverC = $("f-fever-c").value;
  const fever = $("f-fever").checked;
  return {
    limbs: [...form.querySelectorAll('input[name="limbs"]:checked')].map((input) => input.value),
    alert: alert === "" || alert === null ? null : alert === "yes",
    floppy: form.elements.floppy.checked,
    state: radio("state") || null,
    cluster,
    jerks: cluster && jerks !== "" ? Number(jerks) : cluster ? null : 1,
    fever,
    fever_c: fever && feverC !== "" ? typedCelsius(feverC) : null,
    vomiting: form.elements.vomiting.checked,
    poor_feeding: form.elements.poor_feeding.checked,
    notes: $("f-notes").value,
  };
}

function timingBody() {
  const started = new Date($("f-start").value);
  if (Number.isNaN(started.getTime())) return { error: { field: "started_at", msg: "Enter when it started." } };
  const body = { room: $("f-room").value, started_at: started.toISOString() };
  if ($("f-untimed").checked) {
    body.timed = false;
  } else {
    body.timed = true;
    body.duration_s = Number($("f-min").value || 0) * 60 + Number($("f-sec").value || 0);
  }
  return { body };
}

export async function saveForm(event) {
  event.preventDefault();
  const current = state.form;
  if (!current) return;
  let body = detailsBody();
  if (current.mode !== "details") {
    const timing = timingBody();
    if (timing.error) {
      showErrors([timing.error]);
      return;
    }
    body = Object.assign(body, timing.body);
  }
  if (current.mode === "edit" && body.timed === false) body.ended_at = null;
  $("save").disabled = true;
  try {
    const res =
      current.mode === "past"
        ? await request("POST", "/api/episodes", body)
        : await request("PATCH", `/api/episodes/${current.episode.id}`, body);
    if (!res.ok) {
      showErrors(problems(res.data));
      return;
    }
    closeForm();
    showCard(await hooks.refresh(), res.data);
  } catch (e) {
    showErrors([{ field: null, msg: "The hub did not answer; nothing was lost, tap Save again." }]);
  } finally {
    $("save").disabled = false;
  }
}
