/**
 * The schema definitions as the registry holds them: the texts of `src/lib/orders/schemas/`,
 * verbatim, because Glue finds a version by its definition's exact text
 * (`GetSchemaByDefinition`) and a bundle cannot read the files. Kept equal to the files by
 * test/unit/formats/registryVersionIds.test.ts; the Protobuf texts are those of definitions.ts.
 * https://docs.aws.amazon.com/glue/latest/webapi/API_GetSchemaByDefinition.html
 */
import type { DataFormat } from './decodeOrder.ts';
import { ORDER_PROTO, ORDER_RESULT_PROTO } from './definitions.ts';
import type { OrderSchemaKind } from './encode.ts';

/** `order.avsc`, verbatim. */
const ORDER_AVSC = `{
  "type": "record",
  "name": "Order",
  "namespace": "msk_order_pipeline.orders.v1",
  "doc": "An order as processOrders reads it: prices in exact integer minor units (cents, fils, yen).",
  "fields": [
    { "name": "orderId", "type": "string" },
    { "name": "customerId", "type": "string" },
    { "name": "currency", "type": "string", "doc": "Active ISO 4217 code" },
    { "name": "createdAt", "type": "string", "doc": "ISO-8601 date-time with Z or an offset, as produced" },
    {
      "name": "items",
      "type": {
        "type": "array",
        "items": {
          "type": "record",
          "name": "LineItem",
          "fields": [
            { "name": "sku", "type": "string" },
            { "name": "quantity", "type": "int" },
            { "name": "unitPriceMinor", "type": "long" }
          ]
        }
      }
    }
  ]
}
`;

/** `orderResult.avsc`, verbatim. */
const ORDER_RESULT_AVSC = `{
  "type": "record",
  "name": "OrderResult",
  "namespace": "msk_order_pipeline.orders.v1",
  "doc": "A result written to orders.processed. A rejection is a result, not an error.",
  "fields": [
    { "name": "orderId", "type": "string" },
    { "name": "customerId", "type": "string" },
    { "name": "currency", "type": "string" },
    { "name": "itemCount", "type": "int" },
    { "name": "totalMinor", "type": ["null", "long"], "default": null, "doc": "null only with AMOUNT_OVERFLOW" },
    { "name": "status", "type": { "type": "enum", "name": "OrderStatus", "symbols": ["accepted", "rejected"] } },
    {
      "name": "reasonCode",
      "type": [
        "null",
        {
          "type": "enum",
          "name": "ReasonCode",
          "symbols": ["DUPLICATE_SKU", "CREATED_IN_FUTURE", "AMOUNT_OVERFLOW", "EMPTY_TOTAL", "TOTAL_EXCEEDS_LIMIT"]
        }
      ],
      "default": null
    },
    { "name": "processedAt", "type": "string", "doc": "ISO-8601, UTC" },
    {
      "name": "source",
      "type": [
        "null",
        {
          "type": "record",
          "name": "RecordSource",
          "fields": [
            { "name": "topic", "type": "string" },
            { "name": "partition", "type": "int" },
            { "name": "offset", "type": "long" }
          ]
        }
      ],
      "default": null
    }
  ]
}
`;

