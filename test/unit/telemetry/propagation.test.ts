import { describe, expect, it } from 'vitest';
import type { OutboundMessage } from '../../../src/lib/kafka/types.ts';
import { withPropagation } from '../../../src/lib/telemetry/propagation.ts';

describe('withPropagation', () => {
  const carried = (): OutboundMessage => ({
    topic: 'orders.processed',
    key: 'k',
    value: 'v',
    headers: {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=old',
      'x-tenant': 'acme',
    },
  });
  const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('drops a carried tracestate when the propagation brings a traceparent without one', () => {
    const [m] = withPropagation([carried()], { traceparent: parent });
    expect(m!.headers).toEqual({ traceparent: parent, 'x-tenant': 'acme' });
  });

  it('replaces a carried tracestate with the propagation’s own', () => {
    const [m] = withPropagation([carried()], { traceparent: parent, tracestate: 'vendor=new' });
    expect(m!.headers).toEqual({
      traceparent: parent,
      tracestate: 'vendor=new',
      'x-tenant': 'acme',
    });
  });

  it('replaces carried trace headers whatever their spelling', () => {
    const message: OutboundMessage = {
      topic: 't',
      key: null,
      value: null,
      headers: { TraceParent: 'x', TraceState: 'y', other: 'z' },
    };
    const [m] = withPropagation([message], { traceparent: parent });
    expect(m!.headers).toEqual({ traceparent: parent, other: 'z' });
  });

  it('leaves messages untouched without a propagation (tracing off)', () => {
    const messages = [carried()];
    expect(withPropagation(messages, {})).toBe(messages);
    expect(withPropagation(messages, undefined)).toBe(messages);
    const bare: OutboundMessage = { topic: 't', key: null, value: null };
    expect(withPropagation([bare], { traceparent: parent })[0]!.headers).toEqual({
      traceparent: parent,
    });
  });
});
