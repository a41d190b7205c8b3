// The adaptive poller: one request at a time, fast right after an action and slower while
// nothing changes, paused while the tab is hidden.
//
//   ~75 ms after an action (kick()), then x1.5 per poll up to `cap` ms (LIVY_POLL_INTERVAL);
//   it stops when the page says nothing is live, never has two requests in flight (an action
//   aborts the poll in flight and holds polls until it ends), and resumes when the tab shows.

/** First look after an action, ms. */
export const FIRST_POLL_MS = 75;
/** Growth of the delay between polls while nothing asks for a quick look. */
export const BACKOFF = 1.5;

/**
 * @typedef {"backoff"|"soon"|"stop"} PollOutcome what the poller does after a poll:
 *   wait longer ("backoff"), look again soon ("soon"), or stop until kicked ("stop").
 */

export class AdaptivePoller {
  /**
   * @param {object} options
   * @param {(signal: AbortSignal) => Promise<PollOutcome>} options.poll one request; rejects
   *   on failure (then `onError` is told and the poller backs off). AbortError is silent.
   * @param {() => boolean} options.isLive whether there is anything to poll for
   * @param {(error: Error) => void} [options.onError]
   * @param {number} [options.cap] longest delay between polls, ms (default 1000)
   */
  constructor({ poll, isLive, onError = () => {}, cap = 1000 }) {
    this.request = poll;
    this.isLive = isLive;
    this.onError = onError;
    this.cap = cap;
    /** The pending setTimeout id, or null. */
    this.timer = null;
    /** The AbortController of the poll in flight, or null. */
    this.inflight = null;
    /** Actions (form posts) in flight; polls wait while any is. */
    this.actions = 0;
    /** The current delay, ms. */
    this.delay = 0;
    /** Polls started so far (for tests and benchmarks). */
    this.polls = 0;
    this.onVisibility = () => {
      if (document.visibilityState === "visible") { if (!this.inflight && !this.timer) this.kick(FIRST_POLL_MS); }
      else this.clearTimer();
    };
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  clearTimer() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** Polls in `ms` (replacing any pending poll), unless nothing is live or the tab is hidden. */
  schedule(ms) {
    this.clearTimer();
    if (!this.isLive() || document.visibilityState === "hidden") return; // visibilitychange resumes
    this.timer = setTimeout(() => this.run(), ms);
  }

  /** The next, longer delay (x BACKOFF, at most `cap`). */
  backoff() {
    this.delay = Math.min(Math.max(this.delay, FIRST_POLL_MS) * BACKOFF, this.cap);
    return this.delay;
  }

  /** Looks soon (`ms`, default FIRST_POLL_MS) and restarts the back-off from there. */
  kick(ms = FIRST_POLL_MS) {
    this.delay = ms;
    this.schedule(this.delay);
  }

  /** Cancels the pending poll and aborts the one in flight. */
  abort() {
    this.clearTimer();
    if (this.inflight) { this.inflight.abort(); this.inflight = null; }
  }

  /** An action starts: no poll until it ends (endAction). */
  beginAction() {
    this.abort();
    this.actions++;
  }

  /** An action ended: look again soon. */
  endAction() {
    this.actions--;
    this.kick();
  }

  async run() {
    this.timer = null;
    if (this.inflight || this.actions || !this.isLive() || document.visibilityState === "hidden") return;
    const controller = new AbortController();
    this.inflight = controller;
    this.polls++;
    let outcome;
    try {
      outcome = await this.request(controller.signal);
    } catch (error) {
      if (this.inflight !== controller) return;
      this.inflight = null;
      if (error?.name === "AbortError") return;
      this.onError(error);
      this.schedule(this.backoff());
      return;
    }
    if (this.inflight !== controller) return; // aborted by an action meanwhile
    this.inflight = null;
    if (outcome === "stop") return;
    if (outcome === "soon") { this.kick(); return; }
    this.schedule(this.backoff());
  }

  /** Stops for good (no timer, no request, no listener). */
  destroy() {
    this.abort();
    document.removeEventListener("visibilitychange", this.onVisibility);
  }
}
