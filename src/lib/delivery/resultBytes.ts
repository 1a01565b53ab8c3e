/**
 * A partition's results as bytes until its transaction: keys, values and carried
 * headers copied into a few large buffers, with their positions in `Int32Array`s.
 * A result kept as a string, a message object and a header map costs a scavenge copy
 * per record while the partition is planned; bytes in a buffer cost none. The messages
 * are built at the commit, as views of those buffers.
 */
import type { OutboundMessage } from '../kafka/index.ts';

/** The first buffer's size; each next one is twice the last, up to {@link MAX_CHUNK_BYTES}. */
const FIRST_CHUNK_BYTES = 16 * 1024;
/** Large enough that a 6 MB event's results fit in a handful. */
const MAX_CHUNK_BYTES = 1024 * 1024;

// Positions of one result in `#spans`: topic id, chunk, key start (-1: no key), key end
// (= value start), value end, index of its first header in `#headers`.
const SPAN = 6;
// Positions of one header in `#headers`: name id, chunk, start, end.
const HEADER = 4;

/**
 * The last instance made, kept until the next one. Optimized code holds what it was
 * optimized for (hidden classes) weakly: a full GC while no instance is alive, between
 * invocations, collects them and deoptimizes every function that uses the class, and
 * the next invocation runs unoptimized until it warms up again (`--trace-deopt`:
 * "weak objects"; the hot path took twice as long after each full GC). A fresh instance
 * made at load did not prevent it; the last real one does.
 */
let _lastMade: ResultBytes | undefined;

/** A growable list of int32s: typed, so a scavenge never copies it. */
class Int32List {
  array = new Int32Array(1024);
  length = 0;

  push6(a: number, b: number, c: number, d: number, e: number, f: number): void {
    this.#room(6);
    const { array, length } = this;
    array[length] = a;
    array[length + 1] = b;
    array[length + 2] = c;
    array[length + 3] = d;
    array[length + 4] = e;
    array[length + 5] = f;
    this.length = length + 6;
  }

  push4(a: number, b: number, c: number, d: number): void {
    this.#room(4);
    const { array, length } = this;
    array[length] = a;
    array[length + 1] = b;
    array[length + 2] = c;
    array[length + 3] = d;
    this.length = length + 4;
  }

  #room(n: number): void {
    if (this.length + n <= this.array.length) return;
    const grown = new Int32Array(this.array.length * 2);
    grown.set(this.array);
    this.array = grown;
  }
}

/**
 * Results written as bytes, read back as {@link OutboundMessage}s. Keys and values are
 * UTF-8 text; header values are bytes, copied (a view would keep the event's decoded
 * buffers alive).
 *
 * @example
 * const results = new ResultBytes();
 * results.add('orders.processed', 'o-1', '{"orderId":"o-1"}');
 * results.header('traceparent', traceparentBytes);
 * results.message(0); // { topic: 'orders.processed', key: <Buffer 6f 2d 31>, value: <Buffer …>, headers: { traceparent: [<Buffer …>] } }
 */
export class ResultBytes {
  readonly #chunks: Buffer[] = [];
  #chunkBytes = 0;
  #used = 0;
  readonly #spans = new Int32List();
  readonly #headers = new Int32List();
  readonly #topics: string[] = [];
  readonly #names: string[] = [];

  constructor() {
    _lastMade = this;
  }

  /** Number of results. */
  get length(): number {
    return this.#spans.length / SPAN;
  }

