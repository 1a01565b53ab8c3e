import type { LocalMappingEvent } from './types.ts';

/** `HH:MM:SS.mmm` of now (UTC). */
export const time = () => new Date().toISOString().slice(11, 23);

const kb = (bytes: number) =>
  bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 * 1024
      ? `${(bytes / 1024).toFixed(1)} KB`
      : `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/** One line per invocation, on-failure write and warning. */
export const formatEvent = (event: LocalMappingEvent): string => {
  switch (event.type) {
    case 'invocation': {
      const slices = event.slices
        .map((s) => `${s.key}[${s.firstOffset}${s.count > 1 ? `..${s.lastOffset}` : ''}]`)
        .join(' ');
      const attempt = event.attempt > 1 ? ` attempt ${event.attempt}` : '';
      let result: string = event.outcome;
      if (event.failures)
        result += ` ${event.failures.map((f) => `${f.partition}@${f.offset}`).join(',')}`;
      if (event.error) result += `: ${event.error}`;
      const next = event.next === 'done' ? '' : ` -> ${event.next}`;
      return `${time()} ${event.functionName} ${event.requestId.slice(0, 8)} ${slices} ${event.records} rec ${kb(event.payloadBytes)} ${event.durationMs} ms${attempt} ${result}${next}`;
    }
    case 'on-failure': {
      const records = event.records.map((r) => `${r.partition}@${r.offset}`).join(',');
      return `${time()} ${event.functionName} on-failure ${event.condition} ${records} -> ${event.destination ?? 'discarded (no kafka:// destination)'}`;
    }
    case 'warning':
      return `${time()} ${event.functionName} warning: ${event.message}`;
  }
};
