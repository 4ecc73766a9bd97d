/**
 * The characters SQS carries in a message body and in attribute values: the XML 1.0 set,
 * `#x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF`. Anything else (most control
 * characters, U+FFFE, U+FFFF, a lone surrogate) makes SQS refuse the whole message for good, so
 * the adapter finds it before sending and names it.
 */

/** The rule, as SQS states it. */
export const SQS_CHARACTER_RULE = '#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF';

// With the `u` flag a lone surrogate is a code point of its own, outside every allowed range.
const INVALID = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
// What may be refused, by UTF-16 code unit (any surrogate, paired or not): about three times
// quicker than `INVALID` on a large body, so every publish runs it and only a hit runs `INVALID`.
const SUSPECT = /[\x00-\x08\x0B\x0C\x0E-\x1F\uD800-\uDFFF\uFFFE\uFFFF]/;

export interface InvalidCharacter {
  /** The refused code point. */
  readonly codePoint: number;
  /** Its index in the string (UTF-16 code units, as `String.prototype.indexOf` counts). */
  readonly index: number;
}

/** The first character of `text` SQS refuses, or undefined when SQS carries all of it. */
export function findInvalidCharacter(text: string): InvalidCharacter | undefined {
  if (!SUSPECT.test(text)) return undefined;
  const match = INVALID.exec(text);
  if (!match) return undefined;
  return { codePoint: match[0].codePointAt(0) ?? 0, index: match.index };
}

/** `U+FFFF`, with a note for the kinds of character users do not see. */
export function describeCodePoint(codePoint: number): string {
  const label = `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return `${label} (a lone surrogate)`;
  if (codePoint < 0x20) return `${label} (a control character)`;
  if (codePoint === 0xfffe || codePoint === 0xffff) return `${label} (a noncharacter)`;
  return label;
}

/** `text` with every character SQS refuses replaced by U+FFFD (for text the adapter adds itself). */
export function replaceInvalidCharacters(text: string): string {
  return SUSPECT.test(text) ? text.replace(new RegExp(INVALID.source, 'gu'), '\uFFFD') : text;
}

/**
 * Where in a JSON body `character` sits, as a path (`input.notes[2]`), when the body is JSON and
 * the character is inside one of its strings; undefined otherwise.
 */
export function jsonPathOf(body: string, character: InvalidCharacter): string | undefined {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return undefined;
  }
  return search(data, String.fromCodePoint(character.codePoint), '', 0);
}

function search(value: unknown, char: string, path: string, depth: number): string | undefined {
  if (typeof value === 'string') return value.includes(char) ? path || '(the whole body)' : undefined;
  if (depth > 64 || typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = search(value[i], char, `${path}[${i}]`, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const at = /^[A-Za-z_$][\w$]*$/.test(key) ? `${path ? `${path}.` : ''}${key}` : `${path}[${JSON.stringify(key)}]`;
    if (key.includes(char)) return `${at} (in the key)`;
    const found = search(item, char, at, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
