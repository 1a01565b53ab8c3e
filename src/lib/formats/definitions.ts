/**
 * The order and result schemas as the Lambda bundle carries them. The files in
 * `src/lib/orders/schemas/` are the ones to register and share; these are the same
 * definitions as code (a bundle cannot read files beside it), kept equal to the files,
 * and the files to the zod schema, by test/unit/formats/schemas.test.ts.
 */

/** `order.avsc`. */
export const ORDER_AVRO_SCHEMA = {
  type: 'record',
  name: 'Order',
  namespace: 'msk_order_pipeline.orders.v1',
  doc: 'An order as processOrders reads it: prices in exact integer minor units (cents, fils, yen).',
  fields: [
    {
      name: 'orderId',
      type: 'string',
    },
    {
      name: 'customerId',
      type: 'string',
    },
    {
      name: 'currency',
      type: 'string',
      doc: 'Active ISO 4217 code',
    },
    {
      name: 'createdAt',
      type: 'string',
      doc: 'ISO-8601 date-time with Z or an offset, as produced',
    },
    {
      name: 'items',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'LineItem',
          fields: [
            {
              name: 'sku',
              type: 'string',
            },
            {
              name: 'quantity',
              type: 'int',
            },
            {
              name: 'unitPriceMinor',
              type: 'long',
            },
          ],
        },
      },
    },
  ],
} as const;

/** `orderResult.avsc`. */
export const ORDER_RESULT_AVRO_SCHEMA = {
  type: 'record',
  name: 'OrderResult',
  namespace: 'msk_order_pipeline.orders.v1',
  doc: 'A result written to orders.processed. A rejection is a result, not an error.',
  fields: [
    {
      name: 'orderId',
      type: 'string',
    },
    {
      name: 'customerId',
      type: 'string',
    },
    {
      name: 'currency',
      type: 'string',
    },
    {
      name: 'itemCount',
      type: 'int',
    },
    {
      name: 'totalMinor',
      type: ['null', 'long'],
      default: null,
      doc: 'null only with AMOUNT_OVERFLOW',
    },
    {
      name: 'status',
      type: {
        type: 'enum',
        name: 'OrderStatus',
        symbols: ['accepted', 'rejected'],
      },
    },
    {
      name: 'reasonCode',
      type: [
        'null',
        {
          type: 'enum',
          name: 'ReasonCode',
          symbols: [
            'DUPLICATE_SKU',
            'CREATED_IN_FUTURE',
            'AMOUNT_OVERFLOW',
            'EMPTY_TOTAL',
            'TOTAL_EXCEEDS_LIMIT',
          ],
        },
      ],
      default: null,
    },
    {
      name: 'processedAt',
      type: 'string',
      doc: 'ISO-8601, UTC',
    },
    {
      name: 'source',
      type: [
        'null',
        {
          type: 'record',
          name: 'RecordSource',
          fields: [
            {
              name: 'topic',
              type: 'string',
            },
            {
              name: 'partition',
              type: 'int',
            },
            {
              name: 'offset',
              type: 'long',
            },
          ],
        },
      ],
      default: null,
    },
  ],
} as const;

/** `order.proto`, verbatim. */
export const ORDER_PROTO = `// An order as processOrders reads it: prices in exact integer minor units (cents, fils, yen).
// Field names become lowerCamelCase in JSON and in protobufjs objects (orderId, unitPriceMinor).
syntax = "proto3";

package msk_order_pipeline.orders.v1;

message LineItem {
  string sku = 1;
  int32 quantity = 2;
  int64 unit_price_minor = 3;
}

message Order {
  string order_id = 1;
  string customer_id = 2;
  // active ISO 4217 code
  string currency = 3;
  // ISO-8601 date-time with Z or an offset, as produced
  string created_at = 4;
  repeated LineItem items = 5;
}
`;

/** `orderResult.proto`, verbatim. */
export const ORDER_RESULT_PROTO = `// A result written to orders.processed. A rejection is a result, not an error.
syntax = "proto3";

package msk_order_pipeline.orders.v1;

message RecordSource {
  string topic = 1;
  int32 partition = 2;
  int64 offset = 3;
}

message OrderResult {
  string order_id = 1;
  string customer_id = 2;
  string currency = 3;
  int32 item_count = 4;
  // absent only with AMOUNT_OVERFLOW
  optional int64 total_minor = 5;
  // accepted | rejected
  string status = 6;
  // set when, and only when, status is rejected
  optional string reason_code = 7;
  // ISO-8601, UTC
  string processed_at = 8;
  optional RecordSource source = 9;
}
`;

/** Fully qualified Protobuf message names. */
export const ORDER_PROTO_TYPE = 'msk_order_pipeline.orders.v1.Order';
export const ORDER_RESULT_PROTO_TYPE = 'msk_order_pipeline.orders.v1.OrderResult';
