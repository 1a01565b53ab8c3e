import { describe, expect, it } from 'vitest';
import {
  type CheckedInput,
  type CheckedOutput,
  checkExactlyOnce,
} from '../../support/exactlyOnceCheck.ts';

const IN = 'orders';
const OK = 'orders.processed';
const DLQ = 'orders.dlq';

/** Two input partitions: offsets 0–3 valid orders, offset 4 of partition 0 a poison record. */
const inputs = (): CheckedInput[] => [
  ...[0, 1, 2, 3].map((offset) => ({
    topic: IN,
    partition: 0,
    offset,
    expect: OK,
    id: `ord-0-${offset}`,
  })),
  { topic: IN, partition: 0, offset: 4, expect: DLQ },
  ...[0, 1, 2, 3].map((offset) => ({
    topic: IN,
    partition: 1,
    offset,
    expect: OK,
    id: `ord-1-${offset}`,
  })),
];

/**
 * Outputs as the pipeline writes them: keyed by order id, so partition 0's orders land on
 * output partitions 0 and 1, interleaved with partition 1's; the dead letter in the DLQ.
 */
const outputs = (): CheckedOutput[] => {
  const result = (partition: number, offset: number, source: [number, number]): CheckedOutput => ({
    topic: OK,
    partition,
    offset,
    source: { topic: IN, partition: source[0], offset: source[1] },
    id: `ord-${source[0]}-${source[1]}`,
  });
  return [
    result(0, 0, [0, 0]),
    result(0, 1, [1, 0]),
    result(1, 0, [0, 1]),
    result(0, 2, [0, 2]),
    result(1, 1, [1, 1]),
    result(1, 2, [1, 2]),
    result(0, 3, [0, 3]),
    result(0, 4, [1, 3]),
    { topic: DLQ, partition: 2, offset: 0, source: { topic: IN, partition: 0, offset: 4 } },
  ];
};

const clean = { lost: [], duplicates: [], misplaced: [], orderViolations: [] };

describe('checkExactlyOnce', () => {
  it('passes every input once, in order per output and input partition', () => {
    // Act
    const findings = checkExactlyOnce(inputs(), outputs());

    // Assess
    expect(findings).toEqual({ inputs: 9, outputs: 9, ...clean });
  });

  it('fails a duplicated record', () => {
    // Prepare: a second result of orders/0@2, written later on another output partition
    const doubled = [...outputs(), { ...outputs()[3]!, partition: 2, offset: 0 }];

    // Act
    const findings = checkExactlyOnce(inputs(), doubled);

    // Assess
    expect(findings.duplicates).toEqual([
      'orders/0@2: again at orders.processed/2@0 (first at orders.processed/0@2)',
    ]);
    expect(findings.lost).toEqual([]);
    expect(findings.orderViolations).toEqual([]);
  });

  it('fails a duplicate in the same output partition as an order violation too', () => {
    // Prepare: the copy right after the original
    const doubled = [...outputs(), { ...outputs()[7]!, offset: 5 }];

    // Act
    const findings = checkExactlyOnce(inputs(), doubled);

    // Assess
    expect(findings.duplicates).toHaveLength(1);
    expect(findings.orderViolations).toEqual([
      'orders.processed/0 from orders/1: offset 5 (source 3) after offset 4 (source 3)',
    ]);
  });

  it('fails a lost record, a result as well as a dead letter', () => {
    // Prepare
    const missing = outputs().filter(
      (o) => !(o.source.partition === 1 && o.source.offset === 2) && o.topic !== DLQ,
    );

    // Act
    const findings = checkExactlyOnce(inputs(), missing);

    // Assess
    expect(findings.lost).toEqual([
      'orders/0@4 (to orders.dlq): no output',
      'orders/1@2 (to orders.processed): no output',
    ]);
    expect(findings.duplicates).toEqual([]);
  });

  it('fails an out-of-order pair within one output partition', () => {
    // Prepare: orders/0@0 and orders/0@2 swap places in output partition 0
    const swapped = outputs().map((o) => {
      if (o.topic === OK && o.partition === 0 && o.offset === 0) return { ...o, offset: 2 };
      if (o.topic === OK && o.partition === 0 && o.offset === 2) return { ...o, offset: 0 };
      return o;
    });

    // Act
    const findings = checkExactlyOnce(inputs(), swapped);

    // Assess
    expect(findings.orderViolations).toEqual([
      'orders.processed/0 from orders/0: offset 2 (source 0) after offset 0 (source 2)',
    ]);
    expect({ ...findings, orderViolations: [] }).toEqual({ inputs: 9, outputs: 9, ...clean });
  });

  it('does not compare records of different input partitions, nor of different output partitions', () => {
    // Prepare: orders/1@1 before orders/0@0 in output partition 0, and orders/1@0 after
    // orders/1@1 but in output partition 1
    const few = inputs().filter((i) => i.offset < 2);
    const result = (
      partition: number,
      offset: number,
      source: [number, number],
    ): CheckedOutput => ({
      topic: OK,
      partition,
      offset,
      source: { topic: IN, partition: source[0], offset: source[1] },
      id: `ord-${source[0]}-${source[1]}`,
    });
    const crossed = [
      result(0, 0, [1, 1]),
      result(0, 1, [0, 0]),
      result(0, 2, [0, 1]),
      result(1, 0, [1, 0]),
    ];

    // Act
    const findings = checkExactlyOnce(few, crossed);

    // Assess
    expect(findings).toEqual({ inputs: 4, outputs: 4, ...clean });
  });

  it('fails a result in the DLQ, a result with the wrong id and one naming no input', () => {
    // Prepare
    const wrong = outputs();
    wrong[0] = { ...wrong[0]!, topic: DLQ, partition: 0, offset: 7 };
    wrong[1] = { ...wrong[1]!, id: 'ord-9-9' };
    wrong.push({ ...wrong[2]!, offset: 9, source: { topic: IN, partition: 5, offset: 0 } });

    // Act
    const findings = checkExactlyOnce(inputs(), wrong);

    // Assess
    expect(findings.misplaced).toEqual([
      'orders.dlq/0@7 is from orders/0@0, which belongs in orders.processed',
      'orders.processed/0@1 carries id ord-9-9, its source orders/1@0 ord-1-0',
      'orders.processed/1@9 names orders/5@0, not an input',
    ]);
  });
});
