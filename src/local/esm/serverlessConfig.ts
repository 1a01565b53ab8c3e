/**
 * Reads `serverless.yml` as the local tooling needs it: CloudFormation short tags
 * (`!Ref`, `!GetAtt`, `!Sub`, ...) become their long form instead of breaking the parse,
 * and the Serverless variables that can be known offline are resolved:
 * `${self:...}`, `${param:...}`, `${env:...}`, `${opt:stage|region}`, `${sls:stage}`,
 * `${aws:region|accountId}`, with `, fallback` values. Anything else (`${ssm:...}`,
 * `${file(...)}`, `${cf:...}`, CloudFormation's own `${AWS::Region}`) stays literal,
 * unless it has a fallback.
 */
import { readFileSync } from 'node:fs';
import { type CollectionTag, parse, type ScalarTag } from 'yaml';
import { ConfigurationError } from '../../lib/errors.ts';

const INTRINSICS = [
  'Base64',
  'Cidr',
  'FindInMap',
  'GetAZs',
  'ImportValue',
  'Join',
  'Select',
  'Split',
  'Sub',
  'Transform',
  'And',
  'Equals',
  'If',
  'Not',
  'Or',
] as const;

const toJs = (node: { toJSON(): unknown }): unknown => node.toJSON();

// Each short tag in the three YAML node kinds it may be written as.
const cloudFormationTags = (): Array<ScalarTag | CollectionTag> => {
  const tags: Array<ScalarTag | CollectionTag> = [
    { tag: '!Ref', resolve: (value: string) => ({ Ref: value }) },
    { tag: '!Condition', resolve: (value: string) => ({ Condition: value }) },
    {
      tag: '!GetAtt',
      resolve: (value: string) => {
        const dot = value.indexOf('.');
        return { 'Fn::GetAtt': dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)] };
      },
    },
    { tag: '!GetAtt', collection: 'seq', resolve: (seq) => ({ 'Fn::GetAtt': toJs(seq) }) },
  ];
  for (const name of INTRINSICS) {
    const key = `Fn::${name}`;
    tags.push(
      { tag: `!${name}`, resolve: (value: string) => ({ [key]: value }) },
      { tag: `!${name}`, collection: 'seq', resolve: (seq) => ({ [key]: toJs(seq) }) },
      { tag: `!${name}`, collection: 'map', resolve: (map) => ({ [key]: toJs(map) }) },
    );
  }
  return tags;
};

/** Parses YAML text, CloudFormation short tags included. */
export const parseServerlessYaml = (text: string): Record<string, unknown> => {
  const doc: unknown = parse(text, { customTags: cloudFormationTags(), merge: true });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigurationError('serverless.yml: the document is not a mapping');
  }
  return doc as Record<string, unknown>;
};

