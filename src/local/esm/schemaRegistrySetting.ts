/**
 * A mapping's `SchemaRegistryConfig` as the local mapping reads it from serverless.yml.
 * The template writes it with CloudFormation conditions on stage parameters (the registry
 * is optional), so the few intrinsics it uses are evaluated here against the template's
 * `Parameters` (their defaults, which carry the resolved `${param:…}`) and `Conditions`.
 * https://docs.aws.amazon.com/lambda/latest/api/API_KafkaSchemaRegistryConfig.html
 */
import { ConfigurationError } from '../../lib/errors.ts';
import type { LocalMapping } from './types.ts';

type Props = Record<string, unknown>;

const isObject = (value: unknown): value is Props =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const GLUE_REGISTRY_ARN = /^arn:aws[a-z-]*:glue:[a-z0-9-]+:\d{12}:registry\/[^/]+$/;

/** `resources` of serverless.yml: where `Parameters` and `Conditions` live. */
export type TemplateSection = Props;

const section = (template: TemplateSection, name: string): Props => {
  const value = template[name];
  return isObject(value) ? value : {};
};

const evaluate = (node: unknown, template: TemplateSection): unknown => {
  if (Array.isArray(node)) return node.map((n) => evaluate(n, template));
  if (!isObject(node)) return node;
  const [key, ...rest] = Object.keys(node);
  const arg = key === undefined ? undefined : node[key];
  const all = () => (Array.isArray(arg) ? arg.map((n) => evaluate(n, template)) : []);
  if (key !== undefined && rest.length === 0) {
    switch (key) {
      case 'Ref': {
        if (arg === 'AWS::NoValue') return undefined;
        const parameter = section(template, 'Parameters')[String(arg)];
        if (!isObject(parameter) || parameter.Default === undefined)
          throw new Error(`parameter ${String(arg)} has no default`);
        return parameter.Default;
      }
      case 'Condition':
        return Boolean(evaluate(section(template, 'Conditions')[String(arg)], template));
      case 'Fn::If': {
        const [name, yes, no] = Array.isArray(arg) ? arg : [];
        const holds = evaluate({ Condition: name }, template);
        return evaluate(holds ? yes : no, template);
      }
      case 'Fn::Equals': {
        const [a, b] = all();
        return JSON.stringify(a) === JSON.stringify(b);
      }
      case 'Fn::Not':
        return !all()[0];
      case 'Fn::And':
        return all().every(Boolean);
      case 'Fn::Or':
        return all().some(Boolean);
      case 'Fn::Select': {
        const [index, list] = all();
        return Array.isArray(list) ? list[Number(index)] : undefined;
      }
      case 'Fn::Split': {
        const [by, text] = all();
        return String(text).split(String(by));
      }
      default:
        if (key.startsWith('Fn::')) throw new Error(`${key} is not evaluated locally`);
    }
  }
  const out: Props = {};
  for (const [k, v] of Object.entries(node)) {
    const value = evaluate(v, template);
    if (value !== undefined) out[k] = value;
  }
  return out;
};

/**
 * The local mapping's schema-registry setting from the `…EventSourceConfig` of a mapping:
 * `{ schemaRegistry }` for a Glue registry, `{}` for none. A registry the local mapping
 * cannot emulate (Confluent-compatible, or a config it cannot resolve) is a warning.
 *
 * @example
 * Object.assign(mapping, schemaRegistrySetting(props.AmazonManagedKafkaEventSourceConfig, resources, where, warnings));
 * mapping.schemaRegistry; // { uri: 'arn:aws:glue:…:registry/orders', eventRecordFormat: 'SOURCE' }
 */
export const schemaRegistrySetting = (
  sourceConfig: unknown,
  template: TemplateSection,
  where: string,
  warnings: string[],
): Pick<LocalMapping, 'schemaRegistry'> => {
  const raw = isObject(sourceConfig) ? sourceConfig.SchemaRegistryConfig : undefined;
  if (raw === undefined) return {};
  let config: unknown;
  try {
    config = evaluate(raw, template);
  } catch (error) {
    warnings.push(
      `${where}: SchemaRegistryConfig not emulated, it does not resolve locally (${(error as Error).message})`,
    );
    return {};
  }
  if (!isObject(config)) return {};
  const uri = config.SchemaRegistryURI;
  if (typeof uri !== 'string' || uri === '') return {};
  const format = config.EventRecordFormat;
  if (format !== 'JSON' && format !== 'SOURCE')
    throw new ConfigurationError(
      `${where}: SchemaRegistryConfig.EventRecordFormat ${JSON.stringify(format)} is not JSON or SOURCE`,
    );
  if (!GLUE_REGISTRY_ARN.test(uri)) {
    // a URL may carry credentials: not repeated
    warnings.push(
      `${where}: a Confluent-compatible schema registry is not emulated locally (records are delivered as read)`,
    );
    return {};
  }
  const attributes = Array.isArray(config.SchemaValidationConfigs)
    ? config.SchemaValidationConfigs.map((c) => (isObject(c) ? c.Attribute : c))
    : [];
  if (attributes.includes('KEY'))
    warnings.push(`${where}: SchemaValidationConfigs KEY is not emulated (only VALUE)`);
  return { schemaRegistry: { uri, eventRecordFormat: format } };
};
