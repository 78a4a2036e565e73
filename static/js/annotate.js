/* The annotate page: select text and tag it, keyboard first; every action is one saved request.
 *
 * The server renders the text with its spans (one <mark> per run of spans) and sends, as JSON, the spans, the
 * entity types and the document's token bounds, all in Unicode code points. Here everything works in the
 * browser's UTF-16 units; `makeOffsetMap` is the one place that converts between the two.
 * Saving goes through the REST API (labeling/api.py) with the session cookie and the CSRF header; the server
 * applies the rules (token snapping, overlap policy) and its message is shown when it refuses.
 *
 * Model suggestions (pre-annotation) are drawn as dotted marks with their confidence; they are not tags until
 * accepted (which creates the tag on the server through the same span rules). One that overlaps a tag is hidden:
 * the annotator's tag wins.
 *
 * Undo (Ctrl+Z) takes back the last action, whatever it was: a tag made, removed or retyped, a suggestion
 * accepted or rejected (one, one type or all: the server keeps them, and restores them on request), or the
 * document marked as tagged (remembered across the jump to the next document, in sessionStorage).
 */
(function () {
  "use strict";

  // --- Offsets: code points (server) <-> UTF-16 units (browser). The only conversion on this page. ----------------

  /** Conversions over one text. Only astral characters (emoji, rare CJK) differ: one code point, two UTF-16 units. */
  function makeOffsetMap(text) {
    const astral = []; // UTF-16 index of each astral character's high surrogate, ascending
    for (let i = 0; i < text.length - 1; i++) {
      const unit = text.charCodeAt(i);
      if (unit >= 0xd800 && unit <= 0xdbff) {
        const next = text.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) { astral.push(i); i++; }
      }
    }
    // The k-th astral character sits at code point astral[k] - k. Both lookups are binary searches: O(log n).
    function countBefore(limit, key) {
      let low = 0, high = astral.length;
      while (low < high) { const mid = (low + high) >> 1; if (key(mid) < limit) low = mid + 1; else high = mid; }
      return low;
    }
    return {
      /** Code point offset -> UTF-16 offset. */
      toUtf16(codePoint) { return codePoint + countBefore(codePoint, (k) => astral[k] - k); },
      /** UTF-16 offset -> code point offset; an offset inside a surrogate pair moves past the character. */
      toCodePoint(utf16) {
        const before = countBefore(utf16, (k) => astral[k]);
        if (before > 0 && astral[before - 1] + 1 === utf16) return utf16 + 1 - before; // inside a pair
        return utf16 - before;
      },
    };
  }

  const api = { makeOffsetMap };
  window.nerlabAnnotate = api; // the browser tests call makeOffsetMap directly

  const configElement = document.getElementById("annotate-config");
  const container = document.getElementById("doc-text");
  if (!configElement || !container) return;
  const config = JSON.parse(configElement.textContent);
  const text = container.textContent; // equals the stored text: CRs arrive as &#13;, labels are ::after content
  const offsets = makeOffsetMap(text);
  const csrfToken = (() => {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { return ""; }
  })();

  // --- State ------------------------------------------------------------------------------------------------------

  const types = new Map(config.types.map((t) => [t.id, t]));
  const typeByHotkey = new Map(config.types.filter((t) => t.hotkey).map((t) => [t.hotkey, t]));
  const spans = new Map(); // id -> {id, typeId, start, end} in UTF-16 units
  for (const [id, typeId, start, end] of config.spans) {
    spans.set(id, { id, typeId, start: offsets.toUtf16(start), end: offsets.toUtf16(end) });
  }
  // Tokens as two sorted arrays of UTF-16 offsets, decoded from gap/length pairs.
  const tokenCount = config.tokens.length / 2;
  const tokenStarts = new Int32Array(tokenCount), tokenEnds = new Int32Array(tokenCount);
  {
    let position = 0;
    for (let i = 0; i < tokenCount; i++) {
      const start = position + config.tokens[2 * i], end = start + config.tokens[2 * i + 1];
      tokenStarts[i] = offsets.toUtf16(start); tokenEnds[i] = offsets.toUtf16(end); position = end;
    }
  }
  const suggestions = new Map(); // id -> {id, typeId, start, end, confidence} in UTF-16 units
  for (const [id, typeId, start, end, confidence] of config.suggestions || []) {
    suggestions.set(id, { id, typeId, start: offsets.toUtf16(start), end: offsets.toUtf16(end), confidence });
  }
  let suggestionModels = []; // names of the models the pending suggestions come from (fetched on load)
  let focusedSuggestion = null; // the suggestion whose menu is open: Enter accepts it, Delete rejects it
  let mode = "menu"; // or "brush"
  let brushTypeId = null;
  let anchorToken = -1, caretToken = -1; // the keyboard cursor: token indices
  let pending = null; // {start, end}: the selection a menu was opened for
  const undoStack = [];
  let queue = Promise.resolve(); // requests run one after another, in the order the user acted
  let status = config.status;

  // --- Small helpers ----------------------------------------------------------------------------------------------

  /** Index of the first element of a sorted array that is >= value. */
  function lowerBound(array, value) {
    let low = 0, high = array.length;
    while (low < high) { const mid = (low + high) >> 1; if (array[mid] < value) low = mid + 1; else high = mid; }
    return low;
  }

  /** Widen [start, end) to the tokens it touches (the same rule as ner.spans.snap_to_tokens, which the server applies). */
  function snapToTokens(start, end) {
    if (!tokenCount) return [start, end];
    const first = lowerBound(tokenEnds, start + 1);
    if (first === tokenCount || tokenStarts[first] >= end) return [start, end];
    const last = lowerBound(tokenStarts, end) - 1;
    return [tokenStarts[first], tokenEnds[last]];
  }

  function trimWhitespace(start, end) {
    while (start < end && /\s/.test(text[start])) start++;
    while (end > start && /\s/.test(text[end - 1])) end--;
    return [start, end];
  }

  function normalise(start, end) {
    [start, end] = trimWhitespace(start, end);
    if (config.labelMode === "token") [start, end] = snapToTokens(start, end);
    return [start, end];
  }

  function escapeHtml(piece) {
    return piece.replace(/[&<>"\r]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;" })[c]);
  }

  function show(message, kind) {
    const box = document.getElementById("annotate-message");
    box.textContent = message;
    box.className = "annotate-message" + (kind ? " " + kind : "");
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    box.hidden = !message;
  }

  function errorText(body, fallback) {
    if (!body || typeof body !== "object") return fallback;
    const lines = [];
    for (const value of Object.values(body)) {
      if (Array.isArray(value)) lines.push(...value.map(String)); else lines.push(String(value));
    }
    return lines.join(" ") || fallback;
  }

  async function request(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    if (response.status !== 204) { try { data = await response.json(); } catch (e) { data = null; } }
    if (!response.ok) {
      const fallback = response.status === 403 ? "Your role does not allow this." : `The server refused (HTTP ${response.status}).`;
      const error = new Error(errorText(data, fallback));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  /** Run actions one at a time; a failed one shows the server's message and leaves the page as saved. */
  function enqueue(action) {
    queue = queue.then(action).catch((error) => show(error.message || String(error), "error"));
    return queue;
  }

  // --- Rendering ----------------------------------------------------------------------------------------------------

  let textNodes = [], nodeStarts = [], nodeIndex = new Map();
  function indexTextNodes() {
    textNodes = []; nodeStarts = []; nodeIndex = new Map();
    const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
    let position = 0;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      nodeIndex.set(node, textNodes.length); textNodes.push(node); nodeStarts.push(position); position += node.length;
    }
  }

  function percent(confidence) { return `${Math.round(confidence * 100)}%`; }

  /** Pending suggestions that overlap no tag (the tag wins), in text order; `busy` ones are being saved. */
  function visibleSuggestions() {
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

  /** Re-render the text from `spans` and the visible suggestions: one sweep over their boundaries, one innerHTML. */
  function render() {
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
      const names = active.map((span) => (types.get(span.typeId) || {}).name || "?");
      const ending = active.filter((span) => span.end === end).map((span) => (types.get(span.typeId) || {}).name || "?");
      parts.push(
        `<mark class="span" data-ids="${active.map((s) => s.id).join(" ")}" data-span-color="${escapeHtml(color)}"` +
        ` title="${escapeHtml(names.join(", "))}"${ending.length ? ` data-end="${escapeHtml(ending.join(" "))}"` : ""}>${html}</mark>`,
      );
    }
    container.innerHTML = parts.join("");
    indexTextNodes();
    const count = document.getElementById("span-count");
    if (count) count.textContent = String(spans.size);
    if (focusedSuggestion !== null) markFocused(focusedSuggestion);
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

  function suggestionMarks(id) {
    return container.querySelectorAll(`mark.suggestion[data-suggestion-ids~="${id}"]`);
  }

  function markFocused(id) {
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
  function selectedRange() {
    const selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
    const range = selection.getRangeAt(0);
    if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) return null;
    const start = offsetOf(range.startContainer, range.startOffset);
    const end = offsetOf(range.endContainer, range.endOffset);
    return start < end ? { start, end } : null;
  }

  function select(start, end) {
    const [startNode, startOffset] = positionOf(start);
    const [endNode, endOffset] = positionOf(end);
    const selection = window.getSelection();
    selection.setBaseAndExtent(startNode, startOffset, endNode, endOffset);
    const rect = selection.getRangeAt(0).getBoundingClientRect();
    if (rect.top < 60 || rect.bottom > window.innerHeight - 20) {
      window.scrollBy({ top: rect.top - window.innerHeight / 3 });
    }
  }

  function clearSelection() { window.getSelection().removeAllRanges(); }

  // --- Saving: each action is one request; each records its inverse for undo ---------------------------------------

  function payload(typeId, start, end) {
    return { entity_type: typeId, start: offsets.toCodePoint(start), end: offsets.toCodePoint(end) };
  }

  const statusLabels = { untagged: "Untagged", in_progress: "In progress", tagged: "Tagged", open: "Open", submitted: "Submitted" };

  /** The header badge and the side panel both say the status: they change together. */
  function setStatus(value) {
    status = value;
    const badge = document.getElementById("status-badge");
    badge.className = "badge " + value;
    badge.textContent = statusLabels[value] || value;
    const panel = document.getElementById("status-text");
    if (panel) panel.textContent = statusLabels[value] || value; // "by whom, when" is stale once it changes
  }

  function afterSpansChanged() {
    // The server moves an untagged document to "in progress" on its first span, and back when all are removed.
    if (status === "untagged" && spans.size) setStatus("in_progress");
    else if (status === "in_progress" && !spans.size) setStatus("untagged");
    render();
  }

  function typeName(typeId) { return (types.get(typeId) || {}).name || "?"; }

  async function createSpan(typeId, start, end, entry) {
    const saved = await request("POST", config.urls.spans, payload(typeId, start, end));
    const span = entry ? entry.span : {};
    Object.assign(span, { id: saved.id, typeId, start: offsets.toUtf16(saved.start), end: offsets.toUtf16(saved.end) });
    spans.set(span.id, span);
    afterSpansChanged();
    return { span, snapped: Boolean(saved.snapped) };
  }

  function spanUrl(span) { return `${config.urls.spans}${span.id}/`; }

  async function deleteSpan(span) {
    await request("DELETE", spanUrl(span));
    spans.delete(span.id);
    afterSpansChanged();
  }

  async function changeType(span, typeId) {
    await request("PATCH", spanUrl(span), { entity_type: typeId });
    span.typeId = typeId;
    render();
  }

  function pushUndo(entry) {
    undoStack.push(entry);
    const button = document.getElementById("undo-button");
    if (button) button.disabled = false;
  }

  function tag(typeId, range) {
    if (!config.canAnnotate || !range) return;
    const [start, end] = normalise(range.start, range.end);
    closeMenu();
    clearSelection();
    if (start >= end) { show("The selection holds only whitespace: nothing to tag.", "error"); return; }
    // Said when the stored bounds are not what was selected: the page widened them to tokens, or the server did.
    const [asked, askedEnd] = trimWhitespace(range.start, range.end);
    const widened = start < asked || end > askedEnd;
    enqueue(async () => {
      const { span, snapped } = await createSpan(typeId, start, end);
      pushUndo({ kind: "create", span });
      const note = snapped || widened ? ` Snapped to whole tokens (you selected “${text.slice(range.start, range.end).trim()}”).` : "";
      show(`Tagged “${text.slice(span.start, span.end)}” as ${typeName(typeId)}.${note}`, "ok");
      moveCursorTo(span.end);
    });
  }

  function remove(span) {
    closeMenu();
    enqueue(async () => {
      await deleteSpan(span);
      pushUndo({ kind: "delete", span });
      show(`Removed ${typeName(span.typeId)} “${text.slice(span.start, span.end)}”.`, "ok");
    });
  }

  function retype(span, typeId) {
    closeMenu();
    if (span.typeId === typeId) return;
    const from = span.typeId;
    enqueue(async () => {
      await changeType(span, typeId);
      pushUndo({ kind: "change", span, from });
      show(`Changed “${text.slice(span.start, span.end)}” to ${typeName(typeId)}.`, "ok");
    });
  }

  /** Bring accepted or rejected suggestions back (the server kept them); the ones it returns are pending again. */
  async function restoreSuggestions(ids) {
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

  async function removeSpans(list) {
    for (const span of list) {
      if (!spans.has(span.id)) continue;
      await request("DELETE", spanUrl(span));
      spans.delete(span.id);
    }
  }

  function plural(count, word) { return `${count} ${word}${count === 1 ? "" : "s"}`; }

  function undo() {
    enqueue(async () => {
      const entry = undoStack.pop();
      const button = document.getElementById("undo-button");
      if (button) button.disabled = undoStack.length === 0;
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
        afterSpansChanged();
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

  // --- Suggestions: accept (creates a tag through the span rules) or reject, one, one type, or all ------------------

  function suggestionUrl(suggestion, action) { return `${config.urls.suggestions}${suggestion.id}/${action}/`; }

  function spanFromServer(saved) {
    return { id: saved.id, typeId: saved.entity_type, start: offsets.toUtf16(saved.start), end: offsets.toUtf16(saved.end) };
  }

  /** After a keyboard accept or reject, open the next pending suggestion so a review is Tab-free: Enter, Enter, Del… */
  function advanceFrom(position) {
    const list = visibleSuggestions().filter((s) => !s.busy);
    if (!list.length) { show("No suggestions left on this document.", "ok"); return; }
    focusSuggestion(list.find((s) => s.start >= position) || list[0]);
  }

  function acceptSuggestion(suggestion, typeId, keyboard) {
    if (!config.canAnnotate || suggestion.busy) return;
    suggestion.busy = true;
    closeMenu();
    enqueue(async () => {
      try {
        const body = typeId && typeId !== suggestion.typeId ? { entity_type: typeId } : {};
        const span = spanFromServer(await request("POST", suggestionUrl(suggestion, "accept"), body));
        suggestions.delete(suggestion.id);
        spans.set(span.id, span);
        afterSpansChanged();
        pushUndo({ kind: "accept", spans: [span], ids: [suggestion.id] });
        show(`Accepted “${text.slice(span.start, span.end)}” as ${typeName(span.typeId)}.`, "ok");
        moveCursorTo(span.end);
        if (keyboard) advanceFrom(span.end);
      } finally {
        suggestion.busy = false;
      }
    });
  }

  function rejectSuggestion(suggestion, keyboard) {
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
  function acceptAll(typeId) {
    if (!config.canAnnotate) return;
    const count = visibleSuggestions().filter((s) => inScope(s, typeId)).length;
    if (!count) { show("There are no suggestions to accept.", ""); return; }
    closeMenu();
    enqueue(async () => {
      const result = await request("POST", `${config.urls.suggestions}accept-all/`, typeId === null ? {} : { entity_type: typeId });
      for (const id of result.suggestions) suggestions.delete(id);
      const created = result.accepted.map(spanFromServer);
      for (const span of created) spans.set(span.id, span);
      afterSpansChanged();
      // One step for undo: the tags go and every suggestion it touched (accepted or skipped) comes back.
      if (result.suggestions.length) pushUndo({ kind: "acceptAll", spans: created, ids: result.suggestions });
      const what = typeId === null ? "" : ` ${typeName(typeId)}`;
      let message = `Accepted ${created.length}${what} suggestion${created.length === 1 ? "" : "s"}.`;
      if (result.skipped) message += ` Skipped ${result.skipped} that collided with a tag.`;
      show(message, "ok");
    });
  }

  function rejectAll(typeId) {
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

  function updateSuggestionPanel(shown) {
    const panel = document.getElementById("suggestion-panel");
    if (!panel) return;
    const summary = document.getElementById("suggestion-summary");
    const from = suggestionModels.length ? ` from ${suggestionModels.join(", ")}` : "";
    summary.textContent = shown.length
      ? `${shown.length} pending${from}.`
      : "No suggestions pending.";
    const perType = new Map();
    for (const suggestion of shown) perType.set(suggestion.typeId, (perType.get(suggestion.typeId) || 0) + 1);
    const list = document.getElementById("suggestion-types");
    list.replaceChildren();
    for (const type of types.values()) {
      const count = perType.get(type.id);
      if (!count) continue;
      const row = document.createElement("li");
      row.dataset.typeId = String(type.id);
      const name = document.createElement("span");
      name.className = "suggestion-type";
      name.style.setProperty("--span-color", type.color);
      name.textContent = `${type.name} `;
      const number = document.createElement("span");
      number.className = "count";
      number.textContent = String(count);
      name.append(number);
      row.append(name);
      if (config.canAnnotate) {
        for (const [action, label] of [["accept", "Accept all"], ["reject", "Reject all"]]) {
          const button = document.createElement("button");
          button.type = "button";
          button.className = action === "reject" ? "danger-outline small" : "small";
          button.dataset[`${action}Type`] = String(type.id);
          button.textContent = label;
          button.title = `${label} ${type.name} suggestions`;
          row.append(" ", button);
        }
      }
      list.append(row);
    }
    panel.querySelectorAll(".suggestion-actions button").forEach((button) => { button.disabled = !shown.length; });
  }

  // --- Menus --------------------------------------------------------------------------------------------------------

  const menu = document.getElementById("span-menu");

  function chip(type, attributes) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "type-chip";
    button.style.setProperty("--span-color", type.color);
    button.dataset.typeId = String(type.id);
    for (const [key, value] of Object.entries(attributes || {})) button.setAttribute(key, value);
    if (type.hotkey) { const kbd = document.createElement("kbd"); kbd.textContent = type.hotkey; button.append(kbd, " "); }
    button.append(type.name);
    return button;
  }

  // role="menu" may own only menu items and groups: a visible title becomes the accessible name of its menu or group
  // and is hidden from the accessibility tree, where it would be a stray paragraph.
  function nameMenuPart(part, title) {
    part.setAttribute("aria-label", title.textContent);
    title.setAttribute("aria-hidden", "true");
  }

  function placeMenu(rect) {
    menu.hidden = false;
    const top = window.scrollY + rect.bottom + 6;
    const left = Math.max(8, Math.min(window.scrollX + rect.left, window.scrollX + document.documentElement.clientWidth - menu.offsetWidth - 8));
    menu.style.top = `${top}px`;
    menu.style.left = `${left}px`;
  }

  function openTypeMenu(range) {
    const [start, end] = normalise(range.start, range.end);
    if (start >= end) return;
    pending = { start: range.start, end: range.end }; // as selected: tag() normalises, and says when that widened it
    unfocusSuggestion();
    menu.replaceChildren();
    menu.dataset.kind = "new";
    const title = document.createElement("p");
    title.className = "menu-title";
    title.textContent = `Tag “${text.slice(start, end).slice(0, 80)}” as:`;
    const list = document.createElement("div");
    list.className = "menu-types";
    list.setAttribute("role", "group");
    nameMenuPart(list, title);
    for (const type of types.values()) list.append(chip(type, { role: "menuitem" }));
    menu.append(title, list);
    const selection = window.getSelection();
    placeMenu(selection.rangeCount ? selection.getRangeAt(0).getBoundingClientRect() : container.getBoundingClientRect());
  }

  function openSpanMenu(ids, anchor) {
    const found = ids.map((id) => spans.get(id)).filter(Boolean);
    if (!found.length) return;
    pending = null;
    unfocusSuggestion();
    menu.replaceChildren();
    menu.dataset.kind = "span";
    for (const span of found) {
      const block = document.createElement("div");
      block.className = "menu-span";
      block.dataset.spanId = String(span.id);
      const title = document.createElement("p");
      title.className = "menu-title";
      title.textContent = `${typeName(span.typeId)}: “${text.slice(span.start, span.end).slice(0, 80)}”`;
      block.setAttribute("role", "group");
      nameMenuPart(block, title);
      block.append(title);
      if (config.canAnnotate) {
        const list = document.createElement("div");
        list.className = "menu-types";
        for (const type of types.values()) list.append(chip(type, { role: "menuitem", "aria-current": String(type.id === span.typeId) }));
        const actions = document.createElement("div");
        actions.className = "menu-actions";
        const del = document.createElement("button");
        del.type = "button";
        del.className = "danger";
        del.dataset.action = "delete";
        del.setAttribute("role", "menuitem");
        del.textContent = "Delete";
        actions.append(del);
        block.append(list, actions);
      }
      menu.append(block);
    }
    placeMenu(anchor.getBoundingClientRect());
  }

  function openSuggestionMenu(ids, anchor) {
    const found = ids.map((id) => suggestions.get(id)).filter(Boolean);
    if (!found.length) return;
    pending = null;
    focusedSuggestion = found[0].id;
    markFocused(focusedSuggestion);
    menu.replaceChildren();
    menu.dataset.kind = "suggestion";
    for (const suggestion of found) {
      const block = document.createElement("div");
      block.className = "menu-suggestion";
      block.dataset.suggestionId = String(suggestion.id);
      const title = document.createElement("p");
      title.className = "menu-title";
      title.textContent = `Suggested ${typeName(suggestion.typeId)} (${percent(suggestion.confidence)} confident): ` +
        `“${text.slice(suggestion.start, suggestion.end).slice(0, 80)}”`;
      block.setAttribute("role", "group");
      nameMenuPart(block, title);
      block.append(title);
      if (config.canAnnotate) {
        const actions = document.createElement("div");
        actions.className = "menu-actions";
        for (const [action, label, key, style] of [["accept", "Accept", "Enter", "primary"], ["reject", "Reject", "Del", "danger-outline"]]) {
          const button = document.createElement("button");
          button.type = "button";
          button.className = style;
          button.dataset.action = action;
          button.setAttribute("role", "menuitem");
          const kbd = document.createElement("kbd");
          kbd.textContent = key;
          button.append(`${label} `, kbd);
          actions.append(button);
        }
        const as = document.createElement("p");
        as.className = "menu-title";
        as.textContent = "or accept as:";
        as.setAttribute("aria-hidden", "true");
        const list = document.createElement("div");
        list.className = "menu-types";
        for (const type of types.values()) {
          if (type.id !== suggestion.typeId) list.append(chip(type, { role: "menuitem" }));
        }
        block.append(actions);
        if (list.childElementCount) block.append(as, list);
      }
      menu.append(block);
    }
    placeMenu(anchor.getBoundingClientRect());
  }

  function focusSuggestion(suggestion) {
    clearSelection();
    const mark = suggestionMarks(suggestion.id)[0];
    if (!mark) return;
    const rect = mark.getBoundingClientRect();
    if (rect.top < 60 || rect.bottom > window.innerHeight - 20) window.scrollBy({ top: rect.top - window.innerHeight / 3 });
    openSuggestionMenu([suggestion.id], mark);
  }

  /** Tab / Shift+Tab: the next / previous pending suggestion after the open one (or the cursor), wrapping around. */
  function stepSuggestion(step) {
    const list = visibleSuggestions().filter((s) => !s.busy);
    if (!list.length) { show("No suggestions pending on this document.", ""); return; }
    const current = list.findIndex((s) => s.id === focusedSuggestion);
    let index;
    if (current >= 0) index = (current + step + list.length) % list.length;
    else {
      const position = caretToken >= 0 && tokenCount ? tokenStarts[caretToken] : -1;
      index = step > 0 ? list.findIndex((s) => s.start > position) : list.findLastIndex((s) => s.start < position);
      if (index < 0) index = step > 0 ? 0 : list.length - 1;
    }
    focusSuggestion(list[index]);
  }

  function unfocusSuggestion() {
    if (focusedSuggestion !== null) { focusedSuggestion = null; markFocused(null); }
  }

  function closeMenu() {
    menu.hidden = true;
    pending = null;
    unfocusSuggestion();
  }

  menu.addEventListener("mousedown", (event) => event.preventDefault()); // keep the text selection
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
    else if (target.dataset.typeId && pending) tag(Number(target.dataset.typeId), pending);
  });

  // --- Modes and palette --------------------------------------------------------------------------------------------

  function setMode(value, typeId) {
    mode = value;
    brushTypeId = value === "brush" ? (typeId ?? brushTypeId ?? (config.types[0] || {}).id ?? null) : null;
    document.querySelectorAll("[data-mode]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.mode === mode)));
    document.querySelectorAll(".palette .type-chip").forEach((b) =>
      b.setAttribute("aria-pressed", String(mode === "brush" && Number(b.dataset.typeId) === brushTypeId)));
    if (mode === "brush" && brushTypeId !== null) show(`Brush: every selection becomes ${typeName(brushTypeId)}. Esc leaves brush mode.`, "");
  }

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

  // --- Mouse ----------------------------------------------------------------------------------------------------------

  container.addEventListener("mouseup", () => {
    // Wait a tick: the selection settles after mouseup.
    setTimeout(() => {
      const range = selectedRange();
      if (range) {
        syncCursor(range);
        if (!config.canAnnotate) return;
        if (mode === "brush" && brushTypeId !== null) tag(brushTypeId, range);
        else openTypeMenu(range);
      }
    }, 0);
  });

  // --- Touch -----------------------------------------------------------------------------------------------------------

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

  // --- Keyboard -------------------------------------------------------------------------------------------------------

  function tokenAt(offset) {
    // The token containing offset, else the next one (else the last).
    const index = lowerBound(tokenEnds, offset + 1);
    return Math.min(index, tokenCount - 1);
  }

  function syncCursor(range) {
    if (!tokenCount) return;
    anchorToken = tokenAt(range.start);
    caretToken = Math.max(anchorToken, lowerBound(tokenStarts, range.end) - 1);
  }

  function moveCursorTo(offset) {
    if (!tokenCount) return;
    anchorToken = caretToken = Math.max(0, lowerBound(tokenStarts, offset) - 1);
    clearSelection();
  }

  function showCursor() {
    const low = Math.min(anchorToken, caretToken), high = Math.max(anchorToken, caretToken);
    select(tokenStarts[low], tokenEnds[high]);
  }

  function moveCursor(step, extend) {
    if (!tokenCount) return;
    const current = selectedRange();
    if (caretToken < 0 || (!current && anchorToken < 0)) {
      caretToken = anchorToken = step > 0 ? 0 : tokenCount - 1;
    } else if (!current && !extend) {
      // After tagging, the cursor sits at the end of the new span: → moves to the following token.
      caretToken = anchorToken = Math.min(tokenCount - 1, Math.max(0, caretToken + step));
    } else {
      caretToken = Math.min(tokenCount - 1, Math.max(0, caretToken + step));
      if (!extend) anchorToken = caretToken;
    }
    showCursor();
  }

  function spansUnder(range) {
    const found = [];
    for (const span of spans.values()) if (span.start < range.end && range.start < span.end) found.push(span);
    return found.sort((a, b) => (a.end - a.start) - (b.end - b.start));
  }

  function cursorRange() {
    const range = selectedRange();
    if (range) return range;
    if (caretToken >= 0 && tokenCount) return { start: tokenStarts[caretToken], end: tokenEnds[caretToken] };
    return null;
  }

  function toggleHelp() {
    const help = document.getElementById("help");
    if (help.open) { help.close(); return; }
    help.showModal();
    help.scrollTop = 0; // showModal focuses the Close button at the bottom, which scrolls a long dialog down
  }

  // Marking a document tagged opens the next one: the undo step travels in sessionStorage to that page.
  const MARKED_KEY = "nerlab.annotate.marked";

  function markTaggedAndNext() {
    if (!config.canAnnotate) return;
    enqueue(async () => {
      // In an agreement layer "tagged" means "my copy is done": the assignment is submitted, not the document.
      if (config.urls.submit) { await request("POST", config.urls.submit, {}); setStatus("submitted"); }
      else {
        const from = status;
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

  function takeMarkedStep() {
    let step = null;
    try {
      step = JSON.parse(window.sessionStorage.getItem(MARKED_KEY) || "null");
      window.sessionStorage.removeItem(MARKED_KEY);
    } catch (e) { return; }
    if (!step || !step.url || !step.page || !config.canAnnotate) return;
    pushUndo({ kind: "status", ...step });
    show(`Marked “${step.name}” as tagged. Ctrl+Z (or Undo) takes it back.`, "ok");
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

  document.addEventListener("keydown", (event) => {
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
    const focused = focusedSuggestion !== null && !menu.hidden && menu.dataset.kind === "suggestion"
      ? suggestions.get(focusedSuggestion) : null;
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
      const open = !menu.hidden && menu.dataset.kind === "span" ? spans.get(Number(menu.querySelector(".menu-span").dataset.spanId)) : null;
      const range = cursorRange();
      const span = open || (range ? spansUnder(range)[0] : null);
      if (span) remove(span); else show("There is no span under the cursor.", "error");
      return;
    }
    const type = key.length === 1 ? typeByHotkey.get(key.toLowerCase()) : undefined;
    if (type) {
      event.preventDefault();
      const openSpan = !menu.hidden && menu.dataset.kind === "span" ? spans.get(Number(menu.querySelector(".menu-span").dataset.spanId)) : null;
      if (openSpan) { retype(openSpan, type.id); return; }
      const range = pending || selectedRange();
      if (range) tag(type.id, range); else setMode("brush", type.id);
    }
  });

  // --- The document's own settings: split and assignee (owners and editors) ----------------------------------------

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

  const undoButton = document.getElementById("undo-button");
  if (undoButton) undoButton.addEventListener("click", undo);
  const markButton = document.getElementById("mark-tagged");
  if (markButton) markButton.addEventListener("click", markTaggedAndNext);
  const helpButton = document.getElementById("help-button");
  if (helpButton) helpButton.addEventListener("click", toggleHelp);

  const suggestionPanel = document.getElementById("suggestion-panel");
  if (suggestionPanel) {
    suggestionPanel.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.id === "accept-all-suggestions") acceptAll(null);
      else if (button.id === "reject-all-suggestions") rejectAll(null);
      else if (button.dataset.acceptType) acceptAll(Number(button.dataset.acceptType));
      else if (button.dataset.rejectType) rejectAll(Number(button.dataset.rejectType));
    });
  }

  takeMarkedStep();
  // Opened from a model review's "Fix": the cursor starts on the first error, scrolled into view.
  function focusStart() {
    if (config.focusAt === null || config.focusAt === undefined || !tokenCount) return;
    const offset = offsets.toUtf16(config.focusAt);
    anchorToken = caretToken = tokenAt(offset);
    showCursor();
    show("Opened at the model's first error; its predictions are the dotted suggestions (Tab, Enter, Del).", "");
  }
  if (suggestions.size) {
    render(); // the server drew the tags only; suggestions are drawn here
    // Which models they come from is only for the side panel: a failed request leaves the count without names.
    request("GET", config.urls.suggestions).then((data) => {
      suggestionModels = data.models || [];
      updateSuggestionPanel(visibleSuggestions());
    }).catch(() => {});
  } else {
    indexTextNodes();
    updateSuggestionPanel([]);
  }
  focusStart();
  api.ready = true;
  api.suggestionCount = () => visibleSuggestions().length;
  api.spanCount = () => spans.size;
  api.idle = () => queue; // tests await the request queue
  container.dataset.ready = "true";
})();
