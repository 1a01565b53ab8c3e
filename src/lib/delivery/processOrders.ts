import type { Context } from 'aws-lambda';
import { functionPrefix, type PipelineConfig } from '../config.ts';
import { PoisonRecordError } from '../errors.ts';
import { headerBytes, readKafkaEvent } from '../events/decode.ts';
import type { DecodedRecord, KafkaBatchResponse } from '../events/types.ts';
import {
  eventHoldsSchemaRecords,
  loadOrderCodecs,
  parseOrderRecordValue,
  type WriterSchemas,
} from '../formats/index.ts';
import { prepareResultFormats, type ResultFormats, resultValue } from '../formats/resultFormat.ts';
import { beforeDeadline, type OutboundMessage } from '../kafka/index.ts';
import {
  evaluateOrder,
  type OrderStatus,
  parseOrder,
  type ReasonCode,
  scannedReason,
  scannedResultMaxBytes,
  scanOrder,
  writeScannedResult,
} from '../orders/index.ts';
import {
  type CheckpointCache,
  type DeliveryKafka,
  type DeliveryTelemetry,
  invocationDeadline,
  type PartitionResult,
  processBatch,
  type RecordOutcome,
} from './processBatch.ts';
import type { ResultBytes } from './resultBytes.ts';

/** Headers that travel from an order to its result (W3C trace context). */
const CARRIED_HEADERS = ['traceparent', 'tracestate'] as const;

/**
 * What processOrders says about a processed record (the `detail` of its `ok` outcome,
 * reported once its transaction committed): the order's status under the rules.
 */
export interface OrderOutcomeDetail {
  orderId: string;
  status: OrderStatus;
  reasonCode?: ReasonCode;
}

/** What writing a record's result needs besides the record. */
interface OrderResultOptions {
  processedTopic: string;
  now: Date;
  resultFormats?: ResultFormats;
  writerSchemas?: WriterSchemas | undefined;
}

/**
 * The pure part of processOrders for one record: decode the order, apply the rules,
 * write the result's key, value and carried headers into `results` (what the handler
 * does per record). Throws a poison error for a bad record.
 *
 * @example
 * const results = new ResultBytes();
 * orderResultInto(record, { processedTopic: 'orders.processed', now: new Date() }, results);
 * results.message(0); // the result message
 */
export const orderResultInto = (
  record: DecodedRecord,
  options: OrderResultOptions,
  results: ResultBytes,
): void => {
  writeOrderResult(record, options, results, false);
};

/** A record's result written as bytes: key, JSON value and carried headers into `results`. */
const writeOrderResult = (
  record: DecodedRecord,
  options: OrderResultOptions,
  results: ResultBytes,
  keepDetail: boolean,
): OrderOutcomeDetail | undefined => {
  if (record.value === null) throw new PoisonRecordError('VALUE_NULL', 'record value is null');
  const metadata = record.valueSchemaMetadata;
  if (metadata === undefined) {
    // the common case, plain JSON written plainly: scanned in place, its result written
    // as bytes from the scan; anything else is parsed below (scanOrder.ts)
    const scan = scanOrder(record.value);
    if (scan !== undefined) {
      const reason = scannedReason(scan, options.now);
      const chunk = results.begin(scannedResultMaxBytes(scan, options.now, record));
      const at = results.position;
      const end = writeScannedResult(chunk, at, record.value, scan, reason, options.now, record);
      results.end(options.processedTopic, at + scan.orderIdEnd - scan.orderIdStart, end);
      carryHeaders(record, results);
      if (!keepDetail) return undefined;
      const detail: OrderOutcomeDetail = {
        orderId: record.value.toString('latin1', scan.orderIdStart, scan.orderIdEnd),
        status: reason === undefined ? 'accepted' : 'rejected',
      };
      if (reason !== undefined) detail.reasonCode = reason;
      return detail;
    }
  }
  // plain UTF-8 JSON unless the record's valueSchemaMetadata names a registry format,
  // read with the producer's schema version when the registry has it
  const order =
    metadata === undefined
      ? parseOrder(record.value)
      : parseOrderRecordValue(
          record.value,
          metadata,
          undefined,
          options.writerSchemas?.decoderFor(metadata, record.value),
        );
  const result = evaluateOrder(order, { now: options.now, source: record });
  // the JSON string dies here: only its bytes live until the commit; a registry order's
  // result is in its format when a result schema version is configured
  results.add(
    options.processedTopic,
    order.orderId,
    metadata === undefined
      ? JSON.stringify(result)
      : resultValue(result, metadata, options.resultFormats),
  );
  carryHeaders(record, results);
  if (!keepDetail) return undefined;
  const detail: OrderOutcomeDetail = { orderId: result.orderId, status: result.status };
  if (result.reasonCode !== undefined) detail.reasonCode = result.reasonCode;
  return detail;
};

