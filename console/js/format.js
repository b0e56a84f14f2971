// How times, ages and lifetimes read in the console. Pure functions of their arguments (the
// current time included), so they are tested without a browser (tests/browser/format.test.mjs).

/** Keys older than this are rotation candidates (the product documents' rule). */
export const ROTATE_AFTER_DAYS = 90;

const DAY_MS = 86_400_000;

/** Whole days from `iso` to `now` (never negative). */
export function ageInDays(iso, now) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return 0;
  return Math.max(0, Math.floor((now - then) / DAY_MS));
}

/** "today", "1 day", "12 days". */
export function describeAge(days) {
  if (days === 0) return "today";
  return days === 1 ? "1 day" : `${days} days`;
}

/** Whether a key created at `createdIso` should be rotated. */
export function isRotationCandidate(createdIso, now) {
  return ageInDays(createdIso, now) > ROTATE_AFTER_DAYS;
}

/** A lifetime in seconds as people say it: "24 hours", "30 minutes", "2 days". */
export function describeSeconds(seconds) {
  const units = [
    [86_400, "day"],
    [3_600, "hour"],
    [60, "minute"],
  ];
  for (const [size, name] of units) {
    // Days from two on: a token lifetime of one day reads "24 hours", as the product says it.
    const big = size === 86_400 ? seconds >= 2 * size : seconds >= size;
    if (big && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${name}${n === 1 ? "" : "s"}`;
    }
  }
  for (const [size, name] of units) {
    if (seconds >= size * 2) return `about ${Math.round(seconds / size)} ${name}s`;
  }
  return `${seconds} seconds`;
}

/** A time for a table cell, in the reader's locale; `missing` when there is none. */
export function formatTime(iso, missing = "—") {
  if (!iso) return missing;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A date alone (the exact time is in the cell's tooltip). */
export function formatDate(iso, missing = "—") {
  if (!iso) return missing;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleDateString(undefined, { dateStyle: "medium" });
}

/** "in 3 days", "2 hours ago": for expiry and last use. */
export function relativeTime(iso, now) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.round((then - now) / 1000);
  const abs = Math.abs(seconds);
  const [value, unit] =
    abs < 60 ? [seconds, "second"]
    : abs < 3_600 ? [Math.round(seconds / 60), "minute"]
    : abs < 86_400 ? [Math.round(seconds / 3_600), "hour"]
    : [Math.round(seconds / 86_400), "day"];
  return new Intl.RelativeTimeFormat("en", { numeric: "auto" }).format(value, unit);
}
