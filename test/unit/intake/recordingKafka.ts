/**
 * produceOrders' Kafka as a recorder: every `write` is one transaction, kept in
 * `written`, its messages placed on partition 0 at offsets 0, 1, …
 */
import type { OutboundMessage, PlacedMessage } from '../../../src/lib/kafka/types.ts';

export const recordingKafka = () => {
  const written: OutboundMessage[][] = [];
  const kafka = {
    transactionalProducer: () => ({
      producer: {
        write: async (messages: OutboundMessage[]): Promise<PlacedMessage[]> => {
          written.push(messages);
          return messages.map((m, i) => ({
            topic: m.topic,
            partition: 0,
            baseOffset: '0',
            offset: String(i),
          }));
        },
      },
    }),
  };
  return { written, kafka };
};