/** `order.schema.json`, verbatim. */
const ORDER_JSON_SCHEMA = `{
  "$id": "urn:msk-order-pipeline:orders:v1:order",
  "title": "Order",
  "description": "An order as a producer sends it: each price as unitPriceMinor (exact integer minor units) or unitPrice (a decimal string), never a JSON number with a fraction.",
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "orderId": {
      "type": "string",
      "pattern": "^[A-Za-z0-9._:-]{1,64}$"
    },
    "customerId": {
      "type": "string",
      "pattern": "^[A-Za-z0-9._:-]{1,64}$"
    },
    "currency": {
      "type": "string",
      "enum": [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "USN",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XCG",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG"
      ]
    },
    "createdAt": {
      "type": "string",
      "format": "date-time",
      "pattern": "^(?:(?:\\\\d\\\\d[2468][048]|\\\\d\\\\d[13579][26]|\\\\d\\\\d0[48]|[02468][048]00|[13579][26]00)-02-29|\\\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\\\d|30)|(?:02)-(?:0[1-9]|1\\\\d|2[0-8])))T(?:(?:[01]\\\\d|2[0-3]):[0-5]\\\\d:[0-5]\\\\d(?:\\\\.\\\\d+)?(?:Z|([+-](?:[01]\\\\d|2[0-3]):[0-5]\\\\d)))$"
    },
    "items": {
      "minItems": 1,
      "maxItems": 500,
      "type": "array",
      "items": {
        "type": "object",
        "properties": {
          "sku": {
            "type": "string",
            "pattern": "^[A-Za-z0-9._:-]{1,64}$"
          },
          "quantity": {
            "type": "integer",
            "minimum": 1,
            "maximum": 100000
          },
          "unitPriceMinor": {
            "type": "integer",
            "minimum": 0,
            "maximum": 9007199254740991
          },
          "unitPrice": {
            "type": "string",
            "maxLength": 32
          }
        },
        "required": ["sku", "quantity"]
      }
    }
  },
  "required": ["orderId", "customerId", "currency", "createdAt", "items"]
}
`;

/** `orderResult.schema.json`, verbatim. */
const ORDER_RESULT_JSON_SCHEMA = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "urn:msk-order-pipeline:orders:v1:order-result",
  "title": "OrderResult",
  "description": "A result written to orders.processed. A rejection is a result, not an error.",
  "type": "object",
  "properties": {
    "orderId": { "type": "string" },
    "customerId": { "type": "string" },
    "currency": { "type": "string" },
    "itemCount": { "type": "integer", "minimum": 1 },
    "totalMinor": {
      "description": "Exact integer minor units; null only with AMOUNT_OVERFLOW",
      "anyOf": [
        { "type": "integer", "minimum": 0, "maximum": 9007199254740991 },
        { "type": "null" }
      ]
    },
    "status": { "type": "string", "enum": ["accepted", "rejected"] },
    "reasonCode": {
      "type": "string",
      "enum": [
        "DUPLICATE_SKU",
        "CREATED_IN_FUTURE",
        "AMOUNT_OVERFLOW",
        "EMPTY_TOTAL",
        "TOTAL_EXCEEDS_LIMIT"
      ]
    },
    "processedAt": { "type": "string", "format": "date-time" },
    "source": {
      "type": "object",
      "properties": {
        "topic": { "type": "string" },
        "partition": { "type": "integer", "minimum": 0 },
        "offset": { "type": "integer", "minimum": 0 }
      },
      "required": ["topic", "partition", "offset"]
    }
  },
  "required": [
    "orderId",
    "customerId",
    "currency",
    "itemCount",
    "totalMinor",
    "status",
    "processedAt"
  ]
}
`;

const DEFINITIONS: Record<OrderSchemaKind, Record<DataFormat, string>> = {
  order: { AVRO: ORDER_AVSC, PROTOBUF: ORDER_PROTO, JSON: ORDER_JSON_SCHEMA },
  result: { AVRO: ORDER_RESULT_AVSC, PROTOBUF: ORDER_RESULT_PROTO, JSON: ORDER_RESULT_JSON_SCHEMA },
};

/**
 * The text to register, and to look a version up by, for a kind and format.
 *
 * @example
 * registryDefinition('result', 'AVRO'); // the text of orderResult.avsc
 */
export const registryDefinition = (kind: OrderSchemaKind, format: DataFormat): string =>
  DEFINITIONS[kind][format];

/**
 * The Glue schema name of a kind and format, as `npm run stack:up` registers it:
 * `order-avro`, `result-protobuf`, …
 *
 * @example
 * registrySchemaName('order', 'JSON'); // 'order-json'
 */
export const registrySchemaName = (kind: OrderSchemaKind, format: DataFormat): string =>
  `${kind}-${format.toLowerCase()}`;
