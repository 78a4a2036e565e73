/* Tagging: each action is one saved request and records its inverse, so that Ctrl+Z takes back the last action,
 * whatever it was (suggestions.js adds accepting and rejecting suggestions). Marking the document tagged opens the
 * next one: its undo step travels there in sessionStorage. */
import { config, offsets, spans, state, text, typeName } from "./state.js";
import { enqueue, request, show } from "./server.js";
import { clearSelection, render } from "./render.js";
import { selectionBounds } from "./tokens.js";
import { moveCursorTo } from "./cursor.js";
import { closeMenu } from "./menus.js";
import { pushUndo, restoreSuggestions, setStatus, spanFromServer } from "./changes.js";

function payload(typeId, start, end) {
  return { entity_type: typeId, start: offsets.toCodePoint(start), end: offsets.toCodePoint(end) };
}

async function createSpan(typeId, start, end, entry) {
  const saved = await request("POST", config.urls.spans, payload(typeId, start, end));
  const span = entry ? entry.span : {};
  Object.assign(span, spanFromServer({ ...saved, entity_type: typeId }));
  spans.set(span.id, span);
  render();
  return { span, snapped: Boolean(saved.snapped) };
}

function spanUrl(span) { return `${config.urls.spans}${span.id}/`; }

async function deleteSpan(span) {
  try {
    await request("DELETE", spanUrl(span));
  } catch (error) {
    // Removed by someone else meanwhile: what this page asked for is already so, so its mark goes too (the server's
    // message still says what happened, and there is nothing of this page's to undo).
    if (error.status === 404 || error.status === 409) forget(span);
    throw error;
  }
  forget(span);
}

function forget(span) {
  spans.delete(span.id);
  render();
}

async function changeType(span, typeId) {
  // The type this page shows: if another annotator changed it meanwhile, the server refuses (409) and says so,
  // rather than this change silently replacing theirs.
  await request("PATCH", spanUrl(span), { entity_type: typeId, expected_entity_type: span.typeId });
  span.typeId = typeId;
  render();
}

export function tag(typeId, range) {
  if (!config.canAnnotate || !range) return;
  const bounds = selectionBounds(range.start, range.end);
  closeMenu();
  clearSelection();
  if (!bounds) { show("The selection holds only whitespace: nothing to tag.", "error"); return; }
  const [start, end] = bounds;
  // Said when the stored bounds are not what was selected: widened to tokens here, or by the server.
  const [asked, askedEnd] = selectionBounds(range.start, range.end, false);
  const widened = start < asked || end > askedEnd;
  enqueue(async () => {
    const { span, snapped } = await createSpan(typeId, start, end);
    pushUndo({ kind: "create", span });
    const note = snapped || widened ? ` Snapped to whole tokens (you selected “${text.slice(asked, askedEnd)}”).` : "";
    show(`Tagged “${text.slice(span.start, span.end)}” as ${typeName(typeId)}.${note}`, "ok");
    moveCursorTo(span.end);
  });
}

export function remove(span) {
  closeMenu();
  enqueue(async () => {
    await deleteSpan(span);
    pushUndo({ kind: "delete", span });
    show(`Removed ${typeName(span.typeId)} “${text.slice(span.start, span.end)}”.`, "ok");
  });
}

export function retype(span, typeId) {
  closeMenu();
  if (span.typeId === typeId) return;
  const from = span.typeId;
  enqueue(async () => {
    await changeType(span, typeId);
    pushUndo({ kind: "change", span, from });
    show(`Changed “${text.slice(span.start, span.end)}” to ${typeName(typeId)}.`, "ok");
  });
}

async function removeSpans(list) {
  for (const span of list) {
    if (!spans.has(span.id)) continue;
    await request("DELETE", spanUrl(span));
    spans.delete(span.id);
  }
}

function plural(count, word) { return `${count} ${word}${count === 1 ? "" : "s"}`; }

export function undo() {
  enqueue(async () => {
    const entry = state.undoStack.pop();
    const button = document.getElementById("undo-button");
    if (button) button.disabled = state.undoStack.length === 0;
    if (!entry) { show("Nothing to undo.", ""); return; }
    closeMenu();
    let message;
    if (entry.kind === "create") { await deleteSpan(entry.span); message = "tag"; }
    else if (entry.kind === "delete") { await createSpan(entry.span.typeId, entry.span.start, entry.span.end, entry); message = "removal"; } // same object, new id
    else if (entry.kind === "change") { await changeType(entry.span, entry.from); message = "type change"; }
    else if (entry.kind === "accept" || entry.kind === "acceptAll") {
      // The tags go first: a restored suggestion under a tag would stay hidden.
      await removeSpans(entry.spans);
      await restoreSuggestions(entry.ids);
      render();
      message = entry.kind === "accept" ? "accepted suggestion (it is a suggestion again)"
        : `${plural(entry.spans.length, "accepted suggestion")} (suggestions again)`;
    } else if (entry.kind === "reject" || entry.kind === "rejectAll") {
      const restored = await restoreSuggestions(entry.ids);
      render();
      message = entry.kind === "reject" ? "rejected suggestion (it is back)" : `${plural(restored, "rejected suggestion")} (back)`;
    } else if (entry.kind === "status") {
      await request("PATCH", entry.url, { status: entry.from });
      if (entry.page !== window.location.pathname) { window.location.href = entry.page; return; }
      setStatus(entry.from);
      message = "marked as tagged";
    }
    show(`Undone: ${message}.`, "ok");
  });
}

// Marking a document tagged opens the next one: the undo step travels in sessionStorage to that page.
const MARKED_KEY = "nerlab.annotate.marked";

export function markTaggedAndNext() {
  if (!config.canAnnotate) return;
  enqueue(async () => {
    // In an agreement layer "tagged" means "my copy is done": the assignment is submitted, not the document.
    if (config.urls.submit) { await request("POST", config.urls.submit, {}); setStatus("submitted"); }
    else {
      const from = state.status;
      await request("PATCH", config.urls.document, { status: "tagged" });
      setStatus("tagged");
      if (from !== "tagged") {
        const name = document.querySelector(".annotate-head h1").textContent;
        const step = { url: config.urls.document, page: window.location.pathname, from, name };
        try { window.sessionStorage.setItem(MARKED_KEY, JSON.stringify(step)); } catch (e) { /* undo stays on this page only */ }
      }
    }
    window.location.href = config.urls.nextUntagged;
  });
}

/** On arriving from "mark as tagged & next": that step can be undone here. */
export function takeMarkedStep() {
  let step = null;
  try {
    step = JSON.parse(window.sessionStorage.getItem(MARKED_KEY) || "null");
    window.sessionStorage.removeItem(MARKED_KEY);
  } catch (e) { return; }
  if (!step || !step.url || !step.page || !config.canAnnotate) return;
  pushUndo({ kind: "status", ...step });
  show(`Marked “${step.name}” as tagged. Ctrl+Z (or Undo) takes it back.`, "ok");
}
