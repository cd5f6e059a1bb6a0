// The episode log page: "Episode now" starts a stopwatch, "Stop" ends it, then a short
// form. Also a past episode, edit, delete with undo, the doctor card, the patterns and
// the report links. It reads and writes /api/episodes; auth.js (loaded first) adds the
// CSRF header and sends the parent to sign in when the session ends.
// All text from the API goes in through textContent; nothing is parsed as HTML.
"use strict";

(() => {
  const POLL_MS = 5000; // the Pi's button may start or stop an episode meanwhile
  const FETCH_TIMEOUT_MS = 10000;
  const DAYS = 14;
  const UNDO_MS = 10000;
  const LONG_S = 60;
  const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const LIMB_WORDS = { left_leg: "left leg", right_leg: "right leg", arms: "arms", whole_body: "whole body" };
  const STATE_WORDS = { asleep: "asleep", waking: "waking up", awake: "awake" };
  const BAND_WORDS = { cold: "cold", cool: "cool", comfortable: "comfortable", warm: "warm", hot: "hot", unknown: "no reading" };
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
  const whenFmt = new Intl.DateTimeFormat(undefined, {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "numeric",
    minute: "2-digit",
    second: "2-digit",
  });
  const clockFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" });
  const dayFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", timeZone: "UTC" });
  const longDayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" });

  const $ = (id) => document.getElementById(id);
  const state = {
    rooms: [],
    episodes: [], // the last DAYS days, oldest first
    running: null, // the selected room's running episode
    form: null, // {mode: "details"|"past"|"edit", episode}
    undo: null, // {id, timer}
    ticker: null,
    polling: false,
    unit: "C", // GET /api/settings: temperatures are stored in °C and shown in this unit
  };

  // --- small helpers ------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return "not timed";
    const whole = Math.round(seconds);
    if (whole < 60) return `${whole} s`;
    const min = Math.floor(whole / 60);
    const s = whole % 60;
    if (min < 60) return s ? `${min} min ${s} s` : `${min} min`;
    return `${Math.floor(min / 60)} h ${min % 60} min`;
  }

  function fmtStopwatch(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    const min = Math.floor(whole / 60);
    const s = String(whole % 60).padStart(2, "0");
    return `${min}:${s}`;
  }

  /** A temperature in °C as shown: "38.6 °C" or "101.5 °F". */
  function fmtTemp(celsius) {
    const value = state.unit === "F" ? (celsius * 9) / 5 + 32 : celsius;
    return `${(Math.round(value * 10) / 10).toFixed(1)} ${unitLabel()}`;
  }

  function unitLabel() {
    return state.unit === "F" ? "°F" : "°C";
  }

  /** A number as typed in the shown unit, in °C for the hub (null when empty). */
  function typedCelsius(text) {
    if (text === "") return null;
    const value = Number(text);
    if (state.unit !== "F") return value;
    return Math.round((((value - 32) * 5) / 9) * 100) / 100;
  }

  /** A stored °C value as the fever input shows it. */
  function inputTemp(celsius) {
    const value = state.unit === "F" ? (celsius * 9) / 5 + 32 : celsius;
    return String(Math.round(value * 10) / 10);
  }

  async function loadUnit() {
    try {
      const res = await api("GET", "/api/settings");
      if (res.ok && res.data) state.unit = res.data.unit === "F" ? "F" : "C";
    } catch (e) {
      /* °C then */
    }
    $("fever-unit").textContent = unitLabel();
    const input = $("f-fever-c");
    input.min = inputTemp(34);
    input.max = inputTemp(43);
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  /** A Date as the value of an <input type="datetime-local"> (local wall time). */
  function localInput(date) {
    return (
      `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
      `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
    );
  }

  function localDay(date) {
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  }

  async function api(method, url, body) {
    const options = { method, cache: "no-store", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const res = await fetch(url, options);
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    return { ok: res.ok, status: res.status, data };
  }

  /** FastAPI's 422/409/404 detail as [{field, msg}]. */
  function problems(data) {
    const detail = data && data.detail;
    if (typeof detail === "string") return [{ field: null, msg: detail }];
    if (!Array.isArray(detail)) return [{ field: null, msg: "Something went wrong; try again." }];
    return detail.map((item) => ({
      // ["body", "limbs", 0]: the field follows body/query/path; a list item adds its index.
      field: Array.isArray(item.loc) && item.loc.length > 1 ? String(item.loc[1]) : null,
      msg: String(item.msg || "invalid value").replace(/^Value error, /, ""),
    }));
  }

  function selectedRoom() {
    return $("room").value;
  }

  // --- rooms, episodes, card -------------------------------------------------------

  function fillRooms(select, current) {
    const want = current || select.value || localStorage.getItem("episodes.room") || "";
    select.textContent = "";
    for (const name of state.rooms) {
      const option = el("option", null, name);
      option.value = name;
      select.append(option);
    }
    if (state.rooms.includes(want)) select.value = want;
  }

  async function loadRooms() {
    const res = await api("GET", "/api/rooms");
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
    const res = await api("GET", `/api/episodes?since=${encodeURIComponent(since)}`);
    if (!res.ok) return;
    state.episodes = res.data;
    renderList();
    renderWatch();
  }

  /** The emergency sentence into `node`, its number a call link (the API gives both). */
  function emergencyInto(node, sentence, number) {
    node.textContent = "";
    const at = sentence.indexOf(number);
    if (at < 0) {
      node.textContent = sentence;
      return;
    }
    const link = el("a", "ep-tel", number);
    link.href = `tel:${number}`;
    node.append(sentence.slice(0, at), link, sentence.slice(at + number.length));
  }

  async function loadCard() {
    const res = await api("GET", "/api/episodes/card");
    if (!res.ok) return null;
    const card = res.data;
    const node = $("card");
    node.hidden = !card.show;
    node.dataset.urgency = card.urgency || "";
    const emergency = card.urgency === "emergency";
    // An emergency: the sentence is the heading, the call button right under it.
    if (emergency) emergencyInto($("card-title"), card.title, card.emergency_number);
    else $("card-title").textContent = card.title;
    const line = $("card-emergency-line");
    if (emergency) $("card-title").after(line);
    else $("card-reasons").after(line);
    $("card-emergency").hidden = emergency;
    $("card-emergency").textContent = card.emergency;
    $("card-advice").textContent = card.advice;
    $("card-note").textContent = card.note;
    const call = $("card-call");
    call.href = `tel:${card.emergency_number}`;
    call.textContent = `Call ${card.emergency_number}`;
    emergencyInto($("emergency-foot"), card.emergency, card.emergency_number);
    const list = $("card-reasons");
    list.textContent = "";
    for (const reason of card.reasons) list.append(el("li", null, reason.text));
    return card;
  }

  /** After saving an episode the card names: its heading and reasons in view, not a bare
   * call button where the form was. */
  function showCard(card, saved) {
    if (!card || !card.show || !saved) return;
    if (!card.reasons.some((reason) => reason.episode_ids.includes(saved.id))) return;
    const title = $("card-title");
    title.focus({ preventScroll: true });
    $("card").scrollIntoView({ block: "start", behavior: "smooth" });
  }

  async function loadPatterns() {
    const until = new Date();
    const since = new Date(until.getTime() - (DAYS - 1) * 24 * 3600 * 1000);
    const params = new URLSearchParams({ since: localDay(since), until: localDay(until), tz: TZ });
    const res = await api("GET", `/api/episodes/patterns?${params}`);
    if (!res.ok) return;
    const p = res.data;
    $("caveat").textContent = p.caveat;
    const days = $("per-day");
    days.textContent = "";
    const top = Math.max(1, ...p.per_day.map((d) => d.count));
    for (const day of p.per_day) {
      const item = el("li", "ep-day");
      const noon = new Date(`${day.day}T12:00:00Z`);
      item.title = `${longDayFmt.format(noon)}: ${day.count}`;
      const bar = el("span", "ep-day-bar");
      bar.style.setProperty("--share", String(day.count / top));
      item.append(el("span", "ep-day-count", day.count ? String(day.count) : ""), bar);
      item.append(el("span", "ep-day-label", dayFmt.format(noon)));
      days.append(item);
    }
    bars($("by-part"), p.by_part_of_day.map((c) => [c.label, c.count]));
    bars($("by-band"), p.by_band.map((c) => [BAND_WORDS[c.label] || c.label, c.count]));
    bars($("by-duration"), p.durations.buckets.map((c) => [c.label, c.count]));
  }

  function bars(list, items) {
    list.textContent = "";
    const top = Math.max(1, ...items.map(([, n]) => n));
    for (const [label, n] of items) {
      const item = el("li");
      const bar = el("span", "bar");
      bar.style.setProperty("--share", String(n / top));
      item.append(el("span", "bar-label", label), bar, el("span", "bar-count", String(n)));
      list.append(item);
    }
  }

  /** Everything again; resolves to the doctor card (null if it could not be read). */
  async function refresh() {
    const [, card] = await Promise.all([loadEpisodes(), loadCard(), loadPatterns()]);
    return card;
  }

  // --- the stopwatch ----------------------------------------------------------------

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
      const res = await api("POST", "/api/episodes/start", { room: selectedRoom() });
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
      const res = await api("POST", `/api/episodes/${running.id}/stop`);
      await loadEpisodes();
      if (res.ok) openForm("details", res.data);
      else showNowError(problems(res.data));
    } catch (e) {
      showNowError([{ msg: "The hub did not answer; tap Stop again." }]);
    } finally {
      $("stop").disabled = false;
    }
  }

  // --- the form -------------------------------------------------------------------------

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

  function openForm(mode, episode) {
    const form = $("form");
    form.reset();
    clearErrors();
    state.form = { mode, episode };
    const titles = { details: "What did you see?", past: "An earlier episode", edit: "Edit episode" };
    $("form-title").textContent = titles[mode];
    $("timing").hidden = mode === "details";
    const lasted = $("form-lasted");
    lasted.hidden = mode !== "details";
    if (episode) lasted.textContent = `It lasted ${fmtDuration(episode.duration_s)}.`;
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
      $("f-fever-c").value = episode.fever_c === null ? "" : inputTemp(episode.fever_c);
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

  function closeForm() {
    $("form").hidden = true;
    $("past").hidden = false;
    state.form = null;
  }

  function syncForm() {
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

  async function saveForm(event) {
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
          ? await api("POST", "/api/episodes", body)
          : await api("PATCH", `/api/episodes/${current.episode.id}`, body);
      if (!res.ok) {
        showErrors(problems(res.data));
        return;
      }
      closeForm();
      showCard(await refresh(), res.data);
    } catch (e) {
      showErrors([{ field: null, msg: "The hub did not answer; nothing was lost, tap Save again." }]);
    } finally {
      $("save").disabled = false;
    }
  }

  // --- the list, delete and undo ------------------------------------------------------------

  function snapshotWords(snap) {
    if (!snap || snap.temperature_c === null) return "No room reading at onset";
    const parts = [`Room ${fmtTemp(snap.temperature_c)} at onset`];
    if (snap.trend) parts.push(snap.trend);
    if (snap.minutes_below_cold) parts.push(`${snap.minutes_below_cold} min below ${fmtTemp(snap.cold_below_c)} in the hour before`);
    if (snap.cold_alert_open) parts.push("cold alert open");
    return parts.join(", ");
  }

  function renderList() {
    const list = $("list");
    list.textContent = "";
    const items = [...state.episodes].reverse();
    $("list-empty").hidden = items.length > 0;
    for (const episode of items) {
      const item = el("li", "ep-item");
      item.dataset.id = String(episode.id);
      const head = el("div", "ep-item-head");
      head.append(el("span", "ep-when", whenFmt.format(new Date(episode.started_at))));
      head.append(el("span", "ep-lasted", episode.running ? "running" : fmtDuration(episode.duration_s)));
      item.append(head);
      const what = episode.limbs.map((l) => LIMB_WORDS[l] || l).join(", ");
      const facts = [what || "details not filled in yet", episode.room];
      if (episode.state) facts.push(STATE_WORDS[episode.state]);
      if (episode.alert === false) facts.push("not alert");
      if (episode.floppy) facts.push("floppy");
      if (episode.jerks && episode.jerks > 1) facts.push(`${episode.jerks} jerks`);
      if (episode.fever) facts.push(episode.fever_c ? `fever ${fmtTemp(episode.fever_c)}` : "fever");
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
      list.append(item);
    }
  }

  async function deleteEpisode(episode) {
    const res = await api("DELETE", `/api/episodes/${episode.id}`);
    if (!res.ok) return;
    await refresh();
    clearTimeout(state.undo && state.undo.timer);
    $("toast-text").textContent = `Episode of ${whenFmt.format(new Date(episode.started_at))} deleted.`;
    $("toast").hidden = false;
    state.undo = { id: episode.id, timer: setTimeout(hideToast, UNDO_MS) };
  }

  function hideToast() {
    $("toast").hidden = true;
    state.undo = null;
  }

  async function undoDelete() {
    const undo = state.undo;
    if (!undo) return;
    clearTimeout(undo.timer);
    const res = await api("POST", `/api/episodes/${undo.id}/restore`);
    if (res.ok) {
      hideToast();
      await refresh();
    } else {
      $("toast-text").textContent = problems(res.data).map((p) => p.msg).join(" ");
      undo.timer = setTimeout(hideToast, UNDO_MS);
    }
  }

  // --- report links -----------------------------------------------------------------------------

  function syncReport() {
    const params = new URLSearchParams({ since: $("r-since").value, until: $("r-until").value, tz: TZ });
    $("r-page").href = `/api/episodes/report?${params}`;
    $("r-pdf").href = `/api/episodes/report.pdf?${params}`;
    $("r-csv").href = `/api/episodes/report/episodes.csv?${params}`;
    $("r-readings").href = `/api/episodes/report/readings.csv?${params}`;
  }

  // --- start ----------------------------------------------------------------------------------

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
})();
