// Patterns of the last 14 days (GET /api/episodes/patterns): per day, time of day, the
// room at onset and how long, as bars.

import { request } from "../api.js";
import { el } from "../dom.js";
import { $, DAYS, TZ, localDay } from "./state.js";

const BAND_WORDS = { cold: "cold", cool: "cool", comfortable: "comfortable", warm: "warm", hot: "hot", unknown: "no reading" };
const dayFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", timeZone: "UTC" });
const longDayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" });

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

export async function loadPatterns() {
  const until = new Date();
  const since = new Date(until.getTime() - (DAYS - 1) * 24 * 3600 * 1000);
  const params = new URLSearchParams({ since: localDay(since), until: localDay(until), tz: TZ });
  const res = await request("GET", `/api/episodes/patterns?${params}`);
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
