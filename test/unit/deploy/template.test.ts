/**
 * What `serverless package` produces, checked the way a reviewer of the deployment
 * would: the functions, the two Kafka event-source mappings with their error
 * handling, the idempotency table, least-privilege IAM, and the bundles' sizes.
 *
 * Packaging runs offline (osls, dummy credentials, no login) into a temporary
 * directory, once for the default (IAM) stage parameters and once with SCRAM.
 * The template is then resolved for the stage's region and account, so the
 * assertions read concrete ARNs instead of CloudFormation functions.
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
const ALARM_TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:orders-alarms`;
const PREFIX = `msk-order-pipeline-${STAGE}`;
const MIB = 1024 * 1024;

// The keys under `resources.extensions` in serverless.yml: osls names a mapping
// <Fn>EventSourceMappingMSK<token of the cluster Ref><topic reduced to [A-Za-z0-9]>.
const MAPPING_IDS = {
  processOrders: 'ProcessOrdersEventSourceMappingMSKOrdersOrders',
  republishDlq: 'RepublishDlqEventSourceMappingMSKOrdersOrdersdlq',
} as const;

// Actions AWS grants only on "*" (or that Lambda documents on "*"), added by osls for
// the msk events and by the AWSLambdaVPCAccessExecutionRole policy for the VPC:
// ec2:Describe* have no resource-level permissions; Lambda's VPC and MSK pages list
// the network-interface actions with "Resource": "*".
// https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html
const STAR_ONLY_ACTIONS = new Set([
  'ec2:CreateNetworkInterface',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeSubnets',
  'ec2:DescribeVpcs',
]);
const VPC_ACCESS_POLICY = 'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole';

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

/** `serverless package` for stage `test` into a fresh directory; returns that directory. */
const packageStage = async (params: Record<string, string>) => {
  const out = mkdtempSync(join(tmpdir(), 'sls-package-'));
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

let iamDir: string;
let scramDir: string;
let raw: Template;
let iam: ReturnType<typeof resolveTemplate>;
let scram: ReturnType<typeof resolveTemplate>;
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
  bundles = readBundles();
  raw = readTemplate(iamDir);
  iam = resolveTemplate(raw);
  scram = resolveTemplate(readTemplate(scramDir));
}, 180_000);

