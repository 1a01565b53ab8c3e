import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildBatchResponse, kafkaItemIdentifier } from '../../../src/lib/events/batchResponse.ts';

describe('buildBatchResponse', () => {
  it('reports nothing when nothing failed', () => {
    // Prepare
    const failures: Array<{ partitionKey: string; offset: number }> = [];

    // Act
    const response = buildBatchResponse(failures);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
  });

  it('reports one entry per partition at its lowest failed offset, identifiers as objects', () => {
    // Prepare
    const failures = [
      { partitionKey: 'orders-1', offset: 40 },
      { partitionKey: 'my.topic-with-dashes-12', offset: 9 },
      { partitionKey: 'orders-1', offset: 35 },
      { partitionKey: 'orders-1', offset: 41 },
    ];

    // Act
    const response = buildBatchResponse(failures);

    // Assess: exactly the JSON Lambda reads
    expect(JSON.parse(JSON.stringify(response))).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: 'orders-1', offset: 35 } },
        { itemIdentifier: { partition: 'my.topic-with-dashes-12', offset: 9 } },
      ],
    });
  });

  it.each([
    ['an empty partition key', '', 1],
    ['a negative offset', 'orders-0', -1],
    ['a fractional offset', 'orders-0', 1.5],
    ['NaN', 'orders-0', Number.NaN],
  ])('refuses %s: Lambda would retry the whole batch on it', (_, partitionKey, offset) => {
    // Prepare
    const failures = [{ partitionKey, offset }];

    // Act
    const act = () => buildBatchResponse(failures);

    // Assess
    expect(act).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });

  it('keeps, for any failures, exactly the distinct partitions with their minimum offset', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            partitionKey: fc.constantFrom('orders-0', 'orders-1', 'a.b-c-7', 'x-10'),
            offset: fc.nat({ max: 10_000 }),
          }),
        ),
        (failures) => {
          // Prepare
          const expected = new Map<string, number>();
          for (const f of failures) {
            expected.set(
              f.partitionKey,
              Math.min(expected.get(f.partitionKey) ?? Infinity, f.offset),
            );
          }

          // Act
          const response = buildBatchResponse(failures);

          // Assess
          expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
            [...expected].map(([partition, offset]) => ({ partition, offset })),
          );
        },
      ),
    );
  });
});

describe('kafkaItemIdentifier', () => {
  it('names the partition by its event key and the record by its offset', () => {
    // Prepare
    const key = 'my.topic-with-dashes-12';

    // Act
    const identifier = kafkaItemIdentifier(key, 0);

    // Assess
    expect(identifier).toEqual({ partition: key, offset: 0 });
  });
});
