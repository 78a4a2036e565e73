/* The one renderer of the document's text: tags and visible suggestions as <mark>s, drawn from the page's state on
 * load and after every change. Also the mapping between DOM positions and text offsets (UTF-16 units).
 *
 * A run covered by tags is one <mark class="span"> carrying the ids of its tags (a click finds them by these) and,
 * where tags end, their labels in data-end, which CSS shows as ::after content: generated content is not part of
 * the DOM's text, so offsets counted over the page's text nodes stay equal to the stored text's. */
import { container, spans, state, suggestions, text, types, typeName } from "./state.js";
import { lowerBound } from "./offsets.js";
import { updateSuggestionPanel } from "./panel.js";

let textNodes = [], nodeStarts = [], nodeIndex = new Map();
function indexTextNodes() {
  textNodes = []; nodeStarts = []; nodeIndex = new Map();
  const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
  let position = 0;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    nodeIndex.set(node, textNodes.length); textNodes.push(node); nodeStarts.push(position); position += node.length;
  }
}

function escapeHtml(piece) {
  // A literal CR would become LF when parsed, shifting every offset after it; &#13; stays a CR.
  return piece.replace(/[&<>"\r]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;" })[c]);
}

export function percent(confidence) { return `${Math.round(confidence * 100)}%`; }

/** Pending suggestions that overlap no tag (the tag wins), in text order; `busy` ones are being saved. */
export function visibleSuggestions() {
  const tags = [...spans.values()].sort((a, b) => a.start - b.start);
  const starts = tags.map((span) => span.start);
  const reach = []; // running maximum of the tags' ends: a region overlaps a tag iff reach before its end > its start
  let furthest = -1;
  for (const span of tags) { furthest = Math.max(furthest, span.end); reach.push(furthest); }
  const visible = [];
  for (const suggestion of suggestions.values()) {
    const before = lowerBound(starts, suggestion.end);
    if (before > 0 && reach[before - 1] > suggestion.start) continue;
    visible.push(suggestion);
  }
  return visible.sort((a, b) => a.start - b.start || a.end - b.end || a.id - b.id);
}

/** Draw the text from `spans` and the visible suggestions: one sweep over their boundaries, one innerHTML. */
export function render() {
  const shown = visibleSuggestions();
  const items = [
    ...[...spans.values()].map((span) => ({ kind: "span", item: span })),
    ...shown.map((suggestion) => ({ kind: "suggestion", item: suggestion })),
  ].sort((a, b) => a.item.start - b.item.start || a.item.end - b.item.end);
  const cuts = new Set([0, text.length]);
  for (const { item } of items) { cuts.add(item.start); cuts.add(item.end); }
  const bounds = [...cuts].sort((a, b) => a - b);
  const parts = [];
  let open = [], next = 0;
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = bounds[i], end = bounds[i + 1];
    while (next < items.length && items[next].item.start <= start) open.push(items[next++]);
    open = open.filter((entry) => entry.item.end > start);
    const html = escapeHtml(text.slice(start, end));
    const active = open.filter((entry) => entry.kind === "span").map((entry) => entry.item);
    if (!active.length) {
      const proposed = open.filter((entry) => entry.kind === "suggestion").map((entry) => entry.item);
      parts.push(proposed.length ? suggestionMark(proposed, end, html) : html);
      continue;
    }
    const inner = active.reduce((a, b) => (b.end - b.start < a.end - a.start ? b : a));
    const color = (types.get(inner.typeId) || {}).color || "#ddd";
    const names = active.map((span) => typeName(span.typeId));
    const ending = active.filter((span) => span.end === end).map((span) => typeName(span.typeId));
    parts.push(
      `<mark class="span" data-ids="${active.map((s) => s.id).join(" ")}" data-span-color="${escapeHtml(color)}"` +
      ` title="${escapeHtml(names.join(", "))}"${ending.length ? ` data-end="${escapeHtml(ending.join(" "))}"` : ""}>${html}</mark>`,
    );
  }
  container.innerHTML = parts.join("");
  indexTextNodes();
  const count = document.getElementById("span-count");
  if (count) count.textContent = String(spans.size);
  if (state.focusedSuggestion !== null) markFocused(state.focusedSuggestion);
  updateSuggestionPanel(shown);
}

function suggestionMark(proposed, end, html) {
  const inner = proposed.reduce((a, b) => (b.end - b.start < a.end - a.start ? b : a));
  const color = (types.get(inner.typeId) || {}).color || "#ddd";
  const title = proposed.map((s) => `Suggested ${typeName(s.typeId)}, ${percent(s.confidence)} confident`).join("; ");
  const ending = proposed.filter((s) => s.end === end).map((s) => `${typeName(s.typeId)} ${percent(s.confidence)}`);
  return `<mark class="suggestion" data-suggestion-ids="${proposed.map((s) => s.id).join(" ")}"` +
    ` data-span-color="${escapeHtml(color)}" title="${escapeHtml(title)}: click to accept or reject"` +
    `${ending.length ? ` data-end="${escapeHtml(ending.join(" "))}"` : ""}>${html}</mark>`;
}

export function suggestionMarks(id) {
  return container.querySelectorAll(`mark.suggestion[data-suggestion-ids~="${id}"]`);
}

export function markFocused(id) {
  container.querySelectorAll("mark.suggestion.focused").forEach((mark) => mark.classList.remove("focused"));
  if (id !== null) suggestionMarks(id).forEach((mark) => mark.classList.add("focused"));
}

// --- DOM positions <-> UTF-16 offsets ---------------------------------------------------------------------------

function offsetOf(node, offset) {
  const index = nodeIndex.get(node);
  if (index !== undefined) return nodeStarts[index] + offset;
  const range = document.createRange(); // an element boundary: count the text before it
  range.setStart(container, 0);
  range.setEnd(node, offset);
  return range.toString().length;
}

function positionOf(offset) {
  let index = lowerBound(nodeStarts, offset + 1) - 1;
  if (index < 0) index = 0;
  const node = textNodes[index];
  if (!node) return [container, 0];
  return [node, Math.min(offset - nodeStarts[index], node.length)];
}

/** The current selection inside the text, as UTF-16 offsets, or null. */
export function selectedRange() {
  const selection = window.getSelection();
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) return null;
  const start = offsetOf(range.startContainer, range.startOffset);
  const end = offsetOf(range.endContainer, range.endOffset);
  return start < end ? { start, end } : null;
}

export function select(start, end) {
  const [startNode, startOffset] = positionOf(start);
  const [endNode, endOffset] = positionOf(end);
  const selection = window.getSelection();
  selection.setBaseAndExtent(startNode, startOffset, endNode, endOffset);
  const rect = selection.getRangeAt(0).getBoundingClientRect();
  if (rect.top < 60 || rect.bottom > window.innerHeight - 20) {
    window.scrollBy({ top: rect.top - window.innerHeight / 3 });
  }
}

export function clearSelection() { window.getSelection().removeAllRanges(); }