afterAll(() => {
  for (const dir of [iamDir, scramDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

const ofType = (t: ReturnType<typeof resolveTemplate>, type: string) =>
  Object.entries(t.resources).filter(([, r]) => r.Type === type);

const roleStatements = (t: ReturnType<typeof resolveTemplate>): Statement[] =>
  t.resources.IamRoleLambdaExecution!.Properties.Policies.flatMap(
    (p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement,
  );

/** Every statement the functions' role gets: inline, and customer-managed policies attached to it. */
const allStatements = (t: ReturnType<typeof resolveTemplate>): Statement[] => {
  const attached = ofType(t, 'AWS::IAM::ManagedPolicy').flatMap(
    ([, r]) => r.Properties.PolicyDocument.Statement as Statement[],
  );
  return [...roleStatements(t), ...attached];
};

const bySid = (t: ReturnType<typeof resolveTemplate>, sid: string) => {
  const found = allStatements(t).filter((s) => s.Sid === sid);
  expect(found, `statement ${sid}`).toHaveLength(1);
  return found[0]!;
};

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
});

describe('alarms', () => {
  const alarms = (t: ReturnType<typeof resolveTemplate>) =>
    Object.fromEntries(ofType(t, 'AWS::CloudWatch::Alarm').map(([id, r]) => [id, r.Properties]));
  const dimensions = (props: Json) =>
    Object.fromEntries(
      (props.Dimensions as Array<{ Name: string; Value: string }>).map((d) => [d.Name, d.Value]),
    );

  it('are the lag of both mappings, dead letters, parked records and each function failing', () => {
    expect(Object.keys(alarms(iam)).sort()).toEqual(
      [
        'ProcessOrdersOffsetLagAlarm',
        'RepublishDlqOffsetLagAlarm',
        'DeadLettersAlarm',
        'ParkedAlarm',
        ...FUNCTIONS.map((fn) => `${fn[0]!.toUpperCase()}${fn.slice(1)}ErrorsAlarm`),
      ].sort(),
    );
  });

  it.each([
    ['ProcessOrdersOffsetLagAlarm', 'ProcessOrdersLambdaFunction'],
    ['RepublishDlqOffsetLagAlarm', 'RepublishDlqLambdaFunction'],
  ])("%s watches Lambda's OffsetLag of the mapping's function", (id, fnId) => {
    const props = alarms(iam)[id];

    expect(props).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'OffsetLag',
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(dimensions(props)).toEqual({ FunctionName: `ref:${fnId}` });
    expect(Number(props.Threshold)).toBeGreaterThan(0);
  });

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

  it.each(FUNCTIONS)('%s errors or throttles raise its alarm', (fn) => {
    const fnId = `${fn[0]!.toUpperCase()}${fn.slice(1)}LambdaFunction`;
    const props = alarms(iam)[`${fn[0]!.toUpperCase()}${fn.slice(1)}ErrorsAlarm`];
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
  });

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
  it.each([
    ['iam', () => iam],
    ['scram', () => scram],
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

  it('attaches no managed policy but the VPC one (and the SCRAM one when used)', () => {
    const managed = (t: ReturnType<typeof resolveTemplate>) =>
      t.resources.IamRoleLambdaExecution!.Properties.ManagedPolicyArns as string[];

    expect(managed(iam)).toEqual([VPC_ACCESS_POLICY]);
    expect(managed(scram).sort()).toEqual(['ref:KafkaScramSecretAccess', VPC_ACCESS_POLICY].sort());
    expect(iam.resources).not.toHaveProperty('KafkaScramSecretAccess');
  });

  it('scopes cluster and control-plane actions to the one cluster', () => {
    expect(bySid(iam, 'MskControlPlane')).toMatchObject({
      Action: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
      Resource: CLUSTER,
    });
    expect(asList(bySid(iam, 'KafkaCluster').Resource)).toEqual([CLUSTER]);
    expect(bySid(iam, 'KafkaCluster').Action).toContain('kafka-cluster:Connect');
  });

  it('scopes data-plane actions to the pipeline topics, groups and transactional ids', () => {
    const topics = (sid: string) => asList(bySid(iam, sid).Resource).sort();

    expect(topics('KafkaTopicsRead')).toEqual(
      ['orders', 'orders.checkpoints', 'orders.dlq'].map((t) => kafkaArn('topic', t)),
    );
    expect(topics('KafkaTopicsWrite')).toEqual(
      ['orders', 'orders.checkpoints', 'orders.dlq', 'orders.parking-lot', 'orders.processed'].map(
        (t) => kafkaArn('topic', t),
      ),
    );
    expect(bySid(iam, 'KafkaGroups')).toMatchObject({
      Action: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
      Resource: [kafkaArn('group', `${PREFIX}-*`)],
    });
    expect(bySid(iam, 'KafkaTransactionalIds')).toMatchObject({
      Action: ['kafka-cluster:DescribeTransactionalId', 'kafka-cluster:AlterTransactionalId'],
      Resource: [kafkaArn('transactional-id', `${PREFIX}-*`)],
    });
    for (const s of allStatements(iam).filter((s) =>
      asList(s.Action).some((a) => a.startsWith('kafka-cluster:')),
    ))
      for (const r of asList(s.Resource))
        expect(r.startsWith(`arn:aws:kafka:${REGION}:${ACCOUNT}:`)).toBe(true);
  });

  it('limits DynamoDB to item reads and writes on the idempotency table', () => {
    expect(bySid(iam, 'IdempotencyTable')).toMatchObject({
      Action: [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
      ],
      Resource: 'getatt:IdempotencyTable.Arn',
    });
  });

  it('reads the SCRAM secret, and decrypts through Secrets Manager only, when kafkaAuth is scram', () => {
    const secretActions = (t: ReturnType<typeof resolveTemplate>) =>
      allStatements(t).filter((s) =>
        asList(s.Action).some((a) => /^(secretsmanager|kms):/.test(a)),
      );

    expect(secretActions(iam)).toEqual([]);
    expect(bySid(scram, 'ScramSecret')).toMatchObject({
      Action: 'secretsmanager:GetSecretValue',
      Resource: SCRAM_SECRET,
    });
    expect(bySid(scram, 'ScramSecretKey')).toMatchObject({
      Action: 'kms:Decrypt',
      Resource: SCRAM_KEY,
      Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` } },
    });
  });
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
