/* The keyboard cursor: a run of tokens (anchor to caret) that the arrow keys move and Shift extends. */
import { spans, state } from "./state.js";
import { clearSelection, select, selectedRange } from "./render.js";
import { firstTokenAfter, lastTokenBefore, tokenCount, tokenEnds, tokenStarts } from "./tokens.js";

/** The token containing offset, else the next one (else the last). */
export function tokenAt(offset) {
  return Math.min(firstTokenAfter(offset), tokenCount - 1);
}

/** Put the cursor on the tokens a mouse or touch selection covers. */
export function syncCursor(range) {
  if (!tokenCount) return;
  state.anchorToken = tokenAt(range.start);
  state.caretToken = Math.max(state.anchorToken, lastTokenBefore(range.end));
}

export function moveCursorTo(offset) {
  if (!tokenCount) return;
  state.anchorToken = state.caretToken = Math.max(0, lastTokenBefore(offset));
  clearSelection();
}

export function showCursor() {
  const low = Math.min(state.anchorToken, state.caretToken), high = Math.max(state.anchorToken, state.caretToken);
  select(tokenStarts[low], tokenEnds[high]);
}

export function moveCursor(step, extend) {
  if (!tokenCount) return;
  const current = selectedRange();
  if (state.caretToken < 0 || (!current && state.anchorToken < 0)) {
    state.caretToken = state.anchorToken = step > 0 ? 0 : tokenCount - 1;
  } else if (!current && !extend) {
    // After tagging, the cursor sits at the end of the new span: → moves to the following token.
    state.caretToken = state.anchorToken = Math.min(tokenCount - 1, Math.max(0, state.caretToken + step));
  } else {
    state.caretToken = Math.min(tokenCount - 1, Math.max(0, state.caretToken + step));
    if (!extend) state.anchorToken = state.caretToken;
  }
  showCursor();
}

/** The selection, else the token under the cursor, or null. */
export function cursorRange() {
  const range = selectedRange();
  if (range) return range;
  if (state.caretToken >= 0 && tokenCount) return { start: tokenStarts[state.caretToken], end: tokenEnds[state.caretToken] };
  return null;
}

/** The tags overlapping a range, shortest first. */
export function spansUnder(range) {
  const found = [];
  for (const span of spans.values()) if (span.start < range.end && range.start < span.end) found.push(span);
  return found.sort((a, b) => (a.end - a.start) - (b.end - b.start));
}