  /** Room for `bytes` more in the current buffer (a new one when they do not fit). */
  #reserve(bytes: number): Buffer {
    if (this.#chunks.length === 0 || this.#used + bytes > this.#chunkBytes) {
      const size = Math.min(MAX_CHUNK_BYTES, Math.max(FIRST_CHUNK_BYTES, 2 * this.#chunkBytes));
      this.#chunkBytes = Math.max(size, bytes);
      this.#chunks.push(Buffer.allocUnsafeSlow(this.#chunkBytes));
      this.#used = 0;
    }
    return this.#chunks[this.#chunks.length - 1]!;
  }

  /** Appends one result: its topic, key (or none) and value: text as UTF-8, or bytes as they are. */
  add(topic: string, key: string | null, value: string | Uint8Array): void {
    const text = typeof value === 'string';
    // 3 bytes per UTF-16 unit is UTF-8's worst case: one check, no measuring pass
    const chunk = this.#reserve(3 * (key?.length ?? 0) + (text ? 3 : 1) * value.length);
    let at = this.#used;
    const keyStart = key === null ? -1 : at;
    if (key !== null) at += chunk.write(key, at, 'utf8');
    const keyEnd = at;
    if (text) at += chunk.write(value, at, 'utf8');
    else {
      chunk.set(value, at);
      at += value.length;
    }
    this.#record(topic, keyStart, keyEnd, at);
  }

  /** Records a result whose bytes lie in the current buffer, and moves past them. */
  #record(topic: string, keyStart: number, keyEnd: number, valueEnd: number): void {
    this.#used = valueEnd;
    let topicId = this.#topics.indexOf(topic);
    if (topicId < 0) topicId = this.#topics.push(topic) - 1;
    this.#spans.push6(
      topicId,
      this.#chunks.length - 1,
      keyStart,
      keyEnd,
      valueEnd,
      this.#headers.length / HEADER,
    );
  }

  /**
   * Room for a result the caller writes in place: at least `maxBytes` in the buffer
   * returned, from {@link position}. {@link end} then records it.
   *
   * @example
   * const chunk = results.begin(max);
   * const at = results.position;
   * const valueEnd = write(chunk, at); // key bytes, then value bytes
   * results.end('orders.processed', at + keyLength, valueEnd);
   */
  begin(maxBytes: number): Buffer {
    return this.#reserve(maxBytes);
  }

  /** Where the next result's bytes start in the buffer {@link begin} returned. */
  get position(): number {
    return this.#used;
  }

  /** Records the result written since {@link begin}: its key up to `keyEnd`, its value up to `valueEnd`. */
  end(topic: string, keyEnd: number, valueEnd: number): void {
    const keyStart = this.#used;
    if (!(keyStart <= keyEnd && keyEnd <= valueEnd && valueEnd <= this.#chunkBytes))
      throw new RangeError('ResultBytes.end outside the room begin gave');
    this.#record(topic, keyStart, keyEnd, valueEnd);
  }

  /** Adds a header value (bytes, copied) to the last result added. */
  header(name: string, value: ArrayLike<number>): void {
    if (this.#spans.length === 0) throw new RangeError('ResultBytes.header before any add');
    const chunk = this.#reserve(value.length);
    const start = this.#used;
    if (value instanceof Uint8Array) chunk.set(value, start);
    // an event's byte numbers: a loop, as `set` from an Array takes a slow generic path
    else for (let i = 0; i < value.length; i++) chunk[start + i] = value[i]!;
    this.#used = start + value.length;
    let nameId = this.#names.indexOf(name);
    if (nameId < 0) nameId = this.#names.push(name) - 1;
    this.#headers.push4(nameId, this.#chunks.length - 1, start, this.#used);
  }

  /** The `i`-th result as a message: key, value and headers are views of the bytes. */
  message(i: number): OutboundMessage {
    const s = i * SPAN;
    const spans = this.#spans.array;
    const count = this.#spans.length;
    if (!(i >= 0 && s < count)) throw new RangeError(`no result ${i}`);
    const chunk = this.#chunks[spans[s + 1]!]!;
    const keyStart = spans[s + 2]!;
    const keyEnd = spans[s + 3]!;
    const headers: Record<string, Buffer[]> = {};
    const last = s + SPAN < count ? spans[s + SPAN + 5]! : this.#headers.length / HEADER;
    const positions = this.#headers.array;
    for (let h = spans[s + 5]! * HEADER; h < last * HEADER; h += HEADER) {
      const name = this.#names[positions[h]!]!;
      const bytes = this.#chunks[positions[h + 1]!]!.subarray(positions[h + 2]!, positions[h + 3]!);
      const values = headers[name];
      if (values) values.push(bytes);
      else headers[name] = [bytes];
    }
    return {
      topic: this.#topics[spans[s]!]!,
      key: keyStart < 0 ? null : chunk.subarray(keyStart, keyEnd),
      value: chunk.subarray(keyEnd, spans[s + 4]!),
      headers,
    };
  }
}
