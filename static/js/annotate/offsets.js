/* Offsets: code points (what the server stores and sends) <-> UTF-16 units (what the browser counts).
 * The only conversion on the annotate page; ner/offsets.py is the server's. */

/** Index of the first element of a sorted array that is >= value. */
export function lowerBound(array, value) {
  let low = 0, high = array.length;
  while (low < high) { const mid = (low + high) >> 1; if (array[mid] < value) low = mid + 1; else high = mid; }
  return low;
}

/** Conversions over one text. Only astral characters (emoji, rare CJK) differ: one code point, two UTF-16 units. */
export function makeOffsetMap(text) {
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
