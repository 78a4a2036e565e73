/* The document's tokens, as the server's tokenizer (ner.tokens) cut them, and what a selection becomes.
 *
 * The rule is the server's, ner.spans.selection_bounds: whitespace at either end is dropped and, in a project that
 * labels tokens, the rest widens to the tokens it touches. The tokens leave out exactly the whitespace, so this file
 * has no whitespace rule of its own: it looks the selection up in the server's token bounds. The keyboard cursor
 * moves over the same tokens (cursor.js). */
import { config, offsets } from "./state.js";
import { lowerBound } from "./offsets.js";

// Two sorted arrays of UTF-16 offsets, decoded from the server's gap/length pairs (code points).
export const tokenCount = (config?.tokens.length ?? 0) / 2;
export const tokenStarts = new Int32Array(tokenCount);
export const tokenEnds = new Int32Array(tokenCount);
{
  let position = 0;
  for (let i = 0; i < tokenCount; i++) {
    const start = position + config.tokens[2 * i], end = start + config.tokens[2 * i + 1];
    tokenStarts[i] = offsets.toUtf16(start); tokenEnds[i] = offsets.toUtf16(end); position = end;
  }
}

/** The index of the first token ending after `offset`: the token containing it, else the next one. */
export function firstTokenAfter(offset) { return lowerBound(tokenEnds, offset + 1); }

/** The index of the last token starting before `offset`. */
export function lastTokenBefore(offset) { return lowerBound(tokenStarts, offset) - 1; }

/** What the selection [start, end) is tagged as, [start, end], or null when it holds only whitespace. */
export function selectionBounds(start, end, wholeTokens = config.labelMode === "token") {
  const first = firstTokenAfter(start), last = lastTokenBefore(end);
  if (first > last) return null;
  if (wholeTokens) return [tokenStarts[first], tokenEnds[last]];
  return [Math.max(start, tokenStarts[first]), Math.min(end, tokenEnds[last])];
}
