/**
 * The Kafka event-source mappings a `serverless.yml` deploys, read the way the
 * Serverless Framework (v3 line, `osls`) compiles them: each `msk`/`kafka` event of a
 * function becomes an `AWS::Lambda::EventSourceMapping` whose Properties are then
 * deep-merged with `resources.Resources.<LogicalId>` and shallow-assigned with
 * `resources.extensions.<LogicalId>.Properties` (the `msk` event has no keys for
 * response types, retries or destinations). Mappings declared directly as resources are
 * read too.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-eventsourcemapping.html
 */
import { ConfigurationError } from '../../lib/errors.ts';
import { schemaRegistrySetting } from './schemaRegistrySetting.ts';
import { loadServerlessConfig } from './serverlessConfig.ts';
import type { LocalMapping, ReadMappingsOptions, StartingPosition } from './types.ts';

type Props = Record<string, unknown>;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const alphaNumeric = (s: string) => upperFirst(s.replace(/[^0-9A-Za-z]/g, ''));
/** `getNormalizedFunctionName` of the framework: `process-orders` → `ProcessDashorders`. */
const normalizedFunctionName = (key: string) =>
  upperFirst(key.replace(/-/g, 'Dash').replace(/_/g, 'Underscore'));

/** The framework's `getMskClusterNameToken`: the `Ref`, the import, or the cluster name in the ARN. */
const clusterNameToken = (arn: unknown): string => {
  if (isObject(arn)) {
    if (typeof arn['Fn::ImportValue'] === 'string') return arn['Fn::ImportValue'];
    if (typeof arn.Ref === 'string') return arn.Ref;
    return '';
  }
  return typeof arn === 'string' ? (arn.split('/')[1] ?? '') : '';
};

const mskLogicalId = (fn: string, arn: unknown, topic: string) =>
  `${normalizedFunctionName(fn)}EventSourceMappingMSK${alphaNumeric(clusterNameToken(arn)).slice(0, 79)}${alphaNumeric(topic).slice(0, 79)}`;

const kafkaLogicalId = (fn: string, topic: string) =>
  `${normalizedFunctionName(fn)}EventSourceMappingKafka${alphaNumeric(topic).slice(0, 158)}`;

/** Lodash-like deep merge of plain objects (arrays and scalars replace). */
const deepMerge = (target: Props, source: Props): Props => {
  const out: Props = { ...target };
  for (const [k, v] of Object.entries(source)) {
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Props, v) : v;
  }
  return out;
};

interface Field {
  where: string;
  name: string;
}

const numberField = (
  value: unknown,
  fallback: number,
  { where, name }: Field,
  range: { min: number; max: number; integer?: boolean },
): number => {
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (
    typeof n !== 'number' ||
    !Number.isFinite(n) ||
    n < range.min ||
    n > range.max ||
    (range.integer && !Number.isInteger(n))
  ) {
    throw new ConfigurationError(
      `${where}: ${name} ${JSON.stringify(value)} is not ${range.integer ? 'an integer' : 'a number'} from ${range.min} to ${range.max}`,
    );
  }
  return n;
};

const booleanField = (value: unknown, fallback: boolean, { where, name }: Field): boolean => {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new ConfigurationError(`${where}: ${name} ${JSON.stringify(value)} is not a boolean`);
};

const STARTING_POSITIONS: ReadonlySet<string> = new Set<StartingPosition>([
  'TRIM_HORIZON',
  'LATEST',
  'AT_TIMESTAMP',
]);

interface FunctionInfo {
  key: string;
  deployedName: string;
  handler: string;
  timeoutSeconds: number;
  memorySize: number;
  environment: Record<string, string>;
  warnings: string[];
}

