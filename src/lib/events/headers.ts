import type { HeaderMap } from './types.ts';

/**
 * The UTF-8 text of a header's last value: Kafka clients read a repeated header by its
 * last value, and the pipeline appends rather than replaces (the newest hop's trace
 * context, a dead letter's history). The one reader of single-valued headers.
 *
 * @example
 * lastHeaderText(record.headers, 'traceparent') // '00-4bf9…-01', or undefined when absent
 */
export const lastHeaderText = (headers: HeaderMap, name: string): string | undefined => {
  const values = headers.get(name);
  const last = values?.[values.length - 1];
  return last === undefined ? undefined : last.toString('utf8');
};
