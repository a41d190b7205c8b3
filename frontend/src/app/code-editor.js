// Editor glue: a code editor on a <textarea>, with one interface whether the vendored
// CodeMirror bundle (static/livy/vendor/codemirror-bundle.min.js, window.LivyEditor, built from
// frontend/src/editor.js) is on the page or not (then the plain textarea, with the same keys).
// The textarea's value always equals the editor's text, and an "input" event is dispatched on
// the textarea on every change, so forms and listeners work the same in both cases.
import { bindRunKeys } from "./keyboard.js";

/** Languages of the editor (Livy statement kinds); other kinds edit as pyspark. */
export const EDITOR_KINDS = ["pyspark", "sql", "spark"];

/**
 * @typedef {object} EditorHandle
 * @property {() => string} getValue
 * @property {(code: string) => void} setValue replaces the text (an "input" event follows)
 * @property {() => void} clear
 * @property {() => void} focus
 * @property {(kind: string) => void} setLanguage one of EDITOR_KINDS (others are ignored)
 * @property {() => void} destroy gives the textarea back as it was
 * @property {boolean} rich whether this is the CodeMirror editor
 * @property {HTMLTextAreaElement} textarea
 * @property {object} [view] CodeMirror's EditorView (rich editors only)
 */

/**
 * @param {HTMLTextAreaElement} textarea
 * @param {object} options
 * @param {string} options.language initial kind
 * @param {() => void} options.onRun Ctrl/Cmd+Enter
 * @param {() => void} options.onRunAndClear Shift+Enter
 * @param {(code: string, cursor: number, kind: string, signal?: AbortSignal) => Promise<string[]|null>} [options.complete]
 * @returns {EditorHandle}
 */
export function attachEditor(textarea, { language, onRun, onRunAndClear, complete }) {
  if (window.LivyEditor) {
    try {
      const handle = window.LivyEditor.create(textarea, {
        language: EDITOR_KINDS.includes(language) ? language : "pyspark",
        onRun,
        onRunAndClear,
        complete,
      });
      return {
        rich: true,
        textarea,
        view: handle.view,
        getValue: () => handle.getValue(),
        setValue: (code) => handle.setValue(code),
        clear: () => handle.clear(),
        focus: () => handle.focus(),
        setLanguage: (kind) => { try { handle.setLanguage(kind); } catch { /* not an editor language */ } },
        destroy: () => handle.destroy(),
      };
    } catch { /* fall back to the textarea */ }
  }
  const unbind = bindRunKeys(textarea, { onRun, onRunAndClear });
  const setValue = (code) => {
    textarea.value = code;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  };
  return {
    rich: false,
    textarea,
    getValue: () => textarea.value,
    setValue,
    clear: () => setValue(""),
    focus: () => textarea.focus(),
    setLanguage: () => {},
    destroy: unbind,
  };
}
