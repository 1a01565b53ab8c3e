/**
 * What `serverless package` produces, checked the way a reviewer of the deployment
 * would: the functions, the two Kafka event-source mappings with their error
 * handling, the idempotency table, least-privilege IAM, and the bundles' sizes.
 *
 * Packaging runs offline (osls, dummy credentials, no login) into a temporary
 * directory, for the default (MSK, IAM) stage parameters, for MSK with SCRAM, and for
 * self-managed Kafka (`kafkaSource=selfManaged`). The template is then resolved for
 * the stage's region and account, so the assertions read concrete ARNs instead of
 * CloudFormation functions.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BundleReport,
  bundleBytes,
  bundleMakeup,
  FUNCTIONS,
  formatReports,
} from '../../../scripts/build.ts';
import { ensurePythonTools } from '../../../scripts/stack.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SERVERLESS_BIN = join(ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');

const STAGE = 'test';
const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
// A cluster not named "orders": the mapping logical ids must not depend on its name.
const CLUSTER = `arn:aws:kafka:${REGION}:${ACCOUNT}:cluster/test-cluster/1111aaaa-2222-bbbb-3333-cccc4444dddd-7`;
const CLUSTER_PATH = 'test-cluster/1111aaaa-2222-bbbb-3333-cccc4444dddd-7';
const SCRAM_SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:AmazonMSK_orders-test-AbCdEf`;
const SCRAM_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0000aaaa-1111-bbbb-2222-cccc3333dddd`;
// Self-managed Kafka: any secret name (no AmazonMSK_ prefix), brokers outside AWS's names.
const SELF_MANAGED_SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:orders-kafka-AbCdEf`;
const SELF_MANAGED_BROKERS = ['kafka-1.orders.example.com:9096', 'kafka-2.orders.example.com:9096'];
const ALARM_TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:orders-alarms`;
const PREFIX = `msk-order-pipeline-${STAGE}`;
const MIB = 1024 * 1024;

// The keys under `resources.extensions` in serverless.yml: osls names a mapping
// <Fn>EventSourceMappingMSK<token of the cluster Ref><topic reduced to [A-Za-z0-9]>.
const MAPPING_IDS = {
  processOrders: 'ProcessOrdersEventSourceMappingMSKOrdersOrders',
  republishDlq: 'RepublishDlqEventSourceMappingMSKOrdersOrdersdlq',
} as const;
// ... and for `kafka` events: <Fn>EventSourceMappingKafka<topic reduced to [A-Za-z0-9]>.
const SELF_MANAGED_MAPPING_IDS = {
  processOrders: 'ProcessOrdersEventSourceMappingKafkaOrders',
  republishDlq: 'RepublishDlqEventSourceMappingKafkaOrdersdlq',
} as const;

// Actions granted on "*", as Lambda documents them for a function in a VPC and for a
// Kafka mapping's pollers: ec2:Describe* have no resource-level permissions.
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html
// https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html
const FUNCTION_NETWORK_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];
const MAPPING_NETWORK_ACTIONS = ['ec2:DescribeVpcs', 'ec2:DescribeSecurityGroups'];
const STAR_ONLY_ACTIONS = new Set([...FUNCTION_NETWORK_ACTIONS, ...MAPPING_NETWORK_ACTIONS]);

// Each function's role, in the template's logical ids.
const ROLES = {
  produceOrders: 'ProduceOrdersRole',
  processOrders: 'ProcessOrdersRole',
  republishDlq: 'RepublishDlqRole',
} as const;
type Fn = keyof typeof ROLES;

// ------------------------------------------------------------------ helpers

// biome-ignore lint/suspicious/noExplicitAny: a template is untyped JSON, read by the assertions
type Json = any;

type Template = {
  Parameters: Record<string, { Default?: string; AllowedValues?: string[] }>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Condition?: string; Properties: Record<string, Json> }>;
};

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

const NO_VALUE = Symbol('AWS::NoValue');

/**
 * Evaluates the intrinsic functions this template uses, with parameters at their
 * defaults, as CloudFormation would in REGION/ACCOUNT. GetAtt becomes `getatt:Res.Attr`.
 */
const resolveTemplate = (template: Template) => {
  const refs: Record<string, unknown> = {
    'AWS::Region': REGION,
    'AWS::AccountId': ACCOUNT,
    'AWS::Partition': 'aws',
    'AWS::StackName': `${PREFIX}`,
  };
  for (const [name, p] of Object.entries(template.Parameters ?? {})) refs[name] = p.Default;
  const conditions: Record<string, boolean> = {};
  const evaluate = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(evaluate).filter((v) => v !== NO_VALUE);
    if (node === null || typeof node !== 'object') return node;
    const keys = Object.keys(node);
    const [fn] = keys;
    const arg = node[fn as string];
    if (keys.length === 1) {
      switch (fn) {
        case 'Ref':
          if (arg === 'AWS::NoValue') return NO_VALUE;
          return arg in refs ? refs[arg] : `ref:${arg}`;
        case 'Fn::GetAtt':
          return `getatt:${arg.join('.')}`;
        case 'Fn::Join':
          return (evaluate(arg[1]) as unknown[]).join(arg[0]);
        case 'Fn::Split':
          return String(evaluate(arg[1])).split(arg[0]);
        case 'Fn::Select':
          return (evaluate(arg[1]) as unknown[])[Number(evaluate(arg[0]))];
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
          const values = evaluate(vars) as Record<string, unknown>;
          return (text as string).replace(/\$\{([^}]+)\}/g, (_, name: string) => {
            const value = name in values ? values[name] : refs[name];
            if (value === undefined) throw new Error(`Fn::Sub: no value for \${${name}}`);
            return String(value);
          });
        }
        case 'Fn::Equals':
          return evaluate(arg[0]) === evaluate(arg[1]);
        case 'Fn::Not':
          return !evaluate(arg[0]);
        case 'Fn::And':
          return (arg as Json[]).every((c) => evaluate(c) === true);
        case 'Condition':
          if (!(arg in conditions)) throw new Error(`Condition: unknown condition ${arg}`);
          return conditions[arg];
        case 'Fn::If':
          if (!(arg[0] in conditions)) throw new Error(`Fn::If: unknown condition ${arg[0]}`);
          return evaluate(conditions[arg[0]] ? arg[1] : arg[2]);
      }
    }
    return Object.fromEntries(
      Object.entries(node)
        .map(([k, v]) => [k, evaluate(v)])
        .filter(([, v]) => v !== NO_VALUE),
    );
  };
  for (const [name, expr] of Object.entries(template.Conditions ?? {}))
    conditions[name] = Boolean(evaluate(expr));
  const resources = Object.fromEntries(
    Object.entries(template.Resources)
      .filter(([, r]) => !r.Condition || conditions[r.Condition])
      .map(([id, r]) => [id, { ...r, Properties: evaluate(r.Properties ?? {}) }]),
  );
  return { resources, conditions };
};

