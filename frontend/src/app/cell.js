/**
 * @module cell
 *
 * A cell: one code editor with its toolbar (language, Run) and an output area where the
 * statements it runs appear, with their progress bar and elapsed time, kept current by the
 * page's poller. The console (templates/livy/notebook.html, `#run-form[data-cell]`) is one cell
 * whose output area is the page's statement list; a notebook page mounts one per cell.
 *
 * Markup a cell mounts on (the Run URL is the form's action; without JavaScript the form posts
 * normally and the server answers a page):
 *
 *   <form data-cell method="post" action="/run/" data-draft-key="livy-draft-<user pk>[-<cell>]"
 *         data-complete-url="/complete/" data-complete-kinds="spark">
 *     {% csrf_token %} <input type="hidden" name="scope" value="notebook">
 *     <select name="kind">…</select>            (optional: the statement kind, pyspark by default)
 *     <textarea name="code"></textarea>         (becomes the CodeMirror editor)
 *     <button type="submit">Run</button>        (or the element marked data-cell-run)
 *     <ol data-cell-outputs></ol>               (optional: the output area, see `outputs`)
 *   </form>
 *
 * API:
 *
 *   const cell = mount(cellElement, options)
 *     cellElement  the <form>, or an element holding one
 *     options.page      the LivePage (live.js) that posts the Run and polls (required; one per
 *                       page, shared by every cell: N cells cost one poll per interval)
 *     options.outputs   where the statements this cell runs are appended (default: the
 *                       [data-cell-outputs] inside the cell, else the page's #statements)
 *     options.draftKey  localStorage key of the cell's draft (default data-draft-key; null: none)
 *     options.completeUrl, options.completeKinds  Livy completion (default the data- attributes;
 *                       completion is asked only for those kinds)
 *     options.onChange(source, cell)  after every edit or language change; source = {code, kind}
 *     options.onRun(result, cell)     after each Run's answer: {added: [li…], notices: n}, or
 *                       null when it did not reach the server (a notice says why)
 *   cell.run({clear})   runs the code (Ctrl/Cmd+Enter; Shift+Enter is run({clear: true}), which
 *                       empties the editor and puts the code back if it was not run). One Run at
 *                       a time per cell: a second call while one is on its way returns null.
 *                       Resolves to the result given to onRun.
 *   cell.setSource(code, kind?)  replaces the code (and the kind, when the selector offers it)
 *   cell.getSource()   {code, kind}
 *   cell.focus()
 *   cell.destroy()     removes the editor (the textarea comes back) and every listener, and
 *                      leaves the page's cells; its statements stay in the page
 *   cell.element, cell.form, cell.editor (code-editor.js EditorHandle), cell.outputs, cell.running
 */
import { $ } from "./dom.js";
import { loadDraft, saveDraft } from "./drafts.js";
import { attachEditor } from "./code-editor.js";
import { send } from "./fragment.js";

/** What the Run button says while a Run is on its way. */
export const RUNNING_LABEL = "Running…";

function attr(el, name) {
  return el.getAttribute(name) ?? undefined;
}

export class Cell {
  constructor(element, options = {}) {
    if (!options.page) throw new Error("cell.mount: options.page (the LivePage) is required");
    this.element = element;
    this.form = element instanceof HTMLFormElement ? element : $("form", element);
    if (!this.form) throw new Error("cell.mount: the cell needs a <form> (its action is the Run URL)");
    this.page = options.page;
    this.options = options;
    this.textarea = $("textarea[name=code]", element) || $("textarea", element);
    if (!this.textarea) throw new Error("cell.mount: the cell needs a <textarea name=code>");
    this.kindSelect = $("select[name=kind]", element);
    this.button = $("[data-cell-run]", element) || $("button[type=submit], button:not([type])", this.form);
    this.outputs = options.outputs || $("[data-cell-outputs]", element) || this.page.list;
    this.draftKey = options.draftKey !== undefined ? options.draftKey : attr(this.form, "data-draft-key") || null;
    this.completeUrl = options.completeUrl ?? attr(this.form, "data-complete-url");
    const kinds = options.completeKinds ?? attr(this.form, "data-complete-kinds") ?? "";
    this.completeKinds = Array.isArray(kinds) ? kinds : kinds.split(",").filter(Boolean);
    this.running = false;

    if (!this.textarea.value) {
      const draft = loadDraft(this.draftKey);
      if (draft) {
        this.textarea.value = draft.code;
        if (draft.kind) this.selectKind(draft.kind);
      }
    } else {
      this.saveDraft(); // code put there by the server (a failed run, "Copy to editor"): keep it
    }
    this.editor = attachEditor(this.textarea, {
      language: this.kind(),
      onRun: () => { this.run(); },
      onRunAndClear: () => { this.run({ clear: true }); },
      complete: this.completeUrl ? (code, cursor, kind, signal) => this.complete(code, cursor, kind, signal) : undefined,
    });

    this.onInput = () => { this.saveDraft(); this.changed(); };
    this.onKindChange = () => { this.editor.setLanguage(this.kind()); this.saveDraft(); this.changed(); };
    this.onSubmit = (event) => { event.preventDefault(); this.run(); };
    this.textarea.addEventListener("input", this.onInput);
    this.kindSelect?.addEventListener("change", this.onKindChange);
    this.form.addEventListener("submit", this.onSubmit);
    this.page.cells.push(this);
    element.__livyCell = this;
  }