/** Turns compiled mapping Properties into a {@link LocalMapping}. */
const toLocalMapping = (
  fn: FunctionInfo,
  logicalId: string,
  eventSource: LocalMapping['eventSource'],
  props: Props,
  context: { service: string; stage: string; region: string; template: Props },
): LocalMapping => {
  const where = `${fn.key} (${logicalId})`;
  const warnings = [...fn.warnings];
  const topics = props.Topics;
  const topic = Array.isArray(topics) ? topics[0] : undefined;
  if (typeof topic !== 'string' || topic === '' || topic.includes('${')) {
    throw new ConfigurationError(
      `${where}: no topic, or it did not resolve (${JSON.stringify(topic)})`,
    );
  }
  if (Array.isArray(topics) && topics.length > 1) {
    warnings.push(`${where}: only the first of ${topics.length} topics is consumed`);
  }

  const startingPosition = props.StartingPosition ?? 'TRIM_HORIZON';
  if (typeof startingPosition !== 'string' || !STARTING_POSITIONS.has(startingPosition)) {
    throw new ConfigurationError(
      `${where}: StartingPosition ${JSON.stringify(startingPosition)} is not one of ${[...STARTING_POSITIONS].join(', ')}`,
    );
  }
  const startingPositionTimestamp =
    props.StartingPositionTimestamp === undefined
      ? undefined
      : numberField(
          props.StartingPositionTimestamp,
          0,
          { where, name: 'StartingPositionTimestamp' },
          {
            min: 0,
            max: Number.MAX_SAFE_INTEGER,
          },
        );
  if (startingPosition === 'AT_TIMESTAMP' && startingPositionTimestamp === undefined) {
    throw new ConfigurationError(`${where}: AT_TIMESTAMP needs StartingPositionTimestamp`);
  }

  const sourceConfig =
    eventSource === 'aws:kafka'
      ? props.AmazonManagedKafkaEventSourceConfig
      : props.SelfManagedKafkaEventSourceConfig;
  const groupId = isObject(sourceConfig) ? sourceConfig.ConsumerGroupId : undefined;
  // Lambda's default group id is the mapping's UUID; locally a stable name, so a
  // restarted mapping resumes where it stopped.
  const consumerGroupId =
    typeof groupId === 'string' && groupId !== ''
      ? groupId
      : `local-esm-${fn.deployedName}-${topic}`;

  const responseTypes = props.FunctionResponseTypes;
  const reportBatchItemFailures =
    Array.isArray(responseTypes) && responseTypes.includes('ReportBatchItemFailures');
  if (responseTypes !== undefined && !Array.isArray(responseTypes)) {
    warnings.push(
      `${where}: FunctionResponseTypes ${JSON.stringify(responseTypes)} is not a list locally: partial batch responses are ignored`,
    );
  }

  let onFailureDestination: string | undefined;
  const destinationConfig = props.DestinationConfig;
  const onFailure = isObject(destinationConfig) ? destinationConfig.OnFailure : undefined;
  const destination = isObject(onFailure) ? onFailure.Destination : undefined;
  if (typeof destination === 'string' && destination.startsWith('kafka://')) {
    onFailureDestination = destination.slice('kafka://'.length);
    if (onFailureDestination === '' || onFailureDestination.includes('${')) {
      throw new ConfigurationError(
        `${where}: on-failure destination ${destination} did not resolve`,
      );
    }
  } else if (destination !== undefined) {
    warnings.push(
      `${where}: on-failure destination ${JSON.stringify(destination)} is not kafka://<topic>: not emulated, failed records are discarded locally`,
    );
  }

  const maximumRecordAgeInSeconds = numberField(
    props.MaximumRecordAgeInSeconds,
    -1,
    { where, name: 'MaximumRecordAgeInSeconds' },
    { min: -1, max: 604_800, integer: true },
  );
  if (maximumRecordAgeInSeconds !== -1) {
    warnings.push(
      `${where}: MaximumRecordAgeInSeconds is not emulated (records never expire locally)`,
    );
  }
  if (props.FilterCriteria !== undefined) {
    warnings.push(`${where}: FilterCriteria is not emulated (every record is delivered)`);
  }

  const arn = props.EventSourceArn;
  const mapping: LocalMapping = {
    functionName: fn.key,
    deployedFunctionName: fn.deployedName,
    handlerPath: fn.handler,
    logicalId,
    eventSource,
    topic,
    batchSize: numberField(
      props.BatchSize,
      100,
      { where, name: 'BatchSize' },
      {
        min: 1,
        max: 10_000,
        integer: true,
      },
    ),
    // MSK's default batching window is 500 ms.
    maximumBatchingWindowInSeconds: numberField(
      props.MaximumBatchingWindowInSeconds,
      0.5,
      { where, name: 'MaximumBatchingWindowInSeconds' },
      { min: 0, max: 300 },
    ),
    startingPosition: startingPosition as StartingPosition,
    consumerGroupId,
    enabled: booleanField(props.Enabled, true, { where, name: 'Enabled' }),
    reportBatchItemFailures,
    maximumRetryAttempts: numberField(
      props.MaximumRetryAttempts,
      -1,
      { where, name: 'MaximumRetryAttempts' },
      { min: -1, max: 10_000, integer: true },
    ),
    maximumRecordAgeInSeconds,
    bisectBatchOnFunctionError: booleanField(props.BisectBatchOnFunctionError, false, {
      where,
      name: 'BisectBatchOnFunctionError',
    }),
    timeoutSeconds: fn.timeoutSeconds,
    memorySize: fn.memorySize,
    region: context.region,
    service: context.service,
    stage: context.stage,
    environment: fn.environment,
    warnings,
  };
  if (typeof arn === 'string' && arn.startsWith('arn:aws:kafka:')) mapping.eventSourceArn = arn;
  if (startingPositionTimestamp !== undefined)
    mapping.startingPositionTimestamp = startingPositionTimestamp;
  if (onFailureDestination !== undefined) mapping.onFailureDestination = onFailureDestination;
  Object.assign(mapping, schemaRegistrySetting(sourceConfig, context.template, where, warnings));
  return mapping;
};

