import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { describe, expect, it } from 'vitest';
import * as local from '../../../src/lib/telemetry/semconv.ts';

describe('semantic-convention names', () => {
  it('match the pinned @opentelemetry/semantic-conventions package', () => {
    const pinned: Record<string, unknown> = { ...incubating };
    const conventional = Object.entries(local).filter(
      ([name]) => !name.startsWith('ATTR_PIPELINE_'),
    );
    expect(conventional.length).toBeGreaterThan(20);
    for (const [name, value] of conventional) expect(pinned[name], name).toBe(value);
  });

  it('keep product attributes out of the registered namespaces', () => {
    for (const [name, value] of Object.entries(local).filter(([n]) =>
      n.startsWith('ATTR_PIPELINE_'),
    ))
      expect(value, name).toMatch(/^order_pipeline\./);
  });
});
