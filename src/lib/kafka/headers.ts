import type { HeaderMap } from '../events/types.ts';
import type { OutboundHeaders } from './types.ts';

/** A decoded header map in the shape a producer writes (repeated names kept). */
export const toOutboundHeaders = (headers: HeaderMap): OutboundHeaders => {
  const out: OutboundHeaders = {};
  for (const [name, values] of headers) out[name] = values.length === 1 ? values[0]! : [...values];
  return out;
};
