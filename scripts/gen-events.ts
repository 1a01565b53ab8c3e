/**
 * Writes the sample Lambda MSK events in `events/` (also test fixtures and the
 * events for `sls invoke local`). Deterministic: running it again gives the same files.
 *
 *   node scripts/gen-events.ts               the three small sample events
 *   node scripts/gen-events.ts --large 10000 also events/processOrders.large.json (~6 MB, compact)
 *
 * Options for --large: --partitions N (default 3), --target-bytes N (default 6,000,000).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  buildLargeMskEvent,
  LARGE_EVENT_TARGET_BYTES,
  sampleMskEvent,
  samplePoisonEvent,
  sampleSelfManagedEvent,
} from '../test/support/fixtures.ts';

const EVENTS_DIR = fileURLToPath(new URL('../events/', import.meta.url));

const positiveInteger = (name: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got "${text}"`);
    process.exit(2);
  }
  return n;
};

// Pretty, except header byte arrays, which stay on one line each to remain readable.
const pretty = (event: unknown): string =>
  `${JSON.stringify(event, null, 2).replace(/\[\s+([\d,\s]+?)\s+\]/g, (_, bytes: string) => `[${bytes.split(/,\s*/).join(', ')}]`)}\n`;

const write = (name: string, event: unknown, readable: boolean) => {
  const path = `${EVENTS_DIR}${name}`;
  const text = readable ? pretty(event) : JSON.stringify(event);
  writeFileSync(path, text);
  console.log(`wrote ${path} (${Buffer.byteLength(text)} bytes)`);
};

const { values } = parseArgs({
  options: {
    large: { type: 'string' },
    partitions: { type: 'string' },
    'target-bytes': { type: 'string' },
  },
});

mkdirSync(EVENTS_DIR, { recursive: true });
write('processOrders.msk.json', sampleMskEvent(), true);
write('processOrders.poison.json', samplePoisonEvent(), true);
write('processOrders.self-managed.json', sampleSelfManagedEvent(), true);

if (values.large !== undefined) {
  // Compact: the point of this event is its size against the 6 MB invocation limit.
  const event = buildLargeMskEvent({
    records: positiveInteger('large', values.large, 10_000),
    partitions: positiveInteger('partitions', values.partitions, 3),
    targetBytes: positiveInteger('target-bytes', values['target-bytes'], LARGE_EVENT_TARGET_BYTES),
  });
  write('processOrders.large.json', event, false);
}
