// The run keys, for a plain <textarea> (when the CodeMirror bundle is missing; CodeMirror has
// the same keys in frontend/src/editor.js): Ctrl+Enter or Cmd+Enter runs, Shift+Enter runs and
// clears.

/**
 * @param {HTMLTextAreaElement} textarea
 * @param {{onRun: () => void, onRunAndClear: () => void}} handlers
 * @returns {() => void} removes the keys again
 */
export function bindRunKeys(textarea, { onRun, onRunAndClear }) {
  const onKeyDown = (event) => {
    if (event.key !== "Enter") return;
    if (event.ctrlKey || event.metaKey) { event.preventDefault(); onRun(); }
    else if (event.shiftKey) { event.preventDefault(); onRunAndClear(); }
  };
  textarea.addEventListener("keydown", onKeyDown);
  return () => textarea.removeEventListener("keydown", onKeyDown);
}
