// The episode log page's shared state and small helpers.

import { el } from "../dom.js";

export const DAYS = 14;
export const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

export const whenFmt = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "numeric",
  minute: "2-digit",
  second: "2-digit",
});

export const $ = (id) => document.getElementById(id);

export const state = {
  rooms: [],
  episodes: [], // the last DAYS days, oldest first
  running: null, // the selected room's running episode
  form: null, // {mode: "details"|"past"|"edit", episode}
  undo: null, // {id, timer}
  ticker: null,
  polling: false,
};

/** Everything again, resolving to the doctor card (null if it could not be read): set by
 * episodes.js. */
export const hooks = { refresh: async () => null };

function pad(n) {
  return String(n).padStart(2, "0");
}

/** A Date as the value of an <input type="datetime-local"> (local wall time). */
export function localInput(date) {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

export function localDay(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** FastAPI's 422/409/404 detail as [{field, msg}]. */
export function problems(data) {
  const detail = data && data.detail;
  if (typeof detail === "string") return [{ field: null, msg: detail }];
  if (!Array.isArray(detail)) return [{ field: null, msg: "Something went wrong; try again." }];
  return detail.map((item) => ({
    // ["body", "limbs", 0]: the field follows body/query/path; a list item adds its index.
    field: Array.isArray(item.loc) && item.loc.length > 1 ? String(item.loc[1]) : null,
    msg: String(item.msg || "invalid value").replace(/^Value error, /, ""),
  }));
}

export function selectedRoom() {
  return $("room").value;
}

export function fillRooms(select, current) {
  const want = current || select.value || localStorage.getItem("episodes.room") || "";
  select.textContent = "";
  for (const name of state.rooms) {
    const option = el("option", null, name);
    option.value = name;
    select.append(option);
  }
  if (state.rooms.includes(want)) select.value = want;
}
