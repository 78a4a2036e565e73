/* The annotate page: select text and tag it, keyboard first; every action is one saved request.
 *
 * The server sends the document's text (exactly as stored) and, as JSON, the spans, the suggestions, the entity
 * types and the token bounds, all in code points. This page draws the marks (render.js, the one renderer) and
 * works in the browser's UTF-16 units (offsets.js converts). Saving goes through the REST API (server.js); the
 * server applies the span rules (ner/spans.py) and its message is shown when it refuses. What a selection becomes
 * before it is saved follows the same rule over the server's token bounds (tokens.js).
 *
 * Model suggestions (pre-annotation) are drawn as dotted marks with their confidence; they are not tags until
 * accepted (suggestions.js). One that overlaps a tag is hidden: the annotator's tag wins.
 *
 * Undo (Ctrl+Z) takes back the last action, whatever it was (edits.js).
 *
 * Native ES modules from 'self', no build step. Each needs only those before it in this list: offsets, state (the
 * page's data), tokens, server, panel, render, cursor, menus, changes, edits, suggestions, input; this one wires
 * them up.
 */
import { config, container, offsets, spans, state, suggestions } from "./state.js";
import { makeOffsetMap } from "./offsets.js";
import { enqueue, idle, request, show } from "./server.js";
import { render, visibleSuggestions } from "./render.js";
import { showCursor, tokenAt } from "./cursor.js";
import { selectionBounds, tokenCount } from "./tokens.js";
import { markTaggedAndNext, takeMarkedStep, undo } from "./edits.js";
import { acceptAll, loadSuggestionModels, rejectAll } from "./suggestions.js";
import { updateSuggestionPanel } from "./panel.js";
import { toggleHelp, wireInput } from "./input.js";

const api = { makeOffsetMap };
window.nerlabAnnotate = api; // the browser tests call makeOffsetMap directly

/** The document's own settings, split and assignee (owners and editors), saved as they change. */
function wireSettings() {
  const splitSelect = document.getElementById("split-select");
  if (splitSelect) {
    splitSelect.addEventListener("change", () => enqueue(async () => {
      const saved = await request("PATCH", config.urls.document, { split: splitSelect.value });
      document.getElementById("split-effective").textContent = saved.split
        ? `${saved.split[0].toUpperCase()}${saved.split.slice(1)} (manual)` : "Project rule (saved)";
      show(`Split saved: ${splitSelect.options[splitSelect.selectedIndex].text}.`, "ok");
    }));
  }
  const assignSelect = document.getElementById("assign-select");
  if (assignSelect) {
    assignSelect.addEventListener("change", () => enqueue(async () => {
      await request("PATCH", config.urls.document, { assigned_to: assignSelect.value ? Number(assignSelect.value) : null });
      show(`Assigned to ${assignSelect.options[assignSelect.selectedIndex].text}.`, "ok");
    }));
  }
}

function wireButtons() {
  document.getElementById("undo-button")?.addEventListener("click", undo);
  document.getElementById("mark-tagged")?.addEventListener("click", markTaggedAndNext);
  document.getElementById("help-button")?.addEventListener("click", toggleHelp);
  document.getElementById("suggestion-panel")?.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.id === "accept-all-suggestions") acceptAll(null);
    else if (button.id === "reject-all-suggestions") rejectAll(null);
    else if (button.dataset.acceptType) acceptAll(Number(button.dataset.acceptType));
    else if (button.dataset.rejectType) rejectAll(Number(button.dataset.rejectType));
  });
}

/** Opened from a model review's "Fix": the cursor starts on the first error, scrolled into view. */
function focusStart() {
  if (config.focusAt === null || config.focusAt === undefined || !tokenCount) return;
  state.anchorToken = state.caretToken = tokenAt(offsets.toUtf16(config.focusAt));
  showCursor();
  show("Opened at the model's first error; its predictions are the dotted suggestions (Tab, Enter, Del).", "");
}

if (config) {
  wireInput();
  wireSettings();
  wireButtons();
  takeMarkedStep();
  render();
  if (suggestions.size) loadSuggestionModels(() => updateSuggestionPanel(visibleSuggestions()));
  focusStart();
  api.ready = true;
  api.suggestionCount = () => visibleSuggestions().length;
  api.spanCount = () => spans.size;
  api.idle = idle; // tests await the request queue
  // In code points, for the test that holds it to the server's rule (ner.spans.selection_bounds).
  api.selectionBounds = (start, end, wholeTokens) =>
    selectionBounds(offsets.toUtf16(start), offsets.toUtf16(end), wholeTokens)?.map((o) => offsets.toCodePoint(o)) ?? null;
  container.dataset.ready = "true";
}
