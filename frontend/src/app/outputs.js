// Statement outputs in the page (templates/livy/_output.html): long outputs folded with a
// "Show the whole output" toggle, the tables' Chart buttons revealed (they need this script),
// and the clicks on both.
import { $all } from "./dom.js";
import { toggleChart } from "./charts.js";

/** Outputs taller than this (px, plus some slack) are folded. */
export const COLLAPSE_PX = 520;

/** Folds the long outputs under `root` and shows its Chart buttons (once per output). */
export function enhanceOutputs(root) {
  for (const b of $all("[data-chart-toggle]", root)) b.hidden = false;
  for (const out of $all(".output", root)) {
    if (out.hasAttribute("data-fold-checked")) continue;
    out.setAttribute("data-fold-checked", "");
    if (out.scrollHeight <= COLLAPSE_PX + 120) continue;
    out.classList.add("collapsible", "collapsed");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small output-toggle";
    button.setAttribute("data-output-toggle", "");
    button.setAttribute("aria-expanded", "false");
    button.textContent = "Show the whole output";
    out.insertAdjacentElement("afterend", button);
  }
}

/**
 * Handles a click on a Chart button or a fold toggle; returns whether it was one.
 * @param {Element} target the clicked element
 * @param {(message: string) => void} onError told when the chart library cannot be loaded
 */
export function handleOutputClick(target, onError) {
  const chart = target.closest("[data-chart-toggle]");
  if (chart) { toggleChart(chart, onError); return true; }
  const fold = target.closest("[data-output-toggle]");
  if (fold) {
    const out = fold.previousElementSibling;
    const folded = out.classList.toggle("collapsed");
    fold.setAttribute("aria-expanded", String(!folded));
    fold.textContent = folded ? "Show the whole output" : "Fold the output";
    return true;
  }
  return false;
}