export interface VariableSources {
  stage?: string;
  region?: string;
  params?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// The innermost `${...}`: no `$`, `{` or `}` inside, so nested variables resolve first.
const INNERMOST = /\$\{([^${}]*)\}/;
const UNRESOLVED = (i: number) => `\u0000${i}\u0000`;
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL marks variables left as written
const UNRESOLVED_MARK = /\u0000(\d+)\u0000/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: as above
const HAS_UNRESOLVED = /\u0000\d+\u0000/;
const NOT_FOUND = Symbol('not found');

/** Splits at commas outside quotes: `env:A, 'x, y'` → [`env:A`, `'x, y'`]. */
const splitTopLevel = (text: string): string[] => {
  const parts: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ',') {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
};

const literal = (text: string): unknown => {
  if (/^(['"]).*\1$/s.test(text)) return text.slice(1, -1);
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null') return null;
  return NOT_FOUND;
};

/**
 * Resolves the Serverless variables of a parsed `serverless.yml` (see the module
 * comment for which). Returns a new document; the stage and region it used are in
 * `stage` and `region`.
 */
export const resolveVariables = (
  root: Record<string, unknown>,
  sources: VariableSources = {},
): { document: Record<string, unknown>; stage: string; region: string } => {
  const env = sources.env ?? process.env;
  const params = isObject(root.params) ? root.params : {};
  const resolving = new Set<string>();
  let stage = sources.stage;
  let region = sources.region;

  const lookupSelf = (address: string): unknown => {
    if (resolving.has(address)) return NOT_FOUND; // a cycle: leave it literal
    let node: unknown = root;
    for (const part of address === '' ? [] : address.split('.')) {
      if (Array.isArray(node) && /^\d+$/.test(part)) node = node[Number(part)];
      else if (isObject(node) && Object.hasOwn(node, part)) node = node[part];
      else return NOT_FOUND;
    }
    resolving.add(address);
    try {
      return resolveNode(node);
    } finally {
      resolving.delete(address);
    }
  };

  const lookup = (source: string, address: string): unknown => {
    switch (source) {
      case 'self':
        return lookupSelf(address);
      case 'env':
        return env[address] ?? NOT_FOUND;
      case 'opt':
        if (address === 'stage') return sources.stage ?? NOT_FOUND;
        if (address === 'region') return sources.region ?? NOT_FOUND;
        return NOT_FOUND;
      case 'sls':
        if (address === 'stage') return stage ?? NOT_FOUND;
        if (address === 'instanceId') return 'local';
        return NOT_FOUND;
      case 'aws':
        if (address === 'region') return region ?? NOT_FOUND;
        if (address === 'accountId') return '000000000000';
        return NOT_FOUND;
      case 'param': {
        if (sources.params && Object.hasOwn(sources.params, address))
          return sources.params[address];
        const ofStage = stage !== undefined ? params[stage] : undefined;
        if (isObject(ofStage) && Object.hasOwn(ofStage, address))
          return resolveNode(ofStage[address]);
        const fallback = params.default;
        if (isObject(fallback) && Object.hasOwn(fallback, address))
          return resolveNode(fallback[address]);
        return NOT_FOUND;
      }
      default:
        return NOT_FOUND;
    }
  };

  const resolveVariable = (body: string): unknown => {
    const [primary = '', ...fallbacks] = splitTopLevel(body);
    const colon = primary.indexOf(':');
    let value: unknown = NOT_FOUND;
    if (colon > 0 && !HAS_UNRESOLVED.test(primary)) {
      value = lookup(primary.slice(0, colon).trim(), primary.slice(colon + 1).trim());
    }
    for (const fallback of fallbacks) {
      if (value !== NOT_FOUND && value !== null && value !== undefined) break;
      if (HAS_UNRESOLVED.test(fallback)) continue; // an unresolved variable: try the next one
      value = literal(fallback);
      if (value === NOT_FOUND) value = fallback; // the text of an already resolved variable
    }
    // null (a `, null` fallback) is a value: osls leaves such a key out
    return value === undefined ? NOT_FOUND : value;
  };

  const resolveString = (text: string): unknown => {
    if (!text.includes('${')) return text;
    const unresolved: string[] = [];
    let current = text;
    for (let guard = 0; guard < 1000; guard++) {
      const m = INNERMOST.exec(current);
      if (!m) break;
      const value = resolveVariable(m[1] ?? '');
      const whole = m.index === 0 && m[0].length === current.length;
      if (value === NOT_FOUND || (!whole && typeof value === 'object')) {
        unresolved.push(m[0].replace(UNRESOLVED_MARK, (_, i) => unresolved[Number(i)] ?? ''));
        current = `${current.slice(0, m.index)}${UNRESOLVED(unresolved.length - 1)}${current.slice(m.index + m[0].length)}`;
        continue;
      }
      if (whole) return value;
      current = `${current.slice(0, m.index)}${String(value)}${current.slice(m.index + m[0].length)}`;
    }
    return current.replace(UNRESOLVED_MARK, (_, i) => unresolved[Number(i)] ?? '');
  };

  const resolveNode = (node: unknown): unknown => {
    if (typeof node === 'string') return resolveString(node);
    if (Array.isArray(node)) return node.map(resolveNode);
    if (isObject(node)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) out[k] = resolveNode(v);
      return out;
    }
    return node;
  };

  const provider = isObject(root.provider) ? root.provider : {};
  if (stage === undefined) {
    const s = resolveNode(provider.stage);
    stage = typeof s === 'string' && !s.includes('${') ? s : 'dev';
  }
  if (region === undefined) {
    const r = resolveNode(provider.region);
    region = typeof r === 'string' && !r.includes('${') ? r : 'us-east-1';
  }
  const document = resolveNode(root) as Record<string, unknown>;
  return { document, stage, region };
};

/** Reads, parses and resolves a `serverless.yml`. */
export const loadServerlessConfig = (path: string, sources: VariableSources = {}) => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return resolveVariables(parseServerlessYaml(text), sources);
};
