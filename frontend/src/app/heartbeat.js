// The keep-alive heartbeat (Fabric ends sessions idle for 20 minutes): while the page is open
// and visible, POST the session bar's data-keepalive-url every data-keepalive-interval seconds.
import { send } from "./fragment.js";

let timer = null;
let currentUrl = null;

/**
 * Beats to `url` every `seconds` (replacing the previous heartbeat); no url or no interval
 * stops it. Calling it again with the same url changes nothing.
 */
export function keepAlive(url, seconds) {
  if (url === currentUrl) return;
  clearInterval(timer);
  timer = null;
  currentUrl = url;
  if (!url || !(seconds > 0)) return;
  timer = setInterval(() => {
    if (document.visibilityState !== "visible") return;
    send(url, { method: "POST", body: new URLSearchParams() }).catch(() => { /* logged by the server */ });
  }, seconds * 1000);
}
