/**
 * The names processOrders and produceOrders need from the Glue SDK, re-exported statically
 * so the bundler keeps only them (a dynamic import of the package itself would keep every
 * command). Imported dynamically by glueLookUp.ts.
 */
export {
  GetSchemaByDefinitionCommand,
  GetSchemaVersionCommand,
  GlueClient,
} from '@aws-sdk/client-glue';
