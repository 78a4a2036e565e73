/* The user's hands: mouse and touch selections, clicks on marks, the mode switch and palette, and the keyboard. */
import { config, container, menu, spans, state, suggestions, typeByHotkey, typeName } from "./state.js";
import { show } from "./server.js";
import { clearSelection, selectedRange } from "./render.js";
import { cursorRange, moveCursor, spansUnder, syncCursor } from "./cursor.js";
import { markTaggedAndNext, remove, retype, tag, undo } from "./edits.js";
import { acceptAll, acceptSuggestion, rejectAll, rejectSuggestion } from "./suggestions.js";
import {
  closeMenu, openSpan, openSpanMenu, openSuggestion, openSuggestionMenu, openTypeMenu, stepSuggestion,
} from "./menus.js";

// --- Modes and palette --------------------------------------------------------------------------------------------

function setMode(value, typeId) {
  state.mode = value;
  state.brushTypeId = value === "brush" ? (typeId ?? state.brushTypeId ?? (config.types[0] || {}).id ?? null) : null;
  document.querySelectorAll("[data-mode]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.mode === state.mode)));
  document.querySelectorAll(".palette .type-chip").forEach((b) =>
    b.setAttribute("aria-pressed", String(state.mode === "brush" && Number(b.dataset.typeId) === state.brushTypeId)));
  if (state.mode === "brush" && state.brushTypeId !== null) {
    show(`Brush: every selection becomes ${typeName(state.brushTypeId)}. Esc leaves brush mode.`, "");
  }
}

function wireModes() {
  document.querySelectorAll("[data-mode]").forEach((button) =>
    button.addEventListener("click", () => setMode(button.dataset.mode)));
  document.querySelectorAll(".palette .type-chip").forEach((button) => {
    button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the text selection
    button.addEventListener("click", () => {
      const typeId = Number(button.dataset.typeId);
      const range = selectedRange();
      if (range) tag(typeId, range); else setMode("brush", typeId);
    });
  });
}

// --- Mouse and touch ----------------------------------------------------------------------------------------------

function wirePointer() {
  container.addEventListener("mouseup", () => {
    // Wait a tick: the selection settles after mouseup.
    setTimeout(() => {
      const range = selectedRange();
      if (range) {
        syncCursor(range);
        if (!config.canAnnotate) return;
        if (state.mode === "brush" && state.brushTypeId !== null) tag(state.brushTypeId, range);
        else openTypeMenu(range);
      }
    }, 0);
  });

  // A touch selection (long press, then dragging its handles) ends with no mouseup: the type menu opens once the
  // selection has stayed still for a moment. Brush mode does not tag on touch, since every handle drag would.
  let lastPointer = "mouse";
  let touchSettle = 0;
  container.addEventListener("pointerdown", (event) => { lastPointer = event.pointerType; });
  document.addEventListener("selectionchange", () => {
    if (lastPointer !== "touch" || !config.canAnnotate) return;
    window.clearTimeout(touchSettle);
    touchSettle = window.setTimeout(() => {
      const range = selectedRange();
      if (!range) return;
      syncCursor(range);
      openTypeMenu(range);
    }, 350);
  });

  container.addEventListener("click", (event) => {
    if (selectedRange()) return; // a selection is being tagged, not a span clicked
    const proposed = event.target.closest("mark.suggestion");
    if (proposed) { openSuggestionMenu(proposed.dataset.suggestionIds.split(" ").map(Number), proposed); return; }
    const mark = event.target.closest("mark.span");
    if (!mark) { closeMenu(); return; }
    openSpanMenu(mark.dataset.ids.split(" ").map(Number), mark);
  });

  document.addEventListener("mousedown", (event) => {
    if (!menu.hidden && !menu.contains(event.target) && !container.contains(event.target)) closeMenu();
  });
}

// --- The menu's buttons -----------------------------------------------------------------------------------------

/** The menu's buttons; a mousedown inside it keeps the text selection. */
function wireMenu() {
  menu.addEventListener("mousedown", (event) => event.preventDefault());
  menu.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    const proposed = target.closest(".menu-suggestion");
    if (proposed) {
      const suggestion = suggestions.get(Number(proposed.dataset.suggestionId));
      if (!suggestion) return;
      if (target.dataset.action === "accept") acceptSuggestion(suggestion, null, false);
      else if (target.dataset.action === "reject") rejectSuggestion(suggestion, false);
      else if (target.dataset.typeId) acceptSuggestion(suggestion, Number(target.dataset.typeId), false);
      return;
    }
    const block = target.closest(".menu-span");
    const span = block ? spans.get(Number(block.dataset.spanId)) : null;
    if (target.dataset.action === "delete" && span) remove(span);
    else if (target.dataset.typeId && span) retype(span, Number(target.dataset.typeId));
    else if (target.dataset.typeId && state.pending) tag(Number(target.dataset.typeId), state.pending);
  });
}

