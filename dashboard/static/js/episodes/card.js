// The doctor card: when to call the pediatrician, and the emergency number, from
// GET /api/episodes/card.

import { request } from "../api.js";
import { el } from "../dom.js";
import { $ } from "./state.js";

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

export async function loadCard() {
  const res = await request("GET", "/api/episodes/card");
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
export function showCard(card, saved) {
  if (!card || !card.show || !saved) return;
  if (!card.reasons.some((reason) => reason.episode_ids.includes(saved.id))) return;
  const title = $("card-title");
  title.focus({ preventScroll: true });
  $("card").scrollIntoView({ block: "start", behavior: "smooth" });
}
