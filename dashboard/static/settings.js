// The settings page: °C/°F, the guidance preset, each threshold with where it comes from,
// the caregivers in paging order, and the signed-in caregiver's own push channels with a
// "Send test" button, through /api/settings and /api/caregivers.
// Temperatures travel in °C; °F is only how they are shown and typed here.

import { account, request } from "./js/api.js";
import { byId as $, el } from "./js/dom.js";
import { fmtTemp, setUnit, unit, unitLabel } from "./js/format.js";
import { previewSoon } from "./js/preview.js";

const TEST_TIMEOUT_MS = 30000; // a push service may take a while to answer
const CONFIRM_MS = 4000; // "Remove" waits this long for the second tap
const PRESET_NAMES = { uk: "UK", who: "WHO", us: "US" };
const THRESHOLDS = [
  { key: "cold_below_c", name: "Cold alert below", min: -10, max: 40 },
  { key: "cool_below_c", name: "Cool note below", min: -10, max: 40 },
  { key: "warm_above_c", name: "Warm note above", min: 0, max: 50 },
  { key: "hot_above_c", name: "Hot alert above", min: 0, max: 50 },
];

const state = {
  settings: null, // GET /api/settings
  me: null, // the signed-in caregiver's name
  rows: new Map(), // threshold key -> its form's nodes
  statusTimer: null,
};

// --- small helpers ------------------------------------------------------------

/** The settings as the hub now has them; every number on the page follows their unit. */
function adopt(settings) {
  state.settings = settings;
  setUnit(settings.unit);
}

/** "16", "60.8": a limit or an input's value in the shown unit, without a trailing ".0". */
function limit(celsius) {
  return fmtTemp(celsius, { trim: true });
}

/** What the parent typed, in °C for the hub. */
function celsius(value) {
  const c = unit() === "F" ? ((value - 32) * 5) / 9 : value;
  return Math.round(c * 100) / 100;
}

