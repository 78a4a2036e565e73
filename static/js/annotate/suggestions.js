/* Model suggestions (pre-annotation): accept one (it becomes a tag through the server's span rules) or reject it,
 * or all of them, or all of one type. The server keeps accepted and rejected suggestions and restores them on
 * request, which is how undo brings them back. */
import { config, spans, state, suggestions, text, typeName } from "./state.js";
import { enqueue, request, show } from "./server.js";
import { render, visibleSuggestions } from "./render.js";
import { moveCursorTo } from "./cursor.js";
import { closeMenu, focusSuggestion } from "./menus.js";
import { pushUndo, spanFromServer } from "./changes.js";

/** Which models the pending suggestions come from: only for the side panel, so a failed request is ignored. */
export function loadSuggestionModels(then) {
  request("GET", config.urls.suggestions).then((data) => {
    state.suggestionModels = data.models || [];
    then();
  }).catch(() => {});
}

function suggestionUrl(suggestion, action) { return `${config.urls.suggestions}${suggestion.id}/${action}/`; }

/** After a keyboard accept or reject, open the next pending suggestion so a review is Tab-free: Enter, Enter, Del… */
function advanceFrom(position) {
  const list = visibleSuggestions().filter((s) => !s.busy);
  if (!list.length) { show("No suggestions left on this document.", "ok"); return; }
  focusSuggestion(list.find((s) => s.start >= position) || list[0]);
}

export function acceptSuggestion(suggestion, typeId, keyboard) {
  if (!config.canAnnotate || suggestion.busy) return;
  suggestion.busy = true;
  closeMenu();
  enqueue(async () => {
    try {
      const body = typeId && typeId !== suggestion.typeId ? { entity_type: typeId } : {};
      const span = spanFromServer(await request("POST", suggestionUrl(suggestion, "accept"), body));
      suggestions.delete(suggestion.id);
      spans.set(span.id, span);
      render();
      pushUndo({ kind: "accept", spans: [span], ids: [suggestion.id] });
      show(`Accepted “${text.slice(span.start, span.end)}” as ${typeName(span.typeId)}.`, "ok");
      moveCursorTo(span.end);
      if (keyboard) advanceFrom(span.end);
    } finally {
      suggestion.busy = false;
    }
  });
}

export function rejectSuggestion(suggestion, keyboard) {
  if (!config.canAnnotate || suggestion.busy) return;
  suggestion.busy = true;
  closeMenu();
  enqueue(async () => {
    try {
      await request("POST", suggestionUrl(suggestion, "reject"));
      suggestions.delete(suggestion.id);
      render();
      pushUndo({ kind: "reject", ids: [suggestion.id] });
      show(`Rejected the suggestion ${typeName(suggestion.typeId)} “${text.slice(suggestion.start, suggestion.end)}”.`, "ok");
      if (keyboard) advanceFrom(suggestion.end);
    } finally {
      suggestion.busy = false;
    }
  });
}

function inScope(suggestion, typeId) { return typeId === null || suggestion.typeId === typeId; }

/** Accept every pending suggestion (of one type, or all): the server goes most confident first, skipping collisions. */
export function acceptAll(typeId) {
  if (!config.canAnnotate) return;
  const count = visibleSuggestions().filter((s) => inScope(s, typeId)).length;
  if (!count) { show("There are no suggestions to accept.", ""); return; }
  closeMenu();
  enqueue(async () => {
    const result = await request("POST", `${config.urls.suggestions}accept-all/`, typeId === null ? {} : { entity_type: typeId });
    for (const id of result.suggestions) suggestions.delete(id);
    const created = result.accepted.map(spanFromServer);
    for (const span of created) spans.set(span.id, span);
    render();
    // One step for undo: the tags go and every suggestion it touched (accepted or skipped) comes back.
    if (result.suggestions.length) pushUndo({ kind: "acceptAll", spans: created, ids: result.suggestions });
    const what = typeId === null ? "" : ` ${typeName(typeId)}`;
    let message = `Accepted ${created.length}${what} suggestion${created.length === 1 ? "" : "s"}.`;
    if (result.skipped) message += ` Skipped ${result.skipped} that collided with a tag.`;
    show(message, "ok");
  });
}

export function rejectAll(typeId) {
  if (!config.canAnnotate) return;
  const count = visibleSuggestions().filter((s) => inScope(s, typeId)).length;
  if (!count) { show("There are no suggestions to reject.", ""); return; }
  const what = typeId === null ? "" : ` ${typeName(typeId)}`;
  closeMenu();
  enqueue(async () => {
    const result = await request("POST", `${config.urls.suggestions}reject-all/`, typeId === null ? {} : { entity_type: typeId });
    for (const id of result.suggestions) suggestions.delete(id);
    render();
    if (result.suggestions.length) pushUndo({ kind: "rejectAll", ids: result.suggestions });
    show(`Rejected ${result.rejected}${what} suggestion${result.rejected === 1 ? "" : "s"}. Ctrl+Z brings them back.`, "ok");
  });
}