/** Entry names of a zip file, from its central directory. */
const zipEntries = (zip: Buffer): string[] => {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('not a zip file');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('broken zip central directory');
    const nameLength = zip.readUInt16LE(at + 28);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return names;
};

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

const run = promisify(execFile);

/** `serverless package` for stage `test` into `out`; rejects with osls's output when it fails. */
const runPackage = async (params: Record<string, string>, out: string) => {
  const args = [SERVERLESS_BIN, 'package', '--stage', STAGE, '--region', REGION, '--package', out];
  for (const [name, value] of Object.entries(params)) args.push(`--param=${name}=${value}`);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: REGION,
  };
  try {
    await run(process.execPath, args, { cwd: ROOT, env, timeout: 120_000 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `serverless package failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
};

/** `serverless package` for stage `test` into a fresh directory; returns that directory. */
const packageStage = async (params: Record<string, string>) => {
  const out = mkdtempSync(join(tmpdir(), 'sls-package-'));
  await runPackage(params, out);
  return out;
};

const readTemplate = (dir: string) =>
  JSON.parse(
    readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as Template;

// ------------------------------------------------------------------ packaging

const STAGE_PARAMS = {
  mskClusterArn: CLUSTER,
  subnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  securityGroupIds: 'sg-0123456789abcdef0',
};

// No mskClusterArn: self-managed Kafka must not need one.
const SELF_MANAGED_PARAMS = {
  kafkaSource: 'selfManaged',
  kafkaBrokers: SELF_MANAGED_BROKERS.join(','),
  kafkaAuth: 'scram',
  kafkaScramSecretArn: SELF_MANAGED_SECRET,
  subnetIds: STAGE_PARAMS.subnetIds,
  securityGroupIds: STAGE_PARAMS.securityGroupIds,
};

type Resolved = ReturnType<typeof resolveTemplate>;

let iamDir: string;
let scramDir: string;
let selfManagedDir: string;
let raw: Template;
let iam: Resolved;
let scram: Resolved;
let selfManaged: Resolved;
let bundles: BundleReport[];

/** What `serverless package` bundled (its plugin runs scripts/build.ts), from the metafiles. */
const readBundles = (): BundleReport[] =>
  FUNCTIONS.map((fn) => {
    const meta = JSON.parse(readFileSync(join(ROOT, 'dist', `${fn}.meta.json`), 'utf8'));
    const file = join(ROOT, 'dist', fn, 'index.js');
    return {
      fn,
      file,
      bytes: bundleBytes(meta, ROOT),
      mapBytes: statSync(`${file}.map`).size,
      topPackages: bundleMakeup(meta),
    };
  });

beforeAll(async () => {
  // One after the other: osls stages its output in <service>/.serverless before moving it.
  iamDir = await packageStage(STAGE_PARAMS);
  scramDir = await packageStage({
    ...STAGE_PARAMS,
    kafkaAuth: 'scram',
    kafkaScramSecretArn: SCRAM_SECRET,
    kafkaScramSecretKmsKeyArn: SCRAM_KEY,
    // the second packaging also gives the alarms a topic (the first has none)
    alarmTopicArn: ALARM_TOPIC,
    mappingSystemLogLevel: 'DEBUG',
  });
  selfManagedDir = await packageStage(SELF_MANAGED_PARAMS);
  // what `serverless package` bundled last (its plugin builds on every packaging)
  bundles = readBundles();
  raw = readTemplate(iamDir);
  iam = resolveTemplate(raw);
  scram = resolveTemplate(readTemplate(scramDir));
  selfManaged = resolveTemplate(readTemplate(selfManagedDir));
}, 300_000);

afterAll(() => {
  for (const dir of [iamDir, scramDir, selfManagedDir])
    if (dir) rmSync(dir, { recursive: true, force: true });
});

const ofType = (t: Resolved, type: string) =>
  Object.entries(t.resources).filter(([, r]) => r.Type === type);

const roleOf = (t: Resolved, fn: Fn) => {
  const role = t.resources[ROLES[fn]];
  expect(role?.Type, `${ROLES[fn]}`).toBe('AWS::IAM::Role');
  return role!.Properties;
};

/** The statements of one function's role: inline, and customer-managed policies attached to it. */
const roleStatements = (t: Resolved, fn: Fn): Statement[] => {
  const props = roleOf(t, fn);
  const inline = (props.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }>).flatMap(
    (p) => p.PolicyDocument.Statement,
  );
  const attached = ((props.ManagedPolicyArns ?? []) as string[]).flatMap((arn) => {
    const id = /^ref:(.+)$/.exec(arn)?.[1];
    const policy = id === undefined ? undefined : t.resources[id];
    expect(policy?.Type, `managed policy ${arn}`).toBe('AWS::IAM::ManagedPolicy');
    return policy!.Properties.PolicyDocument.Statement as Statement[];
  });
  return [...inline, ...attached];
};

const allStatements = (t: Resolved): Statement[] =>
  (Object.keys(ROLES) as Fn[]).flatMap((fn) => roleStatements(t, fn));

const bySid = (t: Resolved, fn: Fn, sid: string) => {
  const found = roleStatements(t, fn).filter((s) => s.Sid === sid);
  expect(found, `${fn}: statement ${sid}`).toHaveLength(1);
  return found[0]!;
};

/** `action resource` for every pair a role grants whose action starts with `prefix`. */
const grants = (t: Resolved, fn: Fn, prefix: string): string[] =>
  roleStatements(t, fn)
    .flatMap((s) =>
      asList(s.Action)
        .filter((a) => a.startsWith(prefix))
        .flatMap((a) => asList(s.Resource).map((r) => `${a} ${r}`)),
    )
    .sort();

const kafkaArn = (kind: string, name: string) =>
  `arn:aws:kafka:${REGION}:${ACCOUNT}:${kind}/${CLUSTER_PATH}/${name}`;

// ------------------------------------------------------------------ tests

describe('functions', () => {
  it.each(FUNCTIONS)('%s runs the bundle on nodejs22.x, arm64, in the VPC', (fn) => {
    const logicalId = `${fn[0]!.toUpperCase()}${fn.slice(1)}LambdaFunction`;
    const props = iam.resources[logicalId]?.Properties;

    expect(props).toBeDefined();
    expect(props!.FunctionName).toBe(`${PREFIX}-${fn}`);
    expect(props!.Runtime).toBe('nodejs22.x');
    expect(props!.Architectures).toEqual(['arm64']);
    expect(props!.Handler).toBe(`dist/${fn}/index.handler`);
    expect(props!.VpcConfig).toEqual({
      SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
      SecurityGroupIds: ['sg-0123456789abcdef0'],
    });
    expect(props!.Role).toBe(`getatt:${ROLES[fn]}.Arn`);
  });

  it('have a role each, and no role shared by all', () => {
    for (const t of [iam, scram, selfManaged]) {
      const roles = ofType(t, 'AWS::IAM::Role').map(([id]) => id);

      expect(roles.sort()).toEqual(Object.values(ROLES).sort());
      expect(t.resources).not.toHaveProperty('IamRoleLambdaExecution');
    }
  });

  it('are exactly the three of the pipeline', () => {
    const names = ofType(iam, 'AWS::Lambda::Function').map(([, r]) => r.Properties.FunctionName);

    expect(names.sort()).toEqual(FUNCTIONS.map((fn) => `${PREFIX}-${fn}`).sort());
  });

  it('give processOrders time for a Kafka transaction per partition', () => {
    const props = iam.resources.ProcessOrdersLambdaFunction!.Properties;

    expect(props.Timeout).toBeGreaterThanOrEqual(60);
    expect(props.MemorySize).toBeGreaterThanOrEqual(512);
  });

  it('read their configuration from stage parameters, optional ones left unset', () => {
    const env = iam.resources.ProcessOrdersLambdaFunction!.Properties.Environment.Variables;

    expect(env).toMatchObject({
      SERVICE_NAME: 'msk-order-pipeline',
      STAGE,
      MSK_CLUSTER_ARN: CLUSTER,
      KAFKA_AUTH: 'iam',
      KAFKA_TLS: 'true',
      TOPIC_ORDERS: 'orders',
      TOPIC_PROCESSED: 'orders.processed',
      TOPIC_DLQ: 'orders.dlq',
      TOPIC_PARKING_LOT: 'orders.parking-lot',
      TOPIC_CHECKPOINTS: 'orders.checkpoints',
      DLQ_MAX_ATTEMPTS: '3',
      IDEMPOTENCY_TABLE: iam.resources.IdempotencyTable!.Properties.TableName,
      POWERTOOLS_SERVICE_NAME: 'msk-order-pipeline',
    });
    expect(Object.values(env).every((v) => typeof v === 'string')).toBe(true);
    for (const unset of ['KAFKA_BROKERS', 'KAFKA_SCRAM_SECRET_ARN', 'OTEL_EXPORTER_OTLP_ENDPOINT'])
      expect(env).not.toHaveProperty(unset);
    expect(
      scram.resources.ProcessOrdersLambdaFunction!.Properties.Environment.Variables,
    ).toMatchObject({
      KAFKA_AUTH: 'scram',
      KAFKA_SCRAM_SECRET_ARN: SCRAM_SECRET,
    });
  });

  it('expose produceOrders as POST /orders for SigV4-signed callers only', () => {
    const routes = ofType(iam, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);

    expect(routes).toHaveLength(1);
    expect(routes[0]).toMatchObject({ RouteKey: 'POST /orders', AuthorizationType: 'AWS_IAM' });
  });
});

describe('event-source mappings', () => {
  const cases = [
    {
      fn: 'processOrders',
      id: MAPPING_IDS.processOrders,
      topic: 'orders',
      onFailure: 'kafka://orders.dlq',
    },
    {
      fn: 'republishDlq',
      id: MAPPING_IDS.republishDlq,
      topic: 'orders.dlq',
      onFailure: 'kafka://orders.parking-lot',
    },
  ] as const;

  it('are two, under the logical ids serverless.yml extends', () => {
    const ids = ofType(iam, 'AWS::Lambda::EventSourceMapping').map(([id]) => id);

    expect(ids.sort()).toEqual(Object.values(MAPPING_IDS).sort());
  });

  it.each(cases)(
    '$fn reads $topic with partial batch responses, bounded retries, bisection, provisioned pollers and $onFailure',
    (c) => {
      const props = iam.resources[c.id]!.Properties;
      const fnId = `${c.fn[0]!.toUpperCase()}${c.fn.slice(1)}LambdaFunction`;

      expect(props).toMatchObject({
        EventSourceArn: CLUSTER,
        FunctionName: `getatt:${fnId}.Arn`,
        Topics: [c.topic],
        BatchSize: 100,
        MaximumBatchingWindowInSeconds: 1,
        StartingPosition: 'TRIM_HORIZON',
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: `${PREFIX}-${c.fn}` },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BisectBatchOnFunctionError: true,
        DestinationConfig: { OnFailure: { Destination: c.onFailure } },
      });
      // 0..10000 retries; -1 (infinite) would be capped to 10 by Lambda anyway with a destination
      expect(Number(props.MaximumRetryAttempts)).toBeGreaterThanOrEqual(0);
      expect(Number(props.MaximumRetryAttempts)).toBeLessThanOrEqual(10_000);
      // a Kafka-topic on-failure destination needs provisioned mode
      const { MinimumPollers, MaximumPollers } = props.ProvisionedPollerConfig;
      expect(MinimumPollers).toBeGreaterThanOrEqual(1);
      expect(MaximumPollers).toBeGreaterThanOrEqual(MinimumPollers);
      // Lambda refuses a destination equal to the source topic
      expect(c.onFailure).not.toBe(`kafka://${c.topic}`);
      // IAM auth: no secret on the mapping
      expect(props).not.toHaveProperty('SourceAccessConfigurations');
    },
  );

  it.each(cases)('$fn authenticates with the SCRAM secret when kafkaAuth is scram', (c) => {
    expect(scram.resources[c.id]!.Properties.SourceAccessConfigurations).toEqual([
      { Type: 'SASL_SCRAM_512_AUTH', URI: SCRAM_SECRET },
    ]);
  });

  it('keep their logical ids whatever the cluster is named', () => {
    expect(raw.Resources[MAPPING_IDS.processOrders]!.Properties.EventSourceArn).toEqual({
      Ref: 'Orders',
    });
    expect(raw.Parameters.Orders!.Default).toBe(CLUSTER);
  });
});

