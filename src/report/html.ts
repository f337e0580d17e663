/**
 * The one escaping function of the report. Every string that comes from a run folder (names,
 * reasons, paths, settings, genotypes) reaches the page through it, in text and in attribute
 * values alike; the page's script builds its tooltips from DOM text nodes instead.
 */

/**
 * `v` as HTML text: `&`, `<`, `>`, `"` and `'` replaced by entities, so the result is safe both
 * between tags and inside a quoted attribute value.
 *
 * @example
 * esc('<img src=x onerror=alert(1)>'); // '&lt;img src=x onerror=alert(1)&gt;'
 */
export function esc(v: unknown): string {
  return String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