  /** The selected kind ("pyspark" without a selector). */
  kind() { return this.kindSelect ? this.kindSelect.value : "pyspark"; }

  /** {code, kind} now in the cell. */
  getSource() { return { code: this.editor ? this.editor.getValue() : this.textarea.value, kind: this.kind() }; }

  selectKind(kind) {
    if (!this.kindSelect || !kind) return;
    if (![...this.kindSelect.options].some((o) => o.value === kind)) return;
    this.kindSelect.value = kind;
    this.editor?.setLanguage(kind);
  }

  /** Replaces the code (and the kind, when given and offered); the draft follows. */
  setSource(code, kind) {
    if (kind) this.selectKind(kind);
    this.editor.setValue(code == null ? "" : String(code));
    this.saveDraft();
  }

  focus() { this.editor.focus(); }

  saveDraft() {
    const { code, kind } = this.getSource();
    saveDraft(this.draftKey, code, kind);
  }

  changed() {
    const fn = this.options.onChange;
    if (typeof fn === "function") fn(this.getSource(), this);
  }

  /** Runs the cell's code; see the module's API. */
  async run({ clear = false } = {}) {
    if (this.running) return null;
    const code = this.textarea.value;
    this.running = true;
    const data = new URLSearchParams(new FormData(this.form)); // taken before Shift+Enter clears
    if (clear) this.editor.clear();
    let result = null;
    try {
      result = await this.page.post(this.form.getAttribute("action"), data,
                                    { button: this.button, busyLabel: RUNNING_LABEL, target: this.outputs });
    } finally {
      this.running = false;
    }
    if (clear && (!result || result.notices) && !this.textarea.value) this.editor.setValue(code); // not run: keep it
    if (result?.added.length) result.added[result.added.length - 1].scrollIntoView({ block: "nearest" });
    this.saveDraft();
    if (typeof this.options.onRun === "function") this.options.onRun(result, this);
    return result;
  }

  /** Livy's completion candidates for `code` at `cursor` (null: none, or not for this kind). */
  async complete(code, cursor, kind, signal) {
    if (!this.completeUrl || !this.completeKinds.includes(kind)) return null;
    const body = new URLSearchParams({ code, cursor: String(cursor), kind });
    try {
      const answer = await send(this.completeUrl, { method: "POST", body, signal, accept: "json", follow: false });
      return Array.isArray(answer?.candidates) ? answer.candidates : null;
    } catch {
      return null;
    }
  }

  destroy() {
    this.textarea.removeEventListener("input", this.onInput);
    this.kindSelect?.removeEventListener("change", this.onKindChange);
    this.form.removeEventListener("submit", this.onSubmit);
    this.editor.destroy();
    const i = this.page.cells.indexOf(this);
    if (i >= 0) this.page.cells.splice(i, 1);
    delete this.element.__livyCell;
  }
}

/**
 * Mounts a cell on `cellElement` (see the module's API). Mounting the same element twice
 * returns the first cell.
 * @returns {Cell}
 */
export function mount(cellElement, options) {
  return cellElement.__livyCell || new Cell(cellElement, options);
}
