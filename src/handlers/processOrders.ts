/**
 * processOrders: triggered by the MSK event-source mapping on `orders`.
 * Configuration is read once at init; the work is in src/lib/delivery.
 *
 * Telemetry (src/lib/delivery/lambda.ts): a CONSUMER span per partition linked to each
 * order's producer context, its PRODUCER child's context on every result and dead
 * letter; outcome logs; counts of processed / accepted / rejected / dead-lettered /
 * retried / skipped records, once committed. Tracing starts at init and is awaited by
 * the first invocation (no top-level `await`: see scripts/build.ts).
 */
import { deliveryLambda } from '../lib/delivery/lambda.ts';
import {
  createProcessOrdersHandler,
  type OrderOutcomeDetail,
} from '../lib/delivery/processOrders.ts';
import { glueSchemaVersionLookUp, readsWriterSchemas } from '../lib/formats/glueLookUp.ts';
import { WriterSchemas } from '../lib/formats/index.ts';
import { readResultFormats } from '../lib/formats/resultFormat.ts';

// results of Avro / Protobuf / JSON Schema orders in that format, when configured
const resultFormats = readResultFormats(process.env);
// registry records read with their producer's schema, with a Glue registry
const writerSchemas = readsWriterSchemas(process.env)
  ? new WriterSchemas(glueSchemaVersionLookUp())
  : undefined;

export const handler = deliveryLambda<OrderOutcomeDetail>({
  functionName: 'processOrders',
  destinations: (topics) => [topics.processed, topics.dlq],
  create: (deps) =>
    createProcessOrdersHandler({
      ...deps,
      resultFormats,
      ...(writerSchemas ? { writerSchemas } : {}),
    }),
  reportOutcome: (outcome, { metrics, logOutcome }) => {
    metrics.recordOutcome(outcome);
    // committed results only: `ok` is reported after its transaction
    if (outcome.kind === 'ok' && outcome.detail) metrics.recordOrderResult(outcome.detail);
    logOutcome(outcome);
  },
});
