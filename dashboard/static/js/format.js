// How numbers read on every page: one temperature formatter and one duration formatter,
// in the household's unit (GET /api/settings). Temperatures travel in °C.

let current = "C";

/** The unit the household chose: "C" or "F". */
export function setUnit(unit) {
  current = unit === "F" ? "F" : "C";
}

export function unit() {
  return current;
}

export function unitLabel() {
  return current === "F" ? "°F" : "°C";
}

/** A temperature in °C in the household's unit. */
export function toUnit(celsius) {
  return current === "F" ? (celsius * 9) / 5 + 32 : celsius;
}

/**
 * A temperature in °C as shown: "19.4", with `label` "19.4 °C", with `trim` a limit or an
 * input's value without a trailing ".0" ("16", "60.8").
 */
export function fmtTemp(celsius, { label = false, trim = false } = {}) {
  const value = toUnit(celsius);
  const text = trim ? String(Math.round(value * 10) / 10) : value.toFixed(1);
  return label ? `${text} ${unitLabel()}` : text;
}

export function fmtHumidity(value) {
  return String(Math.round(value));
}

/**
 * A stretch of time: "12 min", "3 h 5 min", "2 days" (at least "1 s"). `precise` is for a
 * measured length, an episode's, said as the pediatrician report says it ("1 min 20 s",
 * rounded to the second; "not timed" when there is none).
 */
export function fmtDuration(seconds, { precise = false } = {}) {
  if (seconds === null || seconds === undefined) return "not timed";
  const s = precise ? Math.round(seconds) : Math.max(1, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return precise && s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (!precise && h >= 48) return `${Math.floor(h / 24)} days`;
  return precise || m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}
