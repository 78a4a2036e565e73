/* The floating menu: the types for a new selection, a clicked tag's types and Delete, a suggestion's Accept and
 * Reject; and Tab's walk over the pending suggestions. */
import { config, container, menu, spans, state, suggestions, text, types, typeName } from "./state.js";
import { show } from "./server.js";
import { clearSelection, markFocused, percent, suggestionMarks, visibleSuggestions } from "./render.js";
import { selectionBounds, tokenCount, tokenStarts } from "./tokens.js";

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

function unfocusSuggestion() {
  if (state.focusedSuggestion !== null) { state.focusedSuggestion = null; markFocused(null); }
}

export function closeMenu() {
  menu.hidden = true;
  state.pending = null;
  unfocusSuggestion();
}

/** The tag the open menu is about, if it is a tag's menu. */
export function openSpan() {
  return !menu.hidden && menu.dataset.kind === "span" ? spans.get(Number(menu.querySelector(".menu-span").dataset.spanId)) : null;
}

/** The suggestion the open menu is about, if it is a suggestion's menu. */
export function openSuggestion() {
  return state.focusedSuggestion !== null && !menu.hidden && menu.dataset.kind === "suggestion"
    ? suggestions.get(state.focusedSuggestion) : null;
}

export function openTypeMenu(range) {
  const bounds = selectionBounds(range.start, range.end);
  if (!bounds) return;
  const [start, end] = bounds;
  state.pending = { start: range.start, end: range.end }; // as selected: tag() applies the rule, and says when it widened
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

// One titled group of the menu (a tag's, a suggestion's): named by its title for screen readers.
function menuGroup(className, data, titleText) {
  const block = document.createElement("div");
  block.className = className;
  Object.assign(block.dataset, data);
  const title = document.createElement("p");
  title.className = "menu-title";
  title.textContent = titleText;
  block.setAttribute("role", "group");
  nameMenuPart(block, title);
  block.append(title);
  return block;
}

// A menu item that does something to the group it sits in (data-action says what).
function menuButton(action, style) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = style;
  button.dataset.action = action;
  button.setAttribute("role", "menuitem");
  return button;
}

export function openSpanMenu(ids, anchor) {
  const found = ids.map((id) => spans.get(id)).filter(Boolean);
  if (!found.length) return;
  state.pending = null;
  unfocusSuggestion();
  menu.replaceChildren();
  menu.dataset.kind = "span";
  for (const span of found) {
    const block = menuGroup("menu-span", { spanId: String(span.id) },
      `${typeName(span.typeId)}: “${text.slice(span.start, span.end).slice(0, 80)}”`);
    if (config.canAnnotate) {
      const list = document.createElement("div");
      list.className = "menu-types";
      for (const type of types.values()) list.append(chip(type, { role: "menuitem", "aria-current": String(type.id === span.typeId) }));
      const actions = document.createElement("div");
      actions.className = "menu-actions";
      const del = menuButton("delete", "danger");
      del.textContent = "Delete";
      actions.append(del);
      block.append(list, actions);
    }
    menu.append(block);
  }
  placeMenu(anchor.getBoundingClientRect());
}

export function openSuggestionMenu(ids, anchor) {
  const found = ids.map((id) => suggestions.get(id)).filter(Boolean);
  if (!found.length) return;
  state.pending = null;
  state.focusedSuggestion = found[0].id;
  markFocused(state.focusedSuggestion);
  menu.replaceChildren();
  menu.dataset.kind = "suggestion";
  for (const suggestion of found) {
    const block = menuGroup("menu-suggestion", { suggestionId: String(suggestion.id) },
      `Suggested ${typeName(suggestion.typeId)} (${percent(suggestion.confidence)} confident): ` +
      `“${text.slice(suggestion.start, suggestion.end).slice(0, 80)}”`);
    if (config.canAnnotate) {
      const actions = document.createElement("div");
      actions.className = "menu-actions";
      for (const [action, label, key, style] of [["accept", "Accept", "Enter", "primary"], ["reject", "Reject", "Del", "danger-outline"]]) {
        const button = menuButton(action, style);
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

export function focusSuggestion(suggestion) {
  clearSelection();
  const mark = suggestionMarks(suggestion.id)[0];
  if (!mark) return;
  const rect = mark.getBoundingClientRect();
  if (rect.top < 60 || rect.bottom > window.innerHeight - 20) window.scrollBy({ top: rect.top - window.innerHeight / 3 });
  openSuggestionMenu([suggestion.id], mark);
}

/** Tab / Shift+Tab: the next / previous pending suggestion after the open one (or the cursor), wrapping around. */
export function stepSuggestion(step) {
  const list = visibleSuggestions().filter((s) => !s.busy);
  if (!list.length) { show("No suggestions pending on this document.", ""); return; }
  const current = list.findIndex((s) => s.id === state.focusedSuggestion);
  let index;
  if (current >= 0) index = (current + step + list.length) % list.length;
  else {
    const position = state.caretToken >= 0 && tokenCount ? tokenStarts[state.caretToken] : -1;
    index = step > 0 ? list.findIndex((s) => s.start > position) : list.findLastIndex((s) => s.start < position);
    if (index < 0) index = step > 0 ? 0 : list.length - 1;
  }
  focusSuggestion(list[index]);
}
