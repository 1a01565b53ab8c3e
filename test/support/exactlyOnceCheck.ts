/**
 * The pass criteria of Kafka's transactions system test (`transactions_test.py`), for a
 * pipeline whose outputs carry their source: every input offset appears exactly once
 * across the output topics, nothing is doubled, and per-partition order holds. Pure: the
 * records come in as read (by any client), the findings go out.
 *
 * Order: results are keyed by order id, so one input partition's records spread over every
 * output partition, and one output partition mixes several input partitions. What a
 * transactional copy can promise is that within one output partition the records of one
 * input partition keep their input order, so order is checked per (output topic, output
 * partition, input partition).
 */

/** Where a record sits, or where an output says it came from. */
export interface RecordPosition {
  topic: string;
  partition: number;
  offset: number;
}

/** One record of the input topic and the output topic it must reach. */
export interface CheckedInput extends RecordPosition {
  expect: string;
  /** When set, an output of this input must carry the same id (an order id). */
  id?: string;
}

/** One record of an output topic and the input it names as its source. */
export interface CheckedOutput extends RecordPosition {
  source: RecordPosition;
  id?: string;
}

export interface ExactlyOnceFindings {
  inputs: number;
  outputs: number;
  /** Inputs with no output, one line each. */
  lost: string[];
  /** One line per copy beyond the first. */
  duplicates: string[];
  /** Outputs in the wrong topic, with a wrong id, or naming no input. */
  misplaced: string[];
  /** Adjacent outputs of one (output partition, input partition) whose sources go backwards. */
  orderViolations: string[];
}

const at = (p: RecordPosition) => `${p.topic}/${p.partition}@${p.offset}`;

/**
 * Checks outputs against inputs; every list empty means exactly once, in order.
 *
 * @example
 * const findings = checkExactlyOnce(inputs, [...processed, ...deadLetters]);
 * expect(findings.lost).toEqual([]);
 */
export const checkExactlyOnce = (
  inputs: readonly CheckedInput[],
  outputs: readonly CheckedOutput[],
): ExactlyOnceFindings => {
  const byPosition = new Map<string, CheckedInput>();
  const misplaced: string[] = [];
  for (const input of inputs) {
    if (byPosition.has(at(input))) misplaced.push(`input ${at(input)} listed twice`);
    byPosition.set(at(input), input);
  }

  const copies = new Map<string, CheckedOutput[]>();
  for (const output of outputs) {
    const input = byPosition.get(at(output.source));
    if (!input) {
      misplaced.push(`${at(output)} names ${at(output.source)}, not an input`);
      continue;
    }
    if (output.topic !== input.expect)
      misplaced.push(`${at(output)} is from ${at(input)}, which belongs in ${input.expect}`);
    if (input.id !== undefined && output.id !== input.id)
      misplaced.push(`${at(output)} carries id ${output.id}, its source ${at(input)} ${input.id}`);
    const list = copies.get(at(input)) ?? [];
    list.push(output);
    copies.set(at(input), list);
  }

  const lost: string[] = [];
  const duplicates: string[] = [];
  for (const input of inputs) {
    const list = copies.get(at(input)) ?? [];
    if (list.length === 0) lost.push(`${at(input)} (to ${input.expect}): no output`);
    for (const extra of list.slice(1))
      duplicates.push(`${at(input)}: again at ${at(extra)} (first at ${at(list[0]!)})`);
  }

  // outputs in the order a consumer reads them, grouped by (output partition, input partition)
  const sequences = Map.groupBy(
    [...outputs].sort((a, b) => a.offset - b.offset),
    (o) => `${o.topic}/${o.partition} from ${o.source.topic}/${o.source.partition}`,
  );
  const orderViolations: string[] = [];
  for (const [pair, sequence] of sequences) {
    for (let i = 1; i < sequence.length; i++) {
      const before = sequence[i - 1]!;
      const after = sequence[i]!;
      if (after.source.offset <= before.source.offset)
        orderViolations.push(
          `${pair}: offset ${after.offset} (source ${after.source.offset}) after offset ${before.offset} (source ${before.source.offset})`,
        );
    }
  }

  return {
    inputs: inputs.length,
    outputs: outputs.length,
    lost,
    duplicates,
    misplaced,
    orderViolations,
  };
};
