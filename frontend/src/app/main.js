// Entry of static/livy/app.min.js (built by scripts/build-frontend.sh): everything the pages do
// in the browser. Loaded on every page (defer), after the vendored CodeMirror bundle on pages
// that have an editor. No inline script anywhere, no eval: runs under "script-src 'self'".
//
//   drafts.js     drafts in localStorage per user, removed at an explicit sign-out (and on the
//                 signed-out pages after it), kept when the session merely expired
//   live.js       the live part of a page: deltas from polls (poll.js) and form posts
//   cell.js       a cell: editor (code-editor.js, keyboard.js) + Run + output area; mount() API
//   outputs.js    long outputs folded, tables' charts (charts.js)
//   fragment.js   fragment requests (X-Livy-Fragment) and swaps; notices.js, heartbeat.js, clock.js
//   notebook-page.js  the owner's notebook page (#nb-cells): cells, autosave, runs
//
// window.LivyNotebook (for tests, benchmarks and a page's own module):
//   poller     the page's AdaptivePoller (timer, inflight, actions, polls), or null
//   page       the LivePage, or null;  cells: the mounted cells
//   editor     the first cell's EditorHandle (the console's editor), or null
//   mount(el, options)  cell.mount with this page (see cell.js)
//   clearDrafts()       removes every draft;  readyAt: performance.now() when set up
//   notebookPage        the notebook page's handle (notebook-page.js), or null
// and <html data-notebook-ready="true"> once set up.
import { $, $all } from "./dom.js";
import { clearDrafts, settleDrafts, signOut } from "./drafts.js";
import { LivePage } from "./live.js";
import { mount } from "./cell.js";
import { notice } from "./notices.js";
import { handleOutputClick } from "./outputs.js";
import { setupNotebookPage } from "./notebook-page.js";

function setup() {
  const api = { poller: null, page: null, cells: [], editor: null, mount: null, clearDrafts, readyAt: null,
                notebookPage: null };
  window.LivyNotebook = api;
  settleDrafts(document.body.getAttribute("data-signed-in") !== "false");

  const root = $("#live");
  const page = root ? new LivePage(root) : null;
  if (page) {
    Object.assign(api, { page, poller: page.poller, cells: page.cells });
    api.mount = (element, options) => mount(element, { ...options, page });
    // Cells first: the statements' "Copy to editor" buttons show only when there is an editor.
    for (const element of $all("[data-cell]")) {
      try {
        mount(element, { page });
      } catch (error) {
        console.error(error); // the page keeps working; a data-delta form still posts as any action
      }
    }
    api.editor = page.cells[0]?.editor ?? null;
    page.start();
  }

  const notebookCells = $("#nb-cells.nb-edit");
  if (notebookCells) {
    try { api.notebookPage = setupNotebookPage(notebookCells); } catch (error) { console.error(error); }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.id === "sign-out-form") { signOut(); return; }
    if (event.defaultPrevented || !page || !form.hasAttribute("data-delta")) return; // a cell's Run, or a plain post
    event.preventDefault();
    const question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) return;
    page.post(form.getAttribute("action"), new URLSearchParams(new FormData(form)),
              { button: event.submitter || $("button", form) });
  });

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const copy = target.closest("[data-copy]");
    const cell = copy && page ? page.cellFor(copy) : null;
    if (cell) {
      const li = copy.closest("li.statement");
      cell.setSource($("pre.code", li)?.textContent ?? "", li.getAttribute("data-kind") || "pyspark");
      cell.element.scrollIntoView({ block: "nearest" });
      cell.focus();
      return;
    }
    handleOutputClick(target, (message) => notice(message, "action"));
  });

  api.readyAt = performance.now();
  document.documentElement.setAttribute("data-notebook-ready", "true");
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
else setup();
