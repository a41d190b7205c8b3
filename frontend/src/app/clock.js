// Elapsed times that tick: every element with data-since="<epoch ms>" shows the time since
// then, measured on the server's clock (pages and deltas carry data-now="<epoch ms>").

let clockOffset = 0; // server time minus browser time, ms

/** Now on the server's clock, epoch milliseconds. */
export const serverNow = () => Date.now() + clockOffset;

/** Takes the server's clock from an element's data-now (epoch ms), when it has one. */
export function readClock(el) {
  const now = Number(el?.getAttribute("data-now"));
  if (now > 0) clockOffset = now - Date.now();
}

/**
 * "4 s", "2 min 5 s", "1 h 3 min": the format the server writes too
 * (livy/templatetags/livy_tags.py, since_text).
 * @param {number} ms a duration in milliseconds (negative counts as 0)
 */
export function durationText(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Rewrites every [data-since] under `root` whose text changed. */
export function tick(root = document) {
  const now = serverNow();
  for (const el of root.querySelectorAll("[data-since]")) {
    const since = Number(el.getAttribute("data-since"));
    if (!(since > 0)) continue;
    const text = durationText(now - since);
    if (el.textContent !== text) el.textContent = text;
  }
}

let ticking = null;
/** Ticks every second from now on (once per page, however many callers). */
export function startTicking() {
  if (ticking === null) ticking = setInterval(tick, 1000);
  tick();
}
