/**
 * A function's warm containers: each invocation goes to one picked at random among the
 * idle ones (among all when every one is busy), as Lambda's choice is not ours.
 */
import type { KafkaEvent } from '../../lib/events/types.ts';
import { type InvokeResult, invokeHandler } from './invokeHandler.ts';
import type { LambdaContextInput } from './lambdaContext.ts';
import type { LambdaHandler } from './types.ts';

/** What every invocation's Lambda context says (the request id comes per call). */
export type InvocationSettings = Omit<LambdaContextInput, 'settle' | 'requestId'>;

export class Containers {
  readonly #handlers: readonly LambdaHandler[];
  readonly #busy = new Set<number>();
  readonly #random: () => number;
  /** Invocations per container, in the order the handlers were given (a live view). */
  readonly invocations: number[];

  constructor(handlers: readonly LambdaHandler[], random: () => number, invocations: number[]) {
    if (handlers.length === 0) throw new Error('startLocalMapping: no handler given');
    this.#handlers = handlers;
    this.#random = random;
    this.invocations = invocations;
  }

  #pick(): number {
    const all = this.#handlers.map((_, i) => i);
    const idle = all.filter((i) => !this.#busy.has(i));
    const pool = idle.length > 0 ? idle : all;
    return pool[Math.min(pool.length - 1, Math.floor(this.#random() * pool.length))]!;
  }

  /** Invokes one container with `event` (see `invokeHandler`). */
  async invoke(
    event: KafkaEvent,
    requestId: string,
    settings: InvocationSettings & { onTimeout?: () => void },
  ): Promise<InvokeResult> {
    const container = this.#pick();
    this.#busy.add(container);
    this.invocations[container] = (this.invocations[container] ?? 0) + 1;
    try {
      return await invokeHandler(this.#handlers[container]!, event, { ...settings, requestId });
    } finally {
      this.#busy.delete(container);
    }
  }
}
