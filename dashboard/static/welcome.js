// First run: add this phone by ntfy (the hub makes a private topic and draws its QR code),
// send a test push, and ask whether it arrived. Through /api/caregivers/me/channels/…

import { request } from "./js/api.js";
import { byId as $ } from "./js/dom.js";

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

$("add-ntfy").addEventListener("click", addPhone);
$("send-test").addEventListener("click", sendTest);
$("arrived-yes").addEventListener("click", () => answer(true));
$("arrived-no").addEventListener("click", () => answer(false));
