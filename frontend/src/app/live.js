// The live part of a page (templates/livy/_page.html, #live): rendered once by the server, then
// kept current from *deltas* (templates/livy/_delta.html) that polls and form posts answer.
//
// A poll asks data-live-url (GET, reads only) or, while the owner has statements queued,
// data-dispatch-url (POST, sends them): ?open=<pks the page shows unfinished>&after=<largest pk
// on the page>&stamp=<the last delta's stamp>. The answer carries the session bar, those
// statements' current render (without their code) and the newer ones; 204 means nothing changed
// and nothing runs. One AdaptivePoller (poll.js) serves the whole page, however many cells it
// has: the open statements of every cell go in one request.
import { $, $all, setBusy } from "./dom.js";
import { readClock, startTicking, tick } from "./clock.js";
import { parseDelta, send, swapElement } from "./fragment.js";
import { keepAlive } from "./heartbeat.js";
import { applyNotices, notice } from "./notices.js";
import { enhanceOutputs } from "./outputs.js";
import { AdaptivePoller } from "./poll.js";

/** First look after the page loaded, ms. */
export const PAGE_POLL_MS = 250;

/**
 * @typedef {object} DeltaResult
 * @property {HTMLLIElement[]} added the statements the delta added to the page
 * @property {number} notices how many notices it carried (a Run with notices did not run)
 */

export class LivePage {
  /** @param {HTMLElement} root the #live element */
  constructor(root) {
    this.root = root;
    /** The page's statement list (#statements): where statements go that no cell asked for. */
    this.list = $("#statements", root);
    /** The cells mounted on this page (cell.js), in mount order. */
    this.cells = [];
    this.poller = new AdaptivePoller({
      poll: (signal) => this.poll(signal),
      isLive: () => this.isLive(),
      onError: (error) => notice(`The page could not reach the server (${error?.message}); it keeps trying.`, "poll"),
    });
  }

  isLive() { return this.root.getAttribute("data-live") === "true"; }

  after() { return this.root.getAttribute("data-after") || "0"; }

  /** Pks of the statements the page shows unfinished, wherever they are (any cell). */
  openPks() {
    return $all("li.statement[data-open='1']").map((li) => li.id.replace("statement-", ""));
  }

  /** The cell a statement element belongs to: the one whose outputs hold it, else the first. */
  cellFor(li) {
    return this.cells.find((cell) => cell.outputs?.contains(li)) || this.cells[0] || null;
  }

  /** Starts the page: bar, outputs, Livy status line, ticking times, the first poll. */
  start() {
    readClock(this.root);
    this.poller.cap = Math.max(200, (Number(this.root.getAttribute("data-poll-cap")) || 1) * 1000);
    this.setupBar();
    this.enhance(this.root);
    const status = $("#livy-status");
    if (status?.getAttribute("data-status-url")) {
      status.hidden = false;
      send(status.getAttribute("data-status-url"))
        .then((html) => { if (html != null) status.innerHTML = html; })
        .catch(() => { status.textContent = "Livy's status could not be read."; });
    }
    startTicking();
    this.poller.kick(PAGE_POLL_MS);
  }

  /** One poll (AdaptivePoller's `poll`). */
  async poll(signal) {
    const params = new URLSearchParams();
    params.set("open", this.openPks().join(","));
    params.set("after", this.after());
    const stamp = this.root.getAttribute("data-stamp");
    if (stamp) params.set("stamp", stamp);
    const dispatchUrl = this.root.getAttribute("data-dispatch-url");
    const html = dispatchUrl
      ? await send(dispatchUrl, { method: "POST", body: params, signal })
      : await send(`${this.root.getAttribute("data-live-url")}?${params}`, { signal });
    if (signal.aborted) throw new DOMException("an action started", "AbortError");
    if (html === "") { this.root.setAttribute("data-live", "false"); return "stop"; } // 204
    if (html != null) this.apply(html);
    // A POST poll that just sent the queued statements (the session became ready): look again
    // soon, as after a Run, rather than after the backed-off delay.
    if (dispatchUrl && !this.root.getAttribute("data-dispatch-url")) return "soon";
    return "backoff";
  }

