/**
 * The schema version ids this project frames its own values with (produceOrders' orders,
 * processOrders' results), looked up in the registry by the definition the bundle ships
 * when no id is configured. Versions are immutable, so an id found is kept for the
 * container's life; a failed look-up is tried again on the next call.
 * https://docs.aws.amazon.com/glue/latest/webapi/API_GetSchemaByDefinition.html
 */
import { ConfigurationError, RetriableError, safeMessage } from '../errors.ts';
import type { DataFormat } from './decodeOrder.ts';
import type { OrderSchemaKind } from './encode.ts';
import { registryDefinition, registrySchemaName } from './registryDefinitions.ts';

/**
 * The version id of `schemaName` whose definition is `definition`, `undefined` when the
 * registry holds none; throws when it cannot say (unreachable, throttled, aborted).
 */
export type SchemaIdLookUp = (
  schemaName: string,
  definition: string,
  signal: AbortSignal,
) => Promise<string | undefined>;

/**
 * Version ids by kind and format, from the registry, once per container.
 *
 * @example
 * const ids = new RegistryVersionIds(glueSchemaIdLookUp('orders'), 'orders');
 * const id = await ids.versionId('result', 'AVRO', deadline);
 */
export class RegistryVersionIds {
  readonly #lookUp: SchemaIdLookUp;
  readonly #registryName: string;
  readonly #timeoutMs: number;
  /** Found ids, and look-ups under way (concurrent callers share one). */
  readonly #ids = new Map<string, Promise<string>>();

  constructor(lookUp: SchemaIdLookUp, registryName: string, options: { timeoutMs?: number } = {}) {
    this.#lookUp = lookUp;
    this.#registryName = registryName;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  /**
   * The id of the shipped `kind` schema in `format`, looked up at most once per container
   * while it succeeds, bounded by `deadline` (epoch ms) and the per-call timeout.
   *
   * @throws ConfigurationError when the registry holds no version with the shipped
   *   definition (the schema is not registered, or registered with another text);
   *   RetriableError `TRANSIENT` when the registry did not answer in time.
   */
  versionId(kind: OrderSchemaKind, format: DataFormat, deadline: number): Promise<string> {
    const key = `${kind}/${format}`;
    let id = this.#ids.get(key);
    if (!id) {
      id = this.#find(kind, format, deadline);
      this.#ids.set(key, id);
      // only a found id is kept: a failure is asked again
      id.catch(() => this.#ids.delete(key));
    }
    return id;
  }

  async #find(kind: OrderSchemaKind, format: DataFormat, deadline: number): Promise<string> {
    const schemaName = registrySchemaName(kind, format);
    const signal = AbortSignal.timeout(
      Math.max(1, Math.min(this.#timeoutMs, deadline - Date.now())),
    );
    let id: string | undefined;
    try {
      id = await this.#lookUp(schemaName, registryDefinition(kind, format), signal);
    } catch (error) {
      throw new RetriableError(
        'TRANSIENT',
        `the schema registry did not answer for schema ${schemaName}: ${safeMessage(error, 200)}`,
        { cause: error },
      );
    }
    if (!id)
      throw new ConfigurationError(
        `schema registry ${this.#registryName}: schema ${schemaName} has no version with the ${format} ${kind} definition this function ships (src/lib/orders/schemas/); register it, or configure its version id`,
      );
    return id;
  }
}
