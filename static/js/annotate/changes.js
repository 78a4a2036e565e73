/* What follows a saved request on the page: the spans and suggestions as the server returned them, the document's
 * status, and the undo stack. It sits below edits.js and suggestions.js, which both need it: the modules may form
 * no cycle (config/staticfiles.py says why). */
import { config, offsets, state, suggestions } from "./state.js";
import { onDocumentStatus, request } from "./server.js";

/** A span as the API returns it (code points) -> as the page keeps it. */
export function spanFromServer(saved) {
  return { id: saved.id, typeId: saved.entity_type, start: offsets.toUtf16(saved.start), end: offsets.toUtf16(saved.end) };
}

const statusLabels = { untagged: "Untagged", in_progress: "In progress", tagged: "Tagged", open: "Open", submitted: "Submitted" };

/** The header badge and the side panel both say the status: they change together. */
export function setStatus(value) {
  state.status = value;
  const badge = document.getElementById("status-badge");
  badge.className = "badge " + value;
  badge.textContent = statusLabels[value] || value;
  const panel = document.getElementById("status-text");
  if (panel) panel.textContent = statusLabels[value] || value; // "by whom, when" is stale once it changes
}

onDocumentStatus((value) => { if (value !== state.status) setStatus(value); });

export function pushUndo(entry) {
  state.undoStack.push(entry);
  const button = document.getElementById("undo-button");
  if (button) button.disabled = false;
}

/** Bring accepted or rejected suggestions back (the server kept them); the ones it returns are pending again. */
export async function restoreSuggestions(ids) {
  if (!ids.length) return 0;
  const result = await request("POST", `${config.urls.suggestions}restore/`, { suggestions: ids });
  for (const saved of result.suggestions) {
    suggestions.set(saved.id, {
      id: saved.id, typeId: saved.entity_type, start: offsets.toUtf16(saved.start), end: offsets.toUtf16(saved.end),
      confidence: saved.confidence,
    });
  }
  return result.suggestions.length;
}