// --- Keyboard -------------------------------------------------------------------------------------------------------

export function toggleHelp() {
  const help = document.getElementById("help");
  if (help.open) { help.close(); return; }
  help.showModal();
  help.scrollTop = 0; // showModal focuses the Close button at the bottom, which scrolls a long dialog down
}

/** Tab walks the suggestions only while some are pending and the page itself (not a control) has the focus. */
function suggestionKeysActive(target) {
  if (!suggestions.size) return false;
  return !(target instanceof HTMLElement) || target === document.body || container.contains(target) || menu.contains(target);
}

function go(id) {
  const link = document.getElementById(id);
  if (link) window.location.href = link.href;
}

function onKeydown(event) {
  const target = event.target;
  if (target instanceof HTMLElement && target.closest("input, select, textarea, [contenteditable]")) return;
  const help = document.getElementById("help");
  if (help.open && event.key !== "?") return; // the dialog handles Esc itself
  const key = event.key;
  const ctrl = event.ctrlKey || event.metaKey;
  if (ctrl && !event.altKey && key.toLowerCase() === "z") { event.preventDefault(); if (config.canAnnotate) undo(); return; }
  if (ctrl && key === "Enter") { event.preventDefault(); markTaggedAndNext(); return; }
  if (ctrl || event.altKey) return;
  if (key === "?") { event.preventDefault(); toggleHelp(); return; }
  if (key === "ArrowRight" || key === "ArrowLeft") {
    event.preventDefault();
    closeMenu();
    moveCursor(key === "ArrowRight" ? 1 : -1, event.shiftKey);
    return;
  }
  if (key === "Escape") { closeMenu(); clearSelection(); setMode("menu"); show("", ""); return; }
  if (key === "[") { event.preventDefault(); go("previous-document"); return; }
  if (key === "]") { event.preventDefault(); go("next-document"); return; }
  if (key === "}") { event.preventDefault(); go("next-untagged"); return; }
  if (key === "Tab" && suggestionKeysActive(target)) { event.preventDefault(); stepSuggestion(event.shiftKey ? -1 : 1); return; }
  if (!config.canAnnotate) return;
  const focused = openSuggestion();
  if (key === "Enter" && event.shiftKey) { event.preventDefault(); acceptAll(null); return; }
  if ((key === "Delete" || key === "Backspace") && event.shiftKey) { event.preventDefault(); rejectAll(null); return; }
  if (focused) {
    if (key === "Enter") { event.preventDefault(); acceptSuggestion(focused, null, true); return; }
    if (key === "Delete" || key === "Backspace") { event.preventDefault(); rejectSuggestion(focused, true); return; }
    const as = key.length === 1 ? typeByHotkey.get(key.toLowerCase()) : undefined;
    if (as) { event.preventDefault(); acceptSuggestion(focused, as.id, true); return; }
  }
  if (key === "Enter") {
    const range = selectedRange();
    if (range) { event.preventDefault(); openTypeMenu(range); }
    return;
  }
  if (key === "Delete" || key === "Backspace") {
    event.preventDefault();
    const range = cursorRange();
    const span = openSpan() || (range ? spansUnder(range)[0] : null);
    if (span) remove(span); else show("There is no span under the cursor.", "error");
    return;
  }
  const type = key.length === 1 ? typeByHotkey.get(key.toLowerCase()) : undefined;
  if (type) {
    event.preventDefault();
    const span = openSpan();
    if (span) { retype(span, type.id); return; }
    const range = state.pending || selectedRange();
    if (range) tag(type.id, range); else setMode("brush", type.id);
  }
}

export function wireInput() {
  wireMenu();
  wireModes();
  wirePointer();
  document.addEventListener("keydown", onKeydown);
}
