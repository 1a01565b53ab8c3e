import type { HeaderMap } from '../events/types.ts';
import type { OutboundHeaders } from './types.ts';

/** A decoded header map in the shape a producer writes (repeated names kept). */
export const toOutboundHeaders = (headers: HeaderMap): OutboundHeaders => {
  const out: OutboundHeaders = {};
  for (const [name, values] of headers) out[name] = values.length === 1 ? values[0]! : [...values];
  return out;
};

/** Reads the last value of a header as UTF-8. */
export const lastHeader = (
  headers: OutboundHeaders | undefined,
  name: string,
): string | undefined => {
  const v = headers?.[name];
  if (v === undefined) return undefined;
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  return last === undefined ? undefined : last.toString();
};
