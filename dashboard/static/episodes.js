// The episode log page: "Episode now" starts a stopwatch, "Stop" ends it, then a short
// form. Also a past episode, edit, delete with undo, the doctor card, the patterns and
// the report links, all through /api/episodes.

import { request } from "./js/api.js";
import { fmtTemp, setUnit, unitLabel } from "./js/format.js";
import { loadCard } from "./js/episodes/card.js";
import { closeForm, openForm, saveForm, syncForm } from "./js/episodes/form.js";
import { renderList, undoDelete } from "./js/episodes/list.js";
import { loadPatterns } from "./js/episodes/patterns.js";
import { $, DAYS, TZ, fillRooms, hooks, localDay, problems, selectedRoom, state } from "./js/episodes/state.js";

const POLL_MS = 5000; // the Pi's button may start or stop an episode meanwhile
const LONG_S = 60;
const clockFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" });

async function loadUnit() {
  try {
    const res = await request("GET", "/api/settings");
    if (res.ok && res.data) setUnit(res.data.unit);
  } catch (e) {
    /* °C then */
  }
  $("fever-unit").textContent = unitLabel();
  const input = $("f-fever-c");
  input.min = fmtTemp(34, { trim: true });
  input.max = fmtTemp(43, { trim: true });
}

async function loadRooms() {
  const res = await request("GET", "/api/rooms");
  if (!res.ok) return;
  const names = res.data.map((room) => room.room);
  if (names.join("\n") === state.rooms.join("\n")) return;
  state.rooms = names;
  fillRooms($("room"));
  fillRooms($("f-room"));
  $("no-rooms").hidden = names.length > 0;
  $("now").disabled = names.length === 0;
}

async function loadEpisodes() {
  const since = new Date(Date.now() - DAYS * 24 * 3600 * 1000).toISOString();
  const res = await request("GET", `/api/episodes?since=${encodeURIComponent(since)}`);
  if (!res.ok) return;
  state.episodes = res.data;
  renderList();
  renderWatch();
}

/** Everything again; resolves to the doctor card (null if it could not be read). */
async function refresh() {
  const [, card] = await Promise.all([loadEpisodes(), loadCard(), loadPatterns()]);
  return card;
}
hooks.refresh = refresh;

// --- the stopwatch ----------------------------------------------------------------

function fmtStopwatch(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const min = Math.floor(whole / 60);
  const s = String(whole % 60).padStart(2, "0");
  return `${min}:${s}`;
}

function renderWatch() {
  const room = selectedRoom();
  state.running = state.episodes.find((e) => e.running && e.room === room) || null;
  const running = state.running;
  $("watch").hidden = !running;
  $("now").hidden = Boolean(running);
  $("room").disabled = Boolean(running);
  if (!running) {
    clearInterval(state.ticker);
    state.ticker = null;
    return;
  }
  $("watch-start").textContent = clockFmt.format(new Date(running.started_at));
  tick();
  if (!state.ticker) state.ticker = setInterval(tick, 250);
}

function tick() {
  if (!state.running) return;
  const seconds = (Date.now() - Date.parse(state.running.started_at)) / 1000;
  $("clock").textContent = fmtStopwatch(seconds);
  $("watch").dataset.long = String(seconds > LONG_S);
}

function showNowError(items) {
  const node = $("now-error");
  node.textContent = items.map((p) => p.msg).join(" ");
  node.hidden = items.length === 0;
}

async function startNow() {
  showNowError([]);
  $("now").disabled = true;
  try {
    const res = await request("POST", "/api/episodes/start", { room: selectedRoom() });
    if (!res.ok && res.status !== 409) {
      showNowError(problems(res.data));
      return;
    }
    await loadEpisodes(); // a 409: the Pi's button started one already; show that one
  } catch (e) {
    showNowError([{ msg: "The hub did not answer. Note the time; try again in a moment." }]);
  } finally {
    $("now").disabled = state.rooms.length === 0;
  }
}

async function stopNow() {
  const running = state.running;
  if (!running) return;
  $("stop").disabled = true;
  try {
    const res = await request("POST", `/api/episodes/${running.id}/stop`);
    await loadEpisodes();
    if (res.ok) openForm("details", res.data);
    else showNowError(problems(res.data));
  } catch (e) {
    showNowError([{ msg: "The hub did not answer; tap Stop again." }]);
  } finally {
    $("stop").disabled = false;
  }
}

// --- report links and start ---------------------------------------------------------

function syncReport() {
  const params = new URLSearchParams({ since: $("r-since").value, until: $("r-until").value, tz: TZ });
  $("r-page").href = `/api/episodes/report?${params}`;
  $("r-pdf").href = `/api/episodes/report.pdf?${params}`;
  $("r-csv").href = `/api/episodes/report/episodes.csv?${params}`;
  $("r-readings").href = `/api/episodes/report/readings.csv?${params}`;
}

async function poll() {
  if (state.polling) return;
  state.polling = true;
  try {
    await loadRooms();
    await loadEpisodes();
  } catch (e) {
    /* the next poll tries again */
  } finally {
    state.polling = false;
  }
}

async function start() {
  $("now").addEventListener("click", startNow);
  $("stop").addEventListener("click", stopNow);
  $("past").addEventListener("click", () => openForm("past", null));
  $("cancel").addEventListener("click", closeForm);
  $("form").addEventListener("submit", saveForm);
  $("form").addEventListener("change", syncForm);
  $("undo").addEventListener("click", undoDelete);
  $("room").addEventListener("change", () => {
    localStorage.setItem("episodes.room", selectedRoom());
    renderWatch();
  });
  const today = new Date();
  $("r-until").value = localDay(today);
  $("r-since").value = localDay(new Date(today.getTime() - (DAYS - 1) * 24 * 3600 * 1000));
  $("r-since").addEventListener("change", syncReport);
  $("r-until").addEventListener("change", syncReport);
  syncReport();
  await loadUnit();
  await loadRooms();
  await refresh();
  document.body.dataset.ready = "true";
  setInterval(poll, POLL_MS);
  setInterval(() => loadCard().catch(() => {}), 60 * 1000);
}

start();