describe('self-managed Kafka (kafkaSource=selfManaged)', () => {
  const cases = [
    { fn: 'processOrders', id: SELF_MANAGED_MAPPING_IDS.processOrders, topic: 'orders' },
    { fn: 'republishDlq', id: SELF_MANAGED_MAPPING_IDS.republishDlq, topic: 'orders.dlq' },
  ] as const;

  it('swaps the msk mappings for SelfManagedKafka ones', () => {
    const ids = ofType(selfManaged, 'AWS::Lambda::EventSourceMapping').map(([id]) => id);

    expect(ids.sort()).toEqual(Object.values(SELF_MANAGED_MAPPING_IDS).sort());
  });

  it.each(cases)(
    '$fn reads $topic from the brokers, through the subnets, with the SCRAM secret, and keeps the mapping settings of MSK',
    (c) => {
      const props = selfManaged.resources[c.id]!.Properties;
      const msk = iam.resources[MAPPING_IDS[c.fn]]!.Properties;

      expect(props).not.toHaveProperty('EventSourceArn');
      expect(props).toMatchObject({
        Topics: [c.topic],
        SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: SELF_MANAGED_BROKERS } },
        SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: `${PREFIX}-${c.fn}` },
      });
      expect(props.SourceAccessConfigurations).toEqual([
        { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0123456789abcdef0' },
        { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0123456789abcdef1' },
        { Type: 'VPC_SECURITY_GROUP', URI: 'security_group:sg-0123456789abcdef0' },
        { Type: 'SASL_SCRAM_512_AUTH', URI: SELF_MANAGED_SECRET },
      ]);
      // the extensions of serverless.yml apply under the kafka events' logical ids too
      for (const key of [
        'FunctionResponseTypes',
        'MetricsConfig',
        'LoggingConfig',
        'MaximumRetryAttempts',
        'BisectBatchOnFunctionError',
        'DestinationConfig',
        'ProvisionedPollerConfig',
        'BatchSize',
        'MaximumBatchingWindowInSeconds',
        'StartingPosition',
      ])
        expect(props[key], key).toEqual(msk[key]);
    },
  );

  it('needs no MSK cluster: no ARN, no kafka or kafka-cluster permission', () => {
    const env = selfManaged.resources.ProcessOrdersLambdaFunction!.Properties.Environment.Variables;

    expect(selfManaged.resources.ProcessOrdersLambdaFunction).toBeDefined();
    expect(env).not.toHaveProperty('MSK_CLUSTER_ARN');
    expect(env).toMatchObject({
      KAFKA_BROKERS: SELF_MANAGED_BROKERS.join(','),
      KAFKA_AUTH: 'scram',
      KAFKA_SCRAM_SECRET_ARN: SELF_MANAGED_SECRET,
    });
    expect(selfManaged.conditions.KafkaSourceMsk).toBe(false);
    const kafkaActions = allStatements(selfManaged).flatMap((s) =>
      asList(s.Action).filter((a) => /^kafka(-cluster)?:/.test(a)),
    );
    expect(kafkaActions).toEqual([]);
  });

  it.each(Object.keys(ROLES) as Fn[])(
    '%s reads the secret, whatever its name, and decrypts nothing when no key is named',
    (fn) => {
      expect(bySid(selfManaged, fn, 'ScramSecret')).toMatchObject({
        Action: 'secretsmanager:GetSecretValue',
        Resource: SELF_MANAGED_SECRET,
      });
      expect(roleStatements(selfManaged, fn).filter((s) => s.Sid === 'ScramSecretKey')).toEqual([]);
    },
  );

  it.each([
    [
      'self-managed Kafka without brokers',
      Object.fromEntries(Object.entries(SELF_MANAGED_PARAMS).filter(([k]) => k !== 'kafkaBrokers')),
      'kafkaSource=selfManaged needs kafkaBrokers',
    ],
    [
      'self-managed Kafka with IAM auth',
      { ...SELF_MANAGED_PARAMS, kafkaAuth: 'iam' },
      'needs kafkaAuth=scram or none',
    ],
    [
      'MSK without a cluster ARN',
      { subnetIds: STAGE_PARAMS.subnetIds, securityGroupIds: STAGE_PARAMS.securityGroupIds },
      'kafkaSource=msk needs mskClusterArn',
    ],
    [
      'MSK with a secret not named AmazonMSK_',
      { ...STAGE_PARAMS, kafkaAuth: 'scram', kafkaScramSecretArn: SELF_MANAGED_SECRET },
      'whose name starts with AmazonMSK_',
    ],
    [
      'an unknown kafkaSource',
      { ...STAGE_PARAMS, kafkaSource: 'confluent' },
      'kafkaSource="confluent"',
    ],
  ])(
    'refuses to package %s, saying why',
    async (_, params, message) => {
      const out = mkdtempSync(join(tmpdir(), 'sls-package-'));
      try {
        await expect(runPackage(params, out)).rejects.toThrow(message);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    60_000,
  );
});

describe('mapping observability', () => {
  it.each(Object.entries(MAPPING_IDS))(
    '%s reports event, error and Kafka metrics, and system logs at the stage level',
    (_, id) => {
      expect(iam.resources[id]!.Properties).toMatchObject({
        MetricsConfig: { Metrics: ['EventCount', 'ErrorCount', 'KafkaMetrics'] },
        LoggingConfig: { SystemLogLevel: 'WARN' },
      });
      expect(scram.resources[id]!.Properties.LoggingConfig).toEqual({ SystemLogLevel: 'DEBUG' });
    },
  );

  it.each(Object.entries(SELF_MANAGED_MAPPING_IDS))(
    '%s (self-managed Kafka) reports the same metrics and system logs',
    (_, id) => {
      expect(selfManaged.resources[id]!.Properties).toMatchObject({
        MetricsConfig: { Metrics: ['EventCount', 'ErrorCount', 'KafkaMetrics'] },
        LoggingConfig: { SystemLogLevel: 'WARN' },
      });
    },
  );
});

describe('alarms', () => {
  const alarms = (t: ReturnType<typeof resolveTemplate>) =>
    Object.fromEntries(ofType(t, 'AWS::CloudWatch::Alarm').map(([id, r]) => [id, r.Properties]));
  const dimensions = (props: Json) =>
    Object.fromEntries(
      (props.Dimensions as Array<{ Name: string; Value: string }>).map((d) => [d.Name, d.Value]),
    );

  // Lambda reports OffsetLag per function, whatever the mapping's source: the alarms are
  // the same for MSK and self-managed Kafka.
  const VARIANTS = [
    ['msk', () => iam],
    ['selfManaged', () => selfManaged],
  ] as const;

  it.each(VARIANTS)(
    '(%s) are the lag of both mappings, dead letters, parked records and each function failing',
    (_, t) => {
      expect(Object.keys(alarms(t())).sort()).toEqual(
        [
          'ProcessOrdersOffsetLagAlarm',
          'RepublishDlqOffsetLagAlarm',
          'DeadLettersAlarm',
          'ParkedAlarm',
          ...FUNCTIONS.map((fn) => `${fn[0]!.toUpperCase()}${fn.slice(1)}ErrorsAlarm`),
        ].sort(),
      );
    },
  );

  it.each(
    VARIANTS.flatMap(([variant, t]) => [
      {
        variant,
        t,
        id: 'ProcessOrdersOffsetLagAlarm',
        fnId: 'ProcessOrdersLambdaFunction',
        mapping:
          variant === 'msk' ? MAPPING_IDS.processOrders : SELF_MANAGED_MAPPING_IDS.processOrders,
      },
      {
        variant,
        t,
        id: 'RepublishDlqOffsetLagAlarm',
        fnId: 'RepublishDlqLambdaFunction',
        mapping:
          variant === 'msk' ? MAPPING_IDS.republishDlq : SELF_MANAGED_MAPPING_IDS.republishDlq,
      },
    ]),
  )(
    "($variant) $id watches Lambda's OffsetLag of the mapping's function",
    ({ t, id, fnId, mapping }) => {
      const props = alarms(t())[id];

      // the function the alarm names is the one the mapping invokes
      expect(t().resources[mapping]!.Properties.FunctionName).toBe(`getatt:${fnId}.Arn`);

      expect(props).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'OffsetLag',
        Statistic: 'Maximum',
        ComparisonOperator: 'GreaterThanThreshold',
      });
      expect(dimensions(props)).toEqual({ FunctionName: `ref:${fnId}` });
      expect(Number(props.Threshold)).toBeGreaterThan(0);
    },
  );

  it.each([
    ['DeadLettersAlarm', 'deadLettered', 'processOrders'],
    ['ParkedAlarm', 'parked', 'republishDlq'],
  ])('%s counts the EMF metric %s that %s publishes', (id, metric, fn) => {
    const props = alarms(iam)[id];

    // where the handlers publish (src/lib/telemetry): POWERTOOLS_METRICS_NAMESPACE,
    // dimensions service (POWERTOOLS_SERVICE_NAME) and function
    const env = iam.resources.ProcessOrdersLambdaFunction!.Properties.Environment.Variables;
    expect(props).toMatchObject({
      Namespace: env.POWERTOOLS_METRICS_NAMESPACE,
      MetricName: metric,
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(dimensions(props)).toEqual({ service: env.POWERTOOLS_SERVICE_NAME, function: fn });
    expect(Number(props.Threshold)).toBeGreaterThanOrEqual(1);
  });

  it.each(VARIANTS.flatMap(([variant, t]) => FUNCTIONS.map((fn) => ({ variant, t, fn }))))(
    '($variant) $fn errors or throttles raise its alarm',
    ({ t, fn }) => {
      const fnId = `${fn[0]!.toUpperCase()}${fn.slice(1)}LambdaFunction`;
      const props = alarms(t())[`${fn[0]!.toUpperCase()}${fn.slice(1)}ErrorsAlarm`];
      const stats = (props.Metrics as Json[]).filter((m) => m.MetricStat);

      expect(
        stats.map((m) => [m.MetricStat.Metric.Namespace, m.MetricStat.Metric.MetricName]).sort(),
      ).toEqual([
        ['AWS/Lambda', 'Errors'],
        ['AWS/Lambda', 'Throttles'],
      ]);
      for (const m of stats)
        expect(dimensions(m.MetricStat.Metric)).toEqual({ FunctionName: `ref:${fnId}` });
      const returned = (props.Metrics as Json[]).filter((m) => m.ReturnData !== false);
      expect(returned).toHaveLength(1);
      expect(returned[0].Expression).toMatch(/errors.*\+.*throttles/);
      expect(props).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    },
  );

  it('notify the alarm topic when one is given, and nobody otherwise', () => {
    for (const props of Object.values(alarms(scram))) {
      expect(props.AlarmActions).toEqual([ALARM_TOPIC]);
      expect(props.OKActions).toEqual([ALARM_TOPIC]);
    }
    for (const props of Object.values(alarms(iam))) {
      expect(props).not.toHaveProperty('AlarmActions');
      expect(props).not.toHaveProperty('OKActions');
    }
  });
});

describe('idempotency table', () => {
  it('is what Powertools idempotency expects: key `id`, TTL `expiration`, on demand', () => {
    const tables = ofType(iam, 'AWS::DynamoDB::Table');

    expect(tables.map(([id]) => id)).toEqual(['IdempotencyTable']);
    expect(tables[0]![1].Properties).toMatchObject({
      TableName: `${PREFIX}-idempotency`,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    });
  });
});

describe('IAM', () => {
  const cluster = (action: string) => `${action} ${CLUSTER}`;
  const on = (kind: string, names: string[], ...actions: string[]) =>
    actions.flatMap((a) => names.map((n) => `${a} ${kafkaArn(kind, n)}`));
  const transactionalIds = (fn: Fn) =>
    on(
      'transactional-id',
      [`${PREFIX}-${fn}-*`],
      'kafka-cluster:DescribeTransactionalId',
      'kafka-cluster:AlterTransactionalId',
    );
  const groups = (names: string[]) =>
    on('group', names, 'kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup');
  const reads = (topics: string[]) =>
    on('topic', topics, 'kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData');
  const writes = (topics: string[]) =>
    on('topic', topics, 'kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData');
  // The mapping's own (Lambda's MSK IAM page) and the handlers' transactional producers.
  const mappingCluster = [
    'kafka-cluster:Connect',
    'kafka-cluster:DescribeClusterDynamicConfiguration',
    'kafka-cluster:WriteDataIdempotently',
  ].map(cluster);

  // Everything each function (and its mapping) may do on the cluster, and nothing more.
  const KAFKA_CLUSTER_GRANTS: Record<Fn, string[]> = {
    produceOrders: [
      ...['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'].map(cluster),
      ...writes(['orders']),
      ...transactionalIds('produceOrders'),
    ],
    processOrders: [
      ...mappingCluster,
      ...reads(['orders']),
      ...writes(['orders.processed', 'orders.dlq', 'orders.checkpoints']),
      ...groups([`${PREFIX}-processOrders`, `${PREFIX}-processOrders.checkpoints`]),
      ...transactionalIds('processOrders'),
    ],
    republishDlq: [
      ...mappingCluster,
      ...reads(['orders.dlq']),
      ...writes(['orders', 'orders.parking-lot', 'orders.checkpoints']),
      ...groups([`${PREFIX}-republishDlq`, `${PREFIX}-republishDlq.checkpoints`]),
      // processOrders' checkpoints, read only: no AlterGroup, so it cannot commit there
      ...on('group', [`${PREFIX}-processOrders.checkpoints`], 'kafka-cluster:DescribeGroup'),
      ...transactionalIds('republishDlq'),
    ],
  };
  const MSK_CONTROL_PLANE_GRANTS: Record<Fn, string[]> = {
    produceOrders: [cluster('kafka:GetBootstrapBrokers')],
    processOrders: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'].map(cluster),
    republishDlq: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'].map(cluster),
  };
  const FUNCTIONS_ = Object.keys(ROLES) as Fn[];

  it.each([
    ['iam', () => iam],
    ['scram', () => scram],
    ['selfManaged', () => selfManaged],
  ])(
    '(%s) grants no action "*" and no resource "*" beyond the network actions AWS allows only there',
    (_, t) => {
      for (const statement of allStatements(t())) {
        const actions = asList(statement.Action);
        for (const action of actions) {
          expect(action).not.toBe('*');
          expect(action, 'a whole service').not.toMatch(/:\*$/);
        }
        if (asList(statement.Resource).includes('*')) {
          expect(
            actions.filter((a) => !STAR_ONLY_ACTIONS.has(a)),
            `"*" resource for ${actions}`,
          ).toEqual([]);
        }
        expect(statement.Effect).toBe('Allow');
      }
    },
  );

  it.each(FUNCTIONS_)('%s grants exactly its own topics, groups and transactional ids', (fn) => {
    expect(grants(iam, fn, 'kafka-cluster:')).toEqual([...KAFKA_CLUSTER_GRANTS[fn]].sort());
    expect(grants(iam, fn, 'kafka:')).toEqual([...MSK_CONTROL_PLANE_GRANTS[fn]].sort());
  });

  it("matches the names the handlers use, and no other function's", async () => {
    const { functionPrefix, readPipelineConfig } = await import('../../../src/lib/config.ts');
    const { transactionalIdFor } = await import('../../../src/lib/delivery/processBatch.ts');
    const config = readPipelineConfig({ SERVICE_NAME: 'msk-order-pipeline', STAGE });
    // IAM's `*` matches any run of characters
    const allows = (fn: Fn, action: string, arn: string) =>
      grants(iam, fn, action).some((g) => {
        const pattern = g.slice(action.length + 1).replace(/[.+?^${}()|[\]\\]/g, '\\$&');
        return new RegExp(`^${pattern.replaceAll('*', '.*')}$`).test(arn);
      });
    const txn = 'kafka-cluster:AlterTransactionalId';
    const used: Array<[Fn, string]> = [
      ['produceOrders', `${functionPrefix(config, 'produceOrders')}-0a1b2c3d4e5f`],
      ['processOrders', transactionalIdFor(functionPrefix(config, 'processOrders'), 'orders', 2)],
      ['republishDlq', transactionalIdFor(functionPrefix(config, 'republishDlq'), 'orders.dlq', 0)],
    ];
    for (const [owner, id] of used)
      for (const fn of FUNCTIONS_)
        expect(allows(fn, txn, kafkaArn('transactional-id', id)), `${fn} may use ${id}`).toBe(
          fn === owner,
        );

    const group = 'kafka-cluster:AlterGroup';
    for (const fn of ['processOrders', 'republishDlq'] as const) {
      const mapping = iam.resources[MAPPING_IDS[fn]]!.Properties;
      const mappingGroup = mapping.AmazonManagedKafkaEventSourceConfig.ConsumerGroupId;
      const checkpoints = `${functionPrefix(config, fn)}.checkpoints`;
      for (const other of FUNCTIONS_)
        for (const g of [mappingGroup, checkpoints])
          expect(allows(other, group, kafkaArn('group', g)), `${other} joins ${g}`).toBe(
            other === fn,
          );
      // the mapping writes its on-failure records with the function's role
      const destination = mapping.DestinationConfig.OnFailure.Destination.slice('kafka://'.length);
      expect(allows(fn, 'kafka-cluster:WriteData', kafkaArn('topic', destination))).toBe(true);
    }
  });

  it('gives kafka-cluster permissions only with IAM auth, and the control plane with any MSK auth', () => {
    for (const fn of FUNCTIONS_) {
      expect(grants(scram, fn, 'kafka-cluster:'), fn).toEqual([]);
      expect(grants(scram, fn, 'kafka:'), fn).toEqual([...MSK_CONTROL_PLANE_GRANTS[fn]].sort());
    }
  });

  it('gives the table to produceOrders alone, item reads and writes only', () => {
    expect(bySid(iam, 'produceOrders', 'IdempotencyTable')).toMatchObject({
      Action: [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
      ],
      Resource: 'getatt:IdempotencyTable.Arn',
    });
    for (const fn of ['processOrders', 'republishDlq'] as const)
      expect(grants(iam, fn, 'dynamodb:'), fn).toEqual([]);
  });

  it.each(FUNCTIONS_)('%s writes logs to its own log group only', (fn) => {
    expect(grants(iam, fn, 'logs:')).toEqual(
      ['logs:CreateLogStream', 'logs:PutLogEvents']
        .map(
          (a) => `${a} arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/${PREFIX}-${fn}:*`,
        )
        .sort(),
    );
  });

  it('gives the network actions of a mapping to the Kafka-triggered functions only', () => {
    const ec2 = (fn: Fn) => grants(iam, fn, 'ec2:').map((g) => g.split(' ')[0]);

    expect(ec2('produceOrders').sort()).toEqual([...FUNCTION_NETWORK_ACTIONS].sort());
    for (const fn of ['processOrders', 'republishDlq'] as const)
      expect(ec2(fn).sort()).toEqual(
        [...FUNCTION_NETWORK_ACTIONS, ...MAPPING_NETWORK_ACTIONS].sort(),
      );
    for (const fn of FUNCTIONS_)
      expect(roleOf(iam, fn).ManagedPolicyArns ?? [], `${fn} managed policies`).toEqual([]);
  });

  it.each(FUNCTIONS_)(
    '%s reads the SCRAM secret, and decrypts through Secrets Manager only, when kafkaAuth is scram',
    (fn) => {
      const secretActions = (t: Resolved) =>
        roleStatements(t, fn).filter((s) =>
          asList(s.Action).some((a) => /^(secretsmanager|kms):/.test(a)),
        );

      expect(secretActions(iam)).toEqual([]);
      expect(iam.resources).not.toHaveProperty('KafkaScramSecretAccess');
      expect(bySid(scram, fn, 'ScramSecret')).toMatchObject({
        Action: 'secretsmanager:GetSecretValue',
        Resource: SCRAM_SECRET,
      });
      expect(bySid(scram, fn, 'ScramSecretKey')).toMatchObject({
        Action: 'kms:Decrypt',
        Resource: SCRAM_KEY,
        Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` } },
      });
    },
  );
});

describe('bundles', () => {
  it('are reported, and processOrders stays under 1.5 MB', () => {
    const zips = Object.fromEntries(
      FUNCTIONS.map((fn) => [fn, statSync(join(iamDir, `${fn}.zip`)).size]),
    );
    console.log(
      `${formatReports(bundles)}\n${FUNCTIONS.map((fn) => `${fn}.zip ${(zips[fn]! / 1024).toFixed(1)} KiB`).join('\n')}`,
    );

    const processOrders = bundles.find((b) => b.fn === 'processOrders')!;
    expect(processOrders.bytes).toBeLessThan(1.5 * MIB);
  });

  it.each(FUNCTIONS)('%s.zip holds its bundle and nothing else', (fn) => {
    const entries = zipEntries(readFileSync(join(iamDir, `${fn}.zip`))).sort();

    expect(entries).toContain(`dist/${fn}/index.js`);
    expect(entries).toContain(`dist/${fn}/package.json`);
    for (const entry of entries) expect(entry.startsWith(`dist/${fn}/`), entry).toBe(true);
  });

  it('are ES modules that Lambda and `serverless invoke local` both load as such', () => {
    for (const fn of FUNCTIONS)
      expect(JSON.parse(readFileSync(join(ROOT, 'dist', fn, 'package.json'), 'utf8'))).toEqual({
        type: 'module',
      });
  });
});

describe('cfn-lint', () => {
  // the project's own cfn-lint (scripts/requirements-moto.txt), not whatever PATH has
  let cfnLint: string;
  beforeAll(() => {
    cfnLint = join(ensurePythonTools(), 'cfn-lint');
  }, 300_000);

  it.each([
    ['iam', () => iamDir],
    ['scram', () => scramDir],
    ['selfManaged', () => selfManagedDir],
  ])(
    'finds no error in the %s template',
    (_, dir) => {
      const result = spawnSync(
        cfnLint,
        ['--format', 'parseable', join(dir(), 'cloudformation-template-update-stack.json')],
        { encoding: 'utf8', timeout: 120_000 },
      );
      // exit code bits: 2 errors, 4 warnings, 8 informational; anything else is a failure to run
      const errors = result.stdout.split('\n').filter((line) => /:E\d{4}:/.test(line));

      expect(errors).toEqual([]);
      expect(result.status! & ~(4 | 8)).toBe(0);
      // cfn-lint takes seconds per template, more on a busy machine
    },
    120_000,
  );
});

describe('schema registry (issue 15: schemaRegistryUri)', () => {
  const GLUE_REGISTRY = `arn:aws:glue:${REGION}:${ACCOUNT}:registry/orders-registry`;
  const CONFLUENT_URL = 'https://schema-registry.example.com';
  const REGISTRY_SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:orders-registry-AbCdEf`;
  // Avro results with a configured id, Protobuf ones with the registry's (GetSchemaByDefinition)
  const RESULT_VERSIONS = 'AVRO=5f7e9c2a-3b1d-4e8f-9a6c-0d2b4f6e8a10,PROTOBUF';
  let glueDir: string;
  let confluentDir: string;
  let glue: Resolved;
  let confluent: Resolved;

  beforeAll(async () => {
    glueDir = await packageStage({
      ...STAGE_PARAMS,
      schemaRegistryUri: GLUE_REGISTRY,
      schemaRegistryEventRecordFormat: 'JSON',
      resultSchemaVersions: RESULT_VERSIONS,
      orderFormat: 'AVRO', // no orderSchemaVersionId: produceOrders looks it up
    });
    confluentDir = await packageStage({
      ...SELF_MANAGED_PARAMS,
      schemaRegistryUri: CONFLUENT_URL,
      schemaRegistryAuthSecretArn: REGISTRY_SECRET,
    });
    glue = resolveTemplate(readTemplate(glueDir));
    confluent = resolveTemplate(readTemplate(confluentDir));
  }, 300_000);

  afterAll(() => {
    for (const dir of [glueDir, confluentDir])
      if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const mapping = (t: Resolved, id: string) => t.resources[id]!.Properties;

  it('is off by default: no SchemaRegistryConfig, the consumer group kept, no glue permission', () => {
    expect(mapping(iam, MAPPING_IDS.processOrders).AmazonManagedKafkaEventSourceConfig).toEqual({
      ConsumerGroupId: `${PREFIX}-processOrders`,
    });
    expect(
      mapping(selfManaged, SELF_MANAGED_MAPPING_IDS.processOrders)
        .SelfManagedKafkaEventSourceConfig,
    ).toEqual({ ConsumerGroupId: `${PREFIX}-processOrders` });
    for (const fn of Object.keys(ROLES) as Fn[]) expect(grants(iam, fn, 'glue:')).toEqual([]);
    expect(
      iam.resources.ProcessOrdersLambdaFunction!.Properties.Environment.Variables,
    ).not.toHaveProperty('RESULT_SCHEMA_VERSIONS');
  });

  it('passes the result schema versions and the registry to processOrders only', () => {
    const env = (fn: string) => glue.resources[fn]!.Properties.Environment.Variables;
    expect(env('ProcessOrdersLambdaFunction').RESULT_SCHEMA_VERSIONS).toBe(RESULT_VERSIONS);
    expect(env('ProduceOrdersLambdaFunction')).not.toHaveProperty('RESULT_SCHEMA_VERSIONS');
    expect(env('RepublishDlqLambdaFunction')).not.toHaveProperty('RESULT_SCHEMA_VERSIONS');
    // processOrders reads producers' schema versions from that registry (GetSchemaVersion)
    expect(env('ProcessOrdersLambdaFunction').SCHEMA_REGISTRY_URI).toBe(GLUE_REGISTRY);
    // produceOrders looks its order schema's version id up there (GetSchemaByDefinition)
    expect(env('ProduceOrdersLambdaFunction').SCHEMA_REGISTRY_URI).toBe(GLUE_REGISTRY);
    expect(env('ProduceOrdersLambdaFunction').ORDER_FORMAT).toBe('AVRO');
    expect(env('ProduceOrdersLambdaFunction')).not.toHaveProperty('ORDER_SCHEMA_VERSION_ID');
    expect(env('RepublishDlqLambdaFunction')).not.toHaveProperty('SCHEMA_REGISTRY_URI');
  });

  it('Glue: the registry ARN on processOrders mapping, VALUE validated, no access config', () => {
    expect(mapping(glue, MAPPING_IDS.processOrders).AmazonManagedKafkaEventSourceConfig).toEqual({
      ConsumerGroupId: `${PREFIX}-processOrders`,
      SchemaRegistryConfig: {
        SchemaRegistryURI: GLUE_REGISTRY,
        EventRecordFormat: 'JSON',
        SchemaValidationConfigs: [{ Attribute: 'VALUE' }],
      },
    });
    // republishDlq reads dead letters as they are: no registry there
    expect(
      mapping(glue, MAPPING_IDS.republishDlq).AmazonManagedKafkaEventSourceConfig ?? {},
    ).not.toHaveProperty('SchemaRegistryConfig');
  });

  it('Glue: processOrders may read that registry and its schemas, and schema versions by id', () => {
    const schemas = `arn:aws:glue:${REGION}:${ACCOUNT}:schema/orders-registry/*`;
    expect(grants(glue, 'processOrders', 'glue:')).toEqual(
      [
        ...[
          'glue:GetRegistry',
          'glue:GetSchema',
          'glue:GetSchemaVersion',
          'glue:GetSchemaByDefinition',
        ].flatMap((a) => [`${a} ${GLUE_REGISTRY}`, `${a} ${schemas}`]),
        // by SchemaVersionId no registry is named: IAM can only allow it on "*"
        'glue:GetSchemaVersion *',
      ].sort(),
    );
    // produceOrders only finds its order schema's version id, in that registry only
    expect(grants(glue, 'produceOrders', 'glue:')).toEqual(
      [
        `glue:GetSchemaByDefinition ${GLUE_REGISTRY}`,
        `glue:GetSchemaByDefinition ${schemas}`,
      ].sort(),
    );
    expect(grants(glue, 'republishDlq', 'glue:')).toEqual([]);
  });

  it('Glue: no GetSchemaByDefinition where every id is configured (or no format)', () => {
    // the same template deployed with the ids as parameter values
    const template = readTemplate(glueDir);
    template.Parameters!.OrderSchemaVersionId!.Default = '5f7e9c2a-3b1d-4e8f-9a6c-0d2b4f6e8a10';
    template.Parameters!.ResultSchemaVersions!.Default = '';
    const configured = resolveTemplate(template);

    expect(grants(configured, 'produceOrders', 'glue:')).toEqual([]);
    expect(
      grants(configured, 'processOrders', 'glue:').filter((g) => g.includes('ByDefinition')),
    ).toEqual([]);
    // the mapping still reads the registry with processOrders' role
    expect(grants(configured, 'processOrders', 'glue:')).toHaveLength(7);
  });

  it('Confluent-compatible: the URL, SOURCE by default, and its secret for the mapping only', () => {
    expect(
      mapping(confluent, SELF_MANAGED_MAPPING_IDS.processOrders).SelfManagedKafkaEventSourceConfig,
    ).toEqual({
      ConsumerGroupId: `${PREFIX}-processOrders`,
      SchemaRegistryConfig: {
        SchemaRegistryURI: CONFLUENT_URL,
        EventRecordFormat: 'SOURCE',
        SchemaValidationConfigs: [{ Attribute: 'VALUE' }],
        AccessConfigs: [{ Type: 'BASIC_AUTH', URI: REGISTRY_SECRET }],
      },
    });
    expect(bySid(confluent, 'processOrders', 'SchemaRegistrySecret')).toMatchObject({
      Action: 'secretsmanager:GetSecretValue',
      Resource: REGISTRY_SECRET,
    });
    for (const fn of Object.keys(ROLES) as Fn[]) expect(grants(confluent, fn, 'glue:')).toEqual([]);
    expect(grants(confluent, 'republishDlq', 'secretsmanager:')).not.toContain(
      `secretsmanager:GetSecretValue ${REGISTRY_SECRET}`,
    );
  });

  it.each([
    ['Glue', () => glueDir],
    ['Confluent', () => confluentDir],
  ])(
    'cfn-lint finds no error in the %s template',
    (_, dir) => {
      const result = spawnSync(
        join(ensurePythonTools(), 'cfn-lint'),
        ['--format', 'parseable', join(dir(), 'cloudformation-template-update-stack.json')],
        { encoding: 'utf8', timeout: 120_000 },
      );
      expect(result.stdout.split('\n').filter((line) => /:E\d{4}:/.test(line))).toEqual([]);
      expect(result.status! & ~(4 | 8)).toBe(0);
    },
    120_000,
  );
});