/** The trace context onto the record's result: the event's header bytes, no header map. */
const carryHeaders = (record: DecodedRecord, results: ResultBytes): void => {
  for (const name of CARRIED_HEADERS) {
    const values = headerBytes(record, name);
    for (let v = 0; v < values.length; v++) results.header(name, values[v]!);
  }
};

/** What a record processor that wrote its results as bytes returns besides the detail. */
const NO_MESSAGES: OutboundMessage[] = [];

export interface ProcessOrdersDeps {
  config: PipelineConfig;
  /** The function's name in serverless.yml; part of transactional ids. */
  functionName?: string;
  kafka: () => Promise<DeliveryKafka>;
  now?: () => Date;
  /** Result schema versions per registry format (`RESULT_SCHEMA_VERSIONS`); none: JSON results. */
  resultFormats?: ResultFormats;
  /** The producers' schemas from the registry (a Glue registry only); none: the shipped schemas. */
  writerSchemas?: WriterSchemas;
  telemetry?: DeliveryTelemetry;
  /**
   * Every record's outcome; `ok` and `poison` only once committed. An `ok` outcome's
   * `detail` is the order's status (count accepted / rejected from it).
   */
  onOutcome?: (outcome: RecordOutcome<OrderOutcomeDetail>) => void;
  onBatch?: (summary: { partitions: PartitionResult[]; response: KafkaBatchResponse }) => void;
  /** Fault injection for tests: may throw to simulate a failing dependency or a crash. */
  beforeRecord?: (record: DecodedRecord) => void | Promise<void>;
  afterCommit?: (result: PartitionResult) => void | Promise<void>;
}

/**
 * Builds the processOrders Lambda handler. Configuration is read once by the
 * caller; the Kafka client is created on first use and kept for warm invocations.
 *
 * @example
 * export const handler = createProcessOrdersHandler({ config: readPipelineConfig(), kafka: () => client });
 */
export const createProcessOrdersHandler = (deps: ProcessOrdersDeps) => {
  const prefix = functionPrefix(deps.config, deps.functionName ?? 'processOrders');
  const now = deps.now ?? (() => new Date());
  const { topics } = deps.config;
  // this container's checkpoints, trusted while the producer that committed them is in use
  const checkpointCache: CheckpointCache = new WeakMap();
  return async (event: unknown, context?: Partial<Context>): Promise<KafkaBatchResponse> => {
    const deadline = invocationDeadline(context, deps.config);
    // records are decoded as the partition loop reaches them, not all up front
    const partitions = readKafkaEvent(event, { maxRecordBytes: deps.config.maxRecordBytes });
    // Avro / Protobuf libraries load only for a batch that holds a registry record
    if (eventHoldsSchemaRecords(event)) {
      const codecs = await loadOrderCodecs();
      // the writers' schemas of this batch's records, fetched once per container
      const records = partitions.flatMap((p) => p.records);
      await deps.writerSchemas?.prepare(records, deadline, codecs);
      // result schema versions named without an id, from the registry once per container
      await prepareResultFormats(deps.resultFormats, records, deadline);
    }
    // broker discovery and the SCRAM secret are read on a cold start: bounded too
    const kafka = await beforeDeadline(deps.kafka(), { deadline }, 'Kafka client set-up');
    // One clock reading per invocation: every result of the batch has this processedAt.
    const invokedAt = now();
    const resultOptions = {
      processedTopic: topics.processed,
      now: invokedAt,
      resultFormats: deps.resultFormats,
      writerSchemas: deps.writerSchemas,
    };
    const processRecord = (record: DecodedRecord, results: ResultBytes, keepDetail?: boolean) => {
      const detail = writeOrderResult(record, resultOptions, results, keepDetail === true);
      return detail === undefined ? NO_MESSAGES : { messages: NO_MESSAGES, detail };
    };
    const { beforeRecord } = deps;
    const { response, partitions: results } = await processBatch(partitions, {
      kafka,
      transactionalIdPrefix: prefix,
      checkpointGroup: `${prefix}.checkpoints`,
      checkpointTopic: topics.checkpoints,
      deadLetterTopic: topics.dlq,
      backoff: { baseMs: deps.config.dlqBackoffBaseMs, maxMs: deps.config.dlqBackoffMaxMs },
      now,
      deadline,
      checkpointCache,
      // Synchronous unless a test hook has to be awaited first: no promise per record.
      processRecord: beforeRecord
        ? async (record, results, keepDetail) => {
            await beforeRecord(record);
            return processRecord(record, results, keepDetail);
          }
        : processRecord,
      telemetry: deps.telemetry,
      onOutcome: deps.onOutcome,
      afterCommit: deps.afterCommit,
    });
    deps.onBatch?.({ partitions: results, response });
    return response;
  };
};
