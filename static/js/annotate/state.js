/* The page's data, read once from the server's JSON (#annotate-config) and the text it rendered, and the state the
 * other modules share. Spans and suggestions are kept in UTF-16 units; the server's code points are converted here
 * and in `payload`/`fromServer` (edits.js), nowhere else. */
import { makeOffsetMap } from "./offsets.js";

const configElement = document.getElementById("annotate-config");
export const container = document.getElementById("doc-text");
export const menu = document.getElementById("span-menu");
/** Null on a page without the annotate markup: then nothing else runs (main.js). */
export const config = configElement && container ? JSON.parse(configElement.textContent) : null;
export const text = container ? container.textContent : ""; // the stored text: CRs arrive as &#13;
export const offsets = makeOffsetMap(text);

export const types = new Map((config?.types ?? []).map((t) => [t.id, t]));
export const typeByHotkey = new Map((config?.types ?? []).filter((t) => t.hotkey).map((t) => [t.hotkey, t]));

export const spans = new Map(); // id -> {id, typeId, start, end}
for (const [id, typeId, start, end] of config?.spans ?? []) {
  spans.set(id, { id, typeId, start: offsets.toUtf16(start), end: offsets.toUtf16(end) });
}
export const suggestions = new Map(); // id -> {id, typeId, start, end, confidence}
for (const [id, typeId, start, end, confidence] of config?.suggestions ?? []) {
  suggestions.set(id, { id, typeId, start: offsets.toUtf16(start), end: offsets.toUtf16(end), confidence });
}

/** What changes as the user works; one object, since an imported binding cannot be assigned to. */
export const state = {
  status: config?.status,
  suggestionModels: [], // names of the models the pending suggestions come from (fetched on load)
  focusedSuggestion: null, // the suggestion whose menu is open: Enter accepts it, Delete rejects it
  mode: "menu", // or "brush"
  brushTypeId: null,
  anchorToken: -1, // the keyboard cursor: token indices
  caretToken: -1,
  pending: null, // {start, end}: the selection a menu was opened for
  undoStack: [],
};

export function typeName(typeId) { return (types.get(typeId) || {}).name || "?"; }
