// Notices: messages in the page's #notices box (templates/livy/_page.html). Each carries its
// source: "page" (rendered with the page), "action" (the answer to a form post) or "poll".
import { $, $all } from "./dom.js";

/** Shows `text` as an error notice from `source`, replacing that source's earlier one. */
export function notice(text, source) {
  const box = $("#notices");
  if (!box) return;
  for (const el of $all(`[data-source='${source}']`, box)) el.remove();
  const p = document.createElement("p");
  p.className = "notice notice-error";
  p.setAttribute("role", "alert");
  p.setAttribute("data-source", source);
  p.textContent = text;
  box.appendChild(p);
}

/**
 * Puts a delta's notices (#delta-notices) in the page. An action's answer replaces every
 * notice; a poll's replaces only the polls' (so an action's message stays until the next action).
 */
export function applyNotices(fresh, source) {
  const box = $("#notices");
  if (!box || !fresh) return;
  const incoming = $all("p", fresh);
  for (const el of $all(source === "action" ? "p" : "[data-source='poll']", box)) el.remove();
  for (const p of incoming) { p.setAttribute("data-source", source); box.appendChild(p); }
}
