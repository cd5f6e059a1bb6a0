// First run: add this phone by ntfy (the hub makes a private topic and draws its QR code),
// send a test push, and ask whether it arrived. Through /api/caregivers/me/channels/…

import { getJson, request } from "./js/api.js";
import { byId as $, el } from "./js/dom.js";

const TEST_TIMEOUT_MS = 30000; // a push service may take a while to answer
const state = { channel: null };

function text(key) {
  const node = $("texts").content.querySelector(`[data-key="${key}"]`);
  return node ? node.textContent : "";
}

function problem(data, status) {
  const detail = data && data.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail.length) return String(detail[0].msg);
  return `The hub answered ${status}; try again.`;
}

function mark(step) {
  $(step).dataset.done = "true";
}

async function addPhone() {
  const button = $("add-ntfy");
  button.disabled = true;
  $("add-error").hidden = true;
  const { ok, status, data } = await request("POST", "/api/caregivers/me/channels/ntfy", undefined, TEST_TIMEOUT_MS);
  if (!ok) {
    $("add-error").textContent = problem(data, status);
    $("add-error").hidden = false;
    button.disabled = false;
    return;
  }
  state.channel = data;
  $("qr").src = data.qr_url;
  $("subscribe").href = data.subscribe_url;
  $("subscribe").textContent = data.subscribe_url;
  $("app-link").href = data.app_link;
  $("manual-1").textContent = data.manual[0];
  $("manual-2").textContent = data.manual[1];
  $("ntfy").hidden = false;
  button.hidden = true;
  mark("step-phone");
  if (!data.test.sent) {
    $("add-error").textContent = data.test.error;
    $("add-error").hidden = false;
  }
  $("test").hidden = false;
}

async function sendTest() {
  const button = $("send-test");
  const result = $("test-result");
  button.disabled = true;
  result.hidden = false;
  result.dataset.result = "";
  result.textContent = text("sending");
  const url = `/api/caregivers/me/channels/${state.channel.id}/test`;
  const { ok, status, data } = await request("POST", url, undefined, TEST_TIMEOUT_MS);
  button.disabled = false;
  if (!ok || !data.sent) {
    result.dataset.result = "failed";
    result.textContent = ok ? data.error : problem(data, status);
    return;
  }
  result.dataset.result = "sent";
  result.textContent = text("sent");
  button.textContent = "Send it again";
  mark("step-test");
  $("arrived").hidden = false;
  $("arrived-answer").hidden = true;
}

async function answer(arrived) {
  const url = `/api/caregivers/me/channels/${state.channel.id}/arrived`;
  const { ok, status, data } = await request("POST", url, { arrived });
  const out = $("arrived-answer");
  out.hidden = false;
  out.dataset.arrived = String(arrived && ok);
  out.textContent = ok ? data.text : problem(data, status);
  $("done").hidden = !(ok && arrived);
  if (ok && arrived) mark("step-arrived");
}

/** "Name the room": one field per room the hub has heard from, filled with its name now. */
async function showRooms() {
  let rooms = [];
  let names = {};
  try {
    [rooms, names] = await Promise.all([
      getJson("/api/rooms").then(({ body }) => body),
      getJson("/api/settings").then(({ body }) => body.room_names || {}),
    ]);
  } catch (err) {
    console.warn("nursery first run:", err);
  }
  $("no-room").hidden = rooms.length > 0;
  $("room-form").hidden = rooms.length === 0;
  const lines = $("room-lines");
  lines.replaceChildren();
  rooms.forEach((room, i) => {
    const line = el("div", "st-line");
    const label = el("label", "", rooms.length > 1 ? `Name of the room “${room.room}”` : "Name");
    label.htmlFor = `room-${i}`;
    const input = el("input");
    input.id = `room-${i}`;
    input.maxLength = 40;
    input.autocomplete = "off";
    input.dataset.room = room.room;
    input.value = names[room.room] || "";
    input.placeholder = room.room;
    line.append(label, input);
    lines.append(line);
  });
}

async function saveRooms(event) {
  event.preventDefault();
  $("room-error").hidden = true;
  $("room-saved").hidden = true;
  for (const input of $("room-lines").querySelectorAll("input")) {
    const url = `/api/rooms/${encodeURIComponent(input.dataset.room)}/name`;
    const { ok, status, data } = await request("PUT", url, { name: input.value });
    if (!ok) {
      $("room-error").textContent = problem(data, status);
      $("room-error").hidden = false;
      input.setAttribute("aria-invalid", "true");
      return;
    }
    input.removeAttribute("aria-invalid");
  }
  $("room-saved").textContent = text("room-saved");
  $("room-saved").hidden = false;
  mark("step-room");
}

showRooms();
$("room-form").addEventListener("submit", saveRooms);
$("add-ntfy").addEventListener("click", addPhone);
$("send-test").addEventListener("click", sendTest);
$("arrived-yes").addEventListener("click", () => answer(true));
$("arrived-no").addEventListener("click", () => answer(false));
