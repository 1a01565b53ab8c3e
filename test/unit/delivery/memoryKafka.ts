/**
 * processOrders' transactional writer in memory: every committed transaction is a list
 * of messages; `failWrites` makes each write fail as an unreachable broker does.
 */
import type { DeliveryKafka, PartitionWriter } from '../../../src/lib/delivery/processBatch.ts';
import { RetriableError } from '../../../src/lib/errors.ts';
import type { CommittedCheckpoint, OutboundMessage } from '../../../src/lib/kafka/types.ts';

export class MemoryKafka implements DeliveryKafka {
  committed: OutboundMessage[][] = [];
  failWrites = false;

  transactionalProducer(_id: string) {
    const producer: PartitionWriter = {
      usable: true,
      init: async () => {},
      write: async (messages) => {
        if (this.failWrites) throw new RetriableError('BROKER_UNAVAILABLE', 'injected');
        this.committed.push(messages);
      },
    };
    return { producer, fresh: true };
  }

  async committedCheckpoints() {
    return new Map<number, CommittedCheckpoint>();
  }

  /** Every message committed, in order. */
  get messages() {
    return this.committed.flat();
  }
}
