/**
 * The replay marker: what a committed replay records about itself in the metadata of
 * its marker offset, so a replay run again with the same id knows it already ran
 * (README "Parking-lot tool"). Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { coordinateOf, type ParkedRecord } from './parked.ts';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a replay's marker says (stored as the marker offset's metadata). */
export interface ReplayMarker {
  v: 1;
  /** When the replay committed, ISO-8601. */
  at: string;
  /** Records written. */
  n: number;
  /** Topic they were written to. */
  to: string;
  /** {@link selectionDigest} of the replayed records. */
  digest: string;
  /** Replayed records per topic and partition; absent when the list did not fit. */
  from?: Record<string, Record<string, string[]>>;
}

/** Kafka's default `offset.metadata.max.bytes` is 4096; leave room. */
export const MARKER_METADATA_MAX = 3_800;

/** A short digest of a set of records (order does not matter). */
export const selectionDigest = (records: readonly ParkedRecord[]): string =>
  createHash('sha256')
    .update(records.map(coordinateOf).sort().join('\n'))
    .digest('hex')
    .slice(0, 16);

/**
 * The marker metadata for a replay: the records' coordinates when they fit in
 * {@link MARKER_METADATA_MAX} bytes, else only their count and digest.
 */
export const encodeMarker = (
  records: readonly ParkedRecord[],
  options: { to: string; at: Date },
): string => {
  const from: Record<string, Record<string, string[]>> = {};
  for (const r of records) {
    const partitions = from[r.topic] ?? {};
    from[r.topic] = partitions;
    const offsets = partitions[String(r.partition)] ?? [];
    offsets.push(r.offset);
    partitions[String(r.partition)] = offsets;
  }
  const marker: ReplayMarker = {
    v: 1,
    at: options.at.toISOString(),
    n: records.length,
    to: options.to,
    digest: selectionDigest(records),
    from,
  };
  const full = JSON.stringify(marker);
  if (Buffer.byteLength(full) <= MARKER_METADATA_MAX) return full;
  delete marker.from;
  return JSON.stringify(marker);
};

/** Reads marker metadata back; `undefined` when it is not a marker this tool wrote. */
export const decodeMarker = (metadata: string | null): ReplayMarker | undefined => {
  if (!metadata) return undefined;
  try {
    const m = JSON.parse(metadata) as unknown;
    if (!isObject(m) || m.v !== 1 || typeof m.n !== 'number' || typeof m.at !== 'string')
      return undefined;
    return m as unknown as ReplayMarker;
  } catch {
    return undefined;
  }
};

/** Coordinates listed in a marker (empty when its list did not fit). */
export const markerCoordinates = (m: ReplayMarker): string[] =>
  Object.entries(m.from ?? {}).flatMap(([topic, partitions]) =>
    Object.entries(partitions).flatMap(([p, offsets]) => offsets.map((o) => `${topic}:${p}:${o}`)),
  );