function humanize(message) {
  // The hub names thresholds in this page's words already (hub/messages/).
  const text = String(message || "invalid value").replace(/^Value error, /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The hub's 422 detail as [{field, msg}]: loc is ["body", FIELD, …]. */
function problems(data, status) {
  const detail = data && data.detail;
  if (typeof detail === "string") return [{ field: null, msg: humanize(detail) }];
  if (!Array.isArray(detail)) return [{ field: null, msg: `The hub answered ${status}; try again.` }];
  return detail.map((item) => ({
    field: Array.isArray(item.loc) && item.loc.length > 1 ? String(item.loc[1]) : null,
    msg: humanize(item.msg),
  }));
}

/** Each problem under its field ([data-field~=FIELD]), looked for in `scope` first and
 * then on the whole page; the rest in `general` (or at the end of `scope`). */
function showErrors(scope, general, items) {
  clearErrors(general);
  const rest = [];
  for (const item of items) {
    const selector = item.field ? `[data-field~="${CSS.escape(item.field)}"]` : null;
    const slot = selector ? scope.querySelector(selector) || document.querySelector(`main ${selector}`) : null;
    if (slot) {
      const note = el("p", "st-field-error", item.msg);
      note.dataset.for = item.field;
      note.setAttribute("role", "alert");
      slot.append(note);
      slot.setAttribute("aria-invalid", "true");
      const input = slot.querySelector("input");
      if (input && input.type !== "radio") input.setAttribute("aria-invalid", "true");
    } else {
      rest.push(item.msg);
    }
  }
  if (!rest.length) return;
  if (general) {
    general.textContent = rest.join(" ");
    general.hidden = false;
  } else {
    const note = el("p", "st-field-error", rest.join(" "));
    note.setAttribute("role", "alert");
    scope.append(note);
  }
}

/** One change at a time: its errors replace every earlier one on the page. */
function clearErrors(general) {
  const main = document.querySelector("main");
  for (const node of main.querySelectorAll(".st-field-error")) node.remove();
  for (const node of main.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  for (const node of main.querySelectorAll(".st-error")) node.hidden = true;
  if (general) general.hidden = true;
}

function say(text) {
  const status = $("status");
  status.textContent = text;
  status.hidden = false;
  clearTimeout(state.statusTimer);
  state.statusTimer = setTimeout(() => {
    status.hidden = true;
  }, 6000);
}

const offline = [{ field: null, msg: "The hub did not answer; nothing changed. Try again." }];

// --- unit, preset, thresholds ------------------------------------------------------

function presetRange(name, values) {
  const u = unitLabel();
  if (name === "who") return `At least ${limit(values.cold_below_c)} ${u}`;
  return `${limit(values.cold_below_c)}–${limit(values.warm_above_c)} ${u}`;
}

function presetValues(values) {
  const u = unitLabel();
  return (
    `Cold alert below ${limit(values.cold_below_c)} ${u} · cool below ${limit(values.cool_below_c)} · ` +
    `warm above ${limit(values.warm_above_c)} · hot alert above ${limit(values.hot_above_c)}`
  );
}

function sourceWords(source) {
  if (source === "dashboard") return "Set here";
  if (source === "config") return "From the hub's configuration file";
  return `From the ${PRESET_NAMES[state.settings.preset] || state.settings.preset} preset`;
}

function buildThresholds() {
  const box = $("thresholds");
  const template = $("threshold-template");
  for (const spec of THRESHOLDS) {
    const form = template.content.firstElementChild.cloneNode(true);
    const q = (selector) => form.querySelector(selector);
    const input = q("input");
    const id = `t-${spec.key}`;
    input.id = id;
    input.name = spec.key;
    q(".st-th-name").htmlFor = id;
    q(".st-th-name").textContent = spec.name;
    q(".st-th-line").dataset.field = spec.key;
    form.dataset.key = spec.key;
    const row = {
      form,
      input,
      unit: q(".st-th-unit"),
      source: q(".st-th-source"),
      preview: q(".st-th-preview"),
      error: q(".st-error"),
      save: q(".st-th-save"),
      reset: q(".st-th-reset"),
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      saveThreshold(spec, row);
    });
    row.reset.addEventListener("click", () => resetThreshold(spec, row));
    input.addEventListener("input", () => syncRow(spec, row));
    state.rows.set(spec.key, row);
    box.append(form);
  }
}

// Save shows once the value differs from the one in force (Enter or Go saves too), and
// with it what the last days would have paged with the typed value.
function syncRow(spec, row) {
  const current = state.settings.thresholds[spec.key];
  row.save.hidden = row.input.value === limit(current.value_c);
  const value = Number(row.input.value.trim());
  const typed = !row.save.hidden && row.input.value.trim() !== "" && Number.isFinite(value);
  previewSoon(row.preview, typed ? { [spec.key]: celsius(value) } : null);
}

function renderChoices() {
  const s = state.settings;
  for (const input of document.querySelectorAll('input[name="unit"]')) input.checked = input.value === s.unit;
  for (const input of document.querySelectorAll('input[name="preset"]')) input.checked = input.value === s.preset;
}

/** Everything from state.settings. A threshold the parent is still typing keeps its
 * text, unless `all` or its key is in `keys`. */
function render(all = false, keys = []) {
  const s = state.settings;
  renderChoices();
  for (const [name, values] of Object.entries(s.presets)) {
    const range = document.querySelector(`[data-range="${name}"]`);
    const list = document.querySelector(`[data-values="${name}"]`);
    if (range) range.textContent = presetRange(name, values);
    if (list) list.textContent = presetValues(values);
  }
  for (const spec of THRESHOLDS) {
    const row = state.rows.get(spec.key);
    const current = s.thresholds[spec.key];
    const editing = row.drawn !== undefined && row.input.value !== row.drawn;
    row.drawn = limit(current.value_c);
    if (all || !editing || keys.includes(spec.key)) row.input.value = row.drawn;
    row.form.dataset.source = current.source;
    row.input.min = limit(spec.min);
    row.input.max = limit(spec.max);
    row.unit.textContent = unitLabel();
    row.source.textContent = sourceWords(current.source);
    row.reset.hidden = current.source !== "dashboard";
    syncRow(spec, row);
  }
}

async function change(body, scope, general, done) {
  clearErrors(general);
  let res;
  try {
    res = await request("PATCH", "/api/settings", body);
  } catch (e) {
    showErrors(scope, general, offline);
    return false;
  }
  if (!res.ok) {
    showErrors(scope, general, problems(res.data, res.status));
    renderChoices(); // a refused choice goes back to the one in force; typed text stays
    return false;
  }
  adopt(res.data);
  // A new unit or preset rewrites every threshold; a saved one rewrites its own.
  render("unit" in body || "preset" in body, Object.keys(body));
  say(done);
  return true;
}

async function saveThreshold(spec, row) {
  const typed = row.input.value.trim();
  const value = Number(typed);
  const u = unitLabel();
  if (typed === "" || !Number.isFinite(value)) {
    showErrors(row.form, row.error, [{ field: spec.key, msg: `Enter a temperature in ${u}.` }]);
    return;
  }
  const c = celsius(value);
  if (c < spec.min || c > spec.max) {
    const msg = `Enter a temperature between ${limit(spec.min)} and ${limit(spec.max)} ${u}.`;
    showErrors(row.form, row.error, [{ field: spec.key, msg }]);
    return;
  }
  row.save.disabled = true;
  try {
    await change({ [spec.key]: c }, row.form, row.error, `Saved: ${spec.name.toLowerCase()} ${limit(c)} ${u}.`);
  } finally {
    row.save.disabled = false;
    syncRow(spec, row);
  }
}

async function resetThreshold(spec, row) {
  row.reset.disabled = true;
  try {
    await change({ [spec.key]: null }, row.form, row.error, `${spec.name} is back to the preset.`);
  } finally {
    row.reset.disabled = false;
  }
}

async function chooseUnit(value) {
  const done = value === "F" ? "Temperatures now show in °F." : "Temperatures now show in °C.";
  await change({ unit: value }, $("unit"), null, done);
}

async function choosePreset(value) {
  await change({ preset: value }, $("preset"), null, `Thresholds now follow the ${PRESET_NAMES[value]} preset.`);
}

// --- caregivers and channels --------------------------------------------------------

function pagedWhen(order) {
  if (order === 1) return "Paged first";
  if (order === 2) return "Paged when an alert is not answered in time";
  return "Sees every alert here";
}

function renderCaregivers(caregivers) {
  const list = $("caregivers");
  list.replaceChildren(
    ...caregivers.map((caregiver) => {
      const item = el("li", "st-caregiver");
      item.dataset.order = String(caregiver.order);
      const name = el("span", "st-caregiver-name", caregiver.name);
      if (caregiver.name === state.me) name.append(el("span", "st-you", " (you)"));
      item.append(el("span", "st-order", String(caregiver.order)), name);
      item.append(el("span", "st-caregiver-when", pagedWhen(caregiver.order)));
      return item;
    })
  );
  const mine = caregivers.find((c) => c.name === state.me);
  renderChannels(mine ? mine.channels : []);
}

function renderChannels(channels) {
  const list = $("channels");
  $("channels-empty").hidden = channels.length > 0;
  list.replaceChildren(...channels.map(channelItem));
}

function channelItem(channel) {
  const item = el("li", "st-channel");
  item.dataset.id = String(channel.id);
  const head = el("p", "st-channel-head");
  head.append(el("span", "st-channel-label", channel.label), el("span", "st-channel-shown", channel.shown));
  item.dataset.state = channel.state; // "failing" shows in red
  if (channel.problem) head.append(el("span", "st-channel-problem", channel.problem));
  const actions = el("div", "st-actions");
  const test = el("button", "st-btn st-btn-primary st-test", "Send test");
  const remove = el("button", "st-btn st-remove", "Remove");
  test.type = "button";
  remove.type = "button";
  actions.append(test, remove);
  const result = el("p", "st-test-result");
  result.setAttribute("role", "status");
  result.hidden = true;
  item.append(head, actions, result);
  test.addEventListener("click", () => sendTest(channel, test, result));
  let confirmTimer = null;
  remove.addEventListener("click", () => {
    if (!remove.dataset.confirm) {
      remove.dataset.confirm = "true";
      remove.textContent = "Tap again to remove";
      confirmTimer = setTimeout(() => {
        delete remove.dataset.confirm;
        remove.textContent = "Remove";
      }, CONFIRM_MS);
      return;
    }
    clearTimeout(confirmTimer);
    removeChannel(channel, remove, result);
  });
  return item;
}

async function sendTest(channel, button, result) {
  button.disabled = true;
  result.hidden = false;
  result.dataset.result = "sending";
  result.textContent = "Sending…";
  try {
    const res = await request("POST", `/api/caregivers/me/channels/${channel.id}/test`, undefined, TEST_TIMEOUT_MS);
    if (res.ok && res.data.sent) {
      result.dataset.result = "sent";
      result.textContent = "Test sent: check that it arrived.";
    } else if (res.ok) {
      result.dataset.result = "failed";
      result.textContent = `Not sent: ${res.data.error || "the service did not accept it"}`;
    } else {
      result.dataset.result = "failed";
      result.textContent = `Not sent: ${problems(res.data, res.status).map((p) => p.msg).join(" ")}`;
    }
  } catch (e) {
    result.dataset.result = "failed";
    result.textContent = "Not sent: the hub did not answer in time.";
  } finally {
    button.disabled = false;
  }
}

async function removeChannel(channel, button, result) {
  button.disabled = true;
  try {
    const res = await request("DELETE", `/api/caregivers/me/channels/${channel.id}`);
    if (!res.ok && res.status !== 404) throw new Error(String(res.status));
    say(`Removed ${channel.label}.`);
    await loadCaregivers();
  } catch (e) {
    result.hidden = false;
    result.dataset.result = "failed";
    result.textContent = "Could not remove it; try again.";
    button.disabled = false;
  }
}

async function addChannel(event) {
  event.preventDefault();
  const form = $("add");
  const error = $("add-error");
  const url = $("c-url").value.trim();
  if (!url) {
    showErrors(form, error, [{ field: "url", msg: "Paste the Apprise URL of your service, like ntfys://ntfy.sh/your-topic." }]);
    return;
  }
  $("add-button").disabled = true;
  try {
    const res = await request("POST", "/api/caregivers/me/channels", { url, label: $("c-label").value.trim() });
    if (!res.ok) {
      showErrors(form, error, problems(res.data, res.status));
      return;
    }
    clearErrors(error);
    form.reset();
    say(`Added ${res.data.label}. Send a test to check it.`);
    await loadCaregivers();
  } catch (e) {
    showErrors(form, error, offline);
  } finally {
    $("add-button").disabled = false;
  }
}

// --- start ------------------------------------------------------------------------

async function loadSettings() {
  const res = await request("GET", "/api/settings");
  if (!res.ok) throw new Error(`settings: HTTP ${res.status}`);
  adopt(res.data);
  render();
}

async function loadCaregivers() {
  const res = await request("GET", "/api/caregivers");
  if (!res.ok) throw new Error(`caregivers: HTTP ${res.status}`);
  renderCaregivers(res.data);
}

async function start() {
  buildThresholds();
  for (const input of document.querySelectorAll('input[name="unit"]')) {
    input.addEventListener("change", () => chooseUnit(input.value));
  }
  for (const input of document.querySelectorAll('input[name="preset"]')) {
    input.addEventListener("change", () => choosePreset(input.value));
  }
  $("add").addEventListener("submit", addChannel);
  const who = await account;
  state.me = who ? who.name : null;
  try {
    await Promise.all([loadSettings(), loadCaregivers()]);
  } catch (e) {
    const node = $("load-error");
    node.textContent = "The settings could not be loaded from the hub. Reload the page to try again.";
    node.hidden = false;
    console.warn("nursery settings:", e);
    return;
  }
  document.body.dataset.ready = "true";
}

start();