  /**
   * Posts a form's data as an action (polls wait meanwhile) and applies the delta it answers.
   * @param {string} url the form's action
   * @param {URLSearchParams} body its data (open and after are added)
   * @param {{button?: HTMLButtonElement|null, busyLabel?: string, target?: Element|null}} [options]
   *   the button shown busy meanwhile; `target`: where the statements it adds go (a cell's outputs)
   * @returns {Promise<DeltaResult|null>} null when it failed (a notice says why) or led elsewhere
   */
  async post(url, body, { button = null, busyLabel, target = null } = {}) {
    body.set("open", this.openPks().join(","));
    body.set("after", this.after());
    this.poller.beginAction();
    setBusy(button, true, busyLabel);
    let result = null;
    try {
      const html = await send(url, { method: "POST", body });
      result = html == null ? null : this.apply(html, { target });
    } catch (error) {
      notice(`Your request did not reach the server (${error?.message}). Try again.`, "action");
    }
    this.poller.endAction();
    setBusy(button, false);
    return result;
  }

  /**
   * Applies a delta: the page's live state, notices, the session bar, the updated statements
   * (swapped in place) and the new ones (appended to `target`, default the page's list).
   * @returns {DeltaResult|null}
   */
  apply(html, { target = null } = {}) {
    const delta = parseDelta(html);
    if (!delta) return null;
    const root = this.root;
    readClock(delta);
    root.setAttribute("data-live", delta.getAttribute("data-live") || "false");
    root.setAttribute("data-stamp", delta.getAttribute("data-stamp") || "");
    root.setAttribute("data-after", String(Math.max(Number(this.after()), Number(delta.getAttribute("data-after")) || 0)));
    const dispatch = delta.getAttribute("data-dispatch-url");
    if (dispatch) root.setAttribute("data-dispatch-url", dispatch); else root.removeAttribute("data-dispatch-url");
    applyNotices($("#delta-notices", delta), delta.getAttribute("data-source") || "poll");
    const bar = $("#session-bar", delta);
    const oldBar = $("#session-bar");
    if (bar && oldBar && swapElement(oldBar, bar)) this.setupBar();
    for (const li of $all("#delta-updated > li", delta)) this.swapStatement(li);

    const into = target || this.list;
    const added = [];
    let pendingDivider = null;
    for (const li of $all("#delta-new > li", delta)) {
      if (li.classList.contains("session-divider")) { pendingDivider = li; continue; }
      if (document.getElementById(li.id)) { this.swapStatement(li); pendingDivider = null; continue; }
      if (pendingDivider) { into.appendChild(pendingDivider); pendingDivider = null; }
      into.appendChild(li);
      added.push(li);
    }
    if (added.length) {
      $("#no-statements")?.remove();
      // The newest error's traceback is open; older ones fold.
      for (const d of $all("details[data-auto-open]")) {
        if (!added.includes(d.closest("li.statement"))) { d.open = false; d.removeAttribute("data-auto-open"); }
      }
      for (const li of added) this.enhance(li);
    }
    tick();
    return { added, notices: Number(delta.getAttribute("data-notices")) || 0 };
  }

  /** Swaps a statement's fresh render in (its code, omitted from updates, is kept). */
  swapStatement(fresh) {
    const old = document.getElementById(fresh.id);
    if (!old) return false;
    const swapped = swapElement(old, fresh, () => {
      const omitted = $("pre.code[data-omitted]", fresh);
      const code = $("pre.code", old);
      if (omitted && code) omitted.replaceWith(code);
    });
    if (swapped) this.enhance(fresh);
    return swapped;
  }

  /** Reveals what needs this script under `root`: outputs' folds and charts, "Copy to editor". */
  enhance(root) {
    if (this.cells.length) for (const b of $all("[data-copy]", root)) b.hidden = false;
    enhanceOutputs(root);
  }

  setupBar() {
    const bar = $("#session-bar");
    if (bar) keepAlive(bar.getAttribute("data-keepalive-url"), Number(bar.getAttribute("data-keepalive-interval")));
  }
}