const stringEnvironment = (value: unknown, where: string, warnings: string[]) => {
  const out: Record<string, string> = {};
  if (!isObject(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    // resolved to null (`${env:X, null}` unset): osls leaves the variable out
    if (v === null) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      out[k] = String(v);
    else
      warnings.push(
        `${where}: environment ${k} is not a plain value locally (${JSON.stringify(v)})`,
      );
  }
  return out;
};

/** The function a standalone mapping's `FunctionName` points at, if any. */
const functionOfReference = (ref: unknown, functions: FunctionInfo[]): FunctionInfo | undefined => {
  let logical: string | undefined;
  let name: string | undefined;
  if (isObject(ref)) {
    if (typeof ref.Ref === 'string') logical = ref.Ref;
    const getAtt = ref['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') logical = getAtt[0];
  } else if (typeof ref === 'string') {
    name = ref.slice(ref.lastIndexOf(':') + 1);
  }
  return functions.find(
    (f) =>
      (logical !== undefined && logical === `${normalizedFunctionName(f.key)}LambdaFunction`) ||
      (name !== undefined && (name === f.deployedName || name === f.key)),
  );
};

/**
 * Reads the Kafka event-source mappings of a `serverless.yml`: one entry per `msk` or
 * `kafka` event of each function (and per `AWS::Lambda::EventSourceMapping` declared
 * under `resources.Resources` for a function of the file).
 *
 * @throws ConfigurationError when the file cannot be read or a mapping's settings are
 * invalid or do not resolve (a topic left as `${...}`, a batch size of 0, ...).
 * @example
 * const [mapping] = readMappings('serverless.yml', { stage: 'dev' })
 *   .filter((m) => m.functionName === 'processOrders');
 * mapping.onFailureDestination // 'orders.dlq'
 */
export const readMappings = (
  serverlessYmlPath: string,
  options: ReadMappingsOptions = {},
): LocalMapping[] => {
  const { document, stage, region } = loadServerlessConfig(serverlessYmlPath, options);
  const serviceField = document.service;
  const service =
    typeof serviceField === 'string'
      ? serviceField
      : isObject(serviceField) && typeof serviceField.name === 'string'
        ? serviceField.name
        : 'service';
  const provider = isObject(document.provider) ? document.provider : {};
  const resourcesSection = isObject(document.resources) ? document.resources : {};
  const resources = isObject(resourcesSection.Resources) ? resourcesSection.Resources : {};
  const extensions = isObject(resourcesSection.extensions) ? resourcesSection.extensions : {};
  const context = { service, stage, region, template: resourcesSection };

  const functions: FunctionInfo[] = [];
  const eventsOf = new Map<string, unknown[]>();
  for (const [key, raw] of Object.entries(isObject(document.functions) ? document.functions : {})) {
    if (!isObject(raw)) continue;
    const where = `functions.${key}`;
    const warnings: string[] = [];
    if (typeof raw.handler !== 'string' || raw.handler === '') {
      if (raw.image !== undefined) continue; // a container image: nothing to import in-process
      throw new ConfigurationError(`${where}: no handler`);
    }
    functions.push({
      key,
      deployedName: typeof raw.name === 'string' ? raw.name : `${service}-${stage}-${key}`,
      handler: raw.handler,
      timeoutSeconds: numberField(
        raw.timeout ?? provider.timeout,
        6,
        { where, name: 'timeout' },
        {
          min: 1,
          max: 900,
        },
      ),
      memorySize: numberField(
        raw.memorySize ?? provider.memorySize,
        1024,
        { where, name: 'memorySize' },
        {
          min: 128,
          max: 10_240,
          integer: true,
        },
      ),
      environment: {
        ...stringEnvironment(provider.environment, 'provider', warnings),
        ...stringEnvironment(raw.environment, where, warnings),
      },
      warnings,
    });
    eventsOf.set(key, Array.isArray(raw.events) ? raw.events : []);
  }

  const extend = (logicalId: string, props: Props): Props => {
    let out = props;
    const override = resources[logicalId];
    if (isObject(override) && isObject(override.Properties))
      out = deepMerge(out, override.Properties);
    const extension = extensions[logicalId];
    if (isObject(extension) && isObject(extension.Properties))
      out = { ...out, ...extension.Properties };
    return out;
  };

  const mappings: LocalMapping[] = [];
  const used = new Set<string>();
  for (const fn of functions) {
    for (const event of eventsOf.get(fn.key) ?? []) {
      if (!isObject(event)) continue;
      const msk = isObject(event.msk) ? event.msk : undefined;
      const kafka = isObject(event.kafka) ? event.kafka : undefined;
      const e = msk ?? kafka;
      if (!e) continue;
      const topic = typeof e.topic === 'string' ? e.topic : '';
      let logicalId = msk ? mskLogicalId(fn.key, e.arn, topic) : kafkaLogicalId(fn.key, topic);
      if (msk && !Object.hasOwn(extensions, logicalId)) {
        // An ARN left as a variable names the cluster differently than on deploy; an
        // extension for this function and topic is still the one meant.
        const prefix = `${normalizedFunctionName(fn.key)}EventSourceMappingMSK`;
        const suffix = alphaNumeric(topic).slice(0, 79);
        const candidates = Object.keys(extensions).filter(
          (id) => id.startsWith(prefix) && id.endsWith(suffix),
        );
        if (candidates.length === 1) logicalId = candidates[0]!;
      }
      used.add(logicalId);
      const props: Props = {
        StartingPosition: e.startingPosition ?? 'TRIM_HORIZON',
        Topics: [topic],
      };
      if (msk) props.EventSourceArn = e.arn;
      if (e.startingPositionTimestamp !== undefined)
        props.StartingPositionTimestamp = e.startingPositionTimestamp;
      // As the framework compiles them: falsy values are left out, so
      // `maximumBatchingWindow: 0` deploys Lambda's default window (500 ms for Kafka).
      if (e.batchSize) props.BatchSize = e.batchSize;
      if (e.maximumBatchingWindow) props.MaximumBatchingWindowInSeconds = e.maximumBatchingWindow;
      if (e.enabled !== undefined) props.Enabled = e.enabled;
      if (e.filterPatterns !== undefined) props.FilterCriteria = e.filterPatterns;
      if (e.consumerGroupId !== undefined) {
        props[msk ? 'AmazonManagedKafkaEventSourceConfig' : 'SelfManagedKafkaEventSourceConfig'] = {
          ConsumerGroupId: e.consumerGroupId,
        };
      }
      mappings.push(
        toLocalMapping(
          fn,
          logicalId,
          msk ? 'aws:kafka' : 'SelfManagedKafka',
          extend(logicalId, props),
          context,
        ),
      );
    }
  }

  // An extension of a mapping that is not generated fails a deploy; say so here too.
  for (const id of Object.keys(extensions)) {
    if (used.has(id) || Object.hasOwn(resources, id) || !id.includes('EventSourceMapping'))
      continue;
    for (const m of mappings) {
      if (id.startsWith(`${normalizedFunctionName(m.functionName)}EventSourceMapping`)) {
        m.warnings.push(
          `resources.extensions.${id} extends no mapping (this one is ${m.logicalId}): its settings are not applied`,
        );
      }
    }
  }

  for (const [logicalId, resource] of Object.entries(resources)) {
    if (used.has(logicalId) || !isObject(resource)) continue;
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping' || !isObject(resource.Properties))
      continue;
    const props = extend(logicalId, resource.Properties);
    if (!Array.isArray(props.Topics)) continue; // not a Kafka mapping
    const fn = functionOfReference(props.FunctionName, functions);
    if (!fn) continue;
    const eventSource =
      props.SelfManagedEventSource !== undefined ? 'SelfManagedKafka' : 'aws:kafka';
    mappings.push(toLocalMapping(fn, logicalId, eventSource, props, context));
  }
  return mappings;
};
