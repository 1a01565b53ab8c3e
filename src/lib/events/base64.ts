/** Strict base64 for event fields: Node's decoder forgives too much to detect corruption. */

/** Base64 digit values of `A-Z a-z 0-9 + /` by character code, -1 for every other ASCII code. */
export const BASE64_DIGITS = new Int8Array(128).fill(-1);
for (const [value, digit] of [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
].entries())
  BASE64_DIGITS[digit.charCodeAt(0)] = value;
const EQUALS_SIGN = 0x3d;

/**
 * Strict base64: Node's `Buffer.from(s, 'base64')` skips characters it does not
 * know, stops at a `=` inside the text, accepts the URL-safe alphabet and missing
 * padding, reads a character above U+00FF as its low byte, and ignores the bits a last
 * digit carries beyond the last byte, so a corrupted value would decode to different
 * bytes without a word. This refuses all of that, and allocates nothing but the bytes:
 * - a length that is a multiple of 4, and zero bits beyond the last byte;
 * - ASCII only (UTF-8 length = length), and neither `-` nor `_`;
 * - then every other character Node skips, and padding before the end, leave fewer
 *   bytes than the length promises.
 * Same verdicts as re-encoding the bytes and comparing, without the 4/3-size string that
 * costs per record; the property tests hold the two side by side.
 */
export const decodeBase64Strict = (text: string): Buffer | undefined => {
  const length = text.length;
  if (length % 4 !== 0) return undefined;
  let padding = 0;
  if (length > 0 && text.charCodeAt(length - 1) === EQUALS_SIGN)
    padding = text.charCodeAt(length - 2) === EQUALS_SIGN ? 2 : 1;
  if (padding > 0) {
    const code = text.charCodeAt(length - 1 - padding);
    const digit = code < 128 ? BASE64_DIGITS[code]! : -1;
    // 2 bytes in 3 digits leave 2 spare bits, 1 byte in 2 digits leaves 4
    if (digit < 0 || (digit & (padding === 1 ? 0b11 : 0b1111)) !== 0) return undefined;
  }
  if (Buffer.byteLength(text, 'utf8') !== length) return undefined;
  if (text.indexOf('-') !== -1 || text.indexOf('_') !== -1) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === (length / 4) * 3 - padding ? bytes : undefined;
};
