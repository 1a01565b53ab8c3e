// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Serverless variables are written ${...}, in plain strings on purpose

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../src/lib/errors.ts';
import {
  type LocalMapping,
  parseServerlessYaml,
  readMappings,
  resolveVariables,
} from '../../../src/local/esm/index.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/serverless.yml', import.meta.url));
const NO_ENV = {} as NodeJS.ProcessEnv;

const byFunction = (mappings: LocalMapping[], name: string) => {
  const found = mappings.filter((m) => m.functionName === name);
  expect(found).toHaveLength(1);
  return found[0]!;
};

const scratch = mkdtempSync(join(tmpdir(), 'esm-mappings-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Writes a one-function serverless.yml whose msk event and extension are given. */
const withMapping = (event: string, extension = '') => {
  const file = join(scratch, `${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(
    file,
    `service: s
provider: { name: aws }
functions:
  fn:
    handler: h.handler
    events:
      - msk:
${event
  .trim()
  .split('\n')
  .map((l) => `          ${l}`)
  .join('\n')}
${extension ? `resources:\n  extensions:\n    FnEventSourceMappingMSKCT:\n      Properties:\n${extension}` : ''}
`,
  );
  return file;
};

describe('readMappings: the Kafka mappings serverless.yml deploys', () => {
  it('reads an msk event with its resources.extensions, variables resolved for the default stage', () => {
    // Act
    const mappings = readMappings(FIXTURE, { env: NO_ENV });

    // Assess
    expect(mappings.map((m) => m.functionName).sort()).toEqual([
      'auditOrders',
      'processOrders',
      'republishDlq',
    ]);
    expect(byFunction(mappings, 'processOrders')).toStrictEqual({
      functionName: 'processOrders',
      deployedFunctionName: 'esm-fixture-dev-processOrders',
      handlerPath: 'src/handlers/processOrders.handler',
      logicalId: 'ProcessOrdersEventSourceMappingMSKOrdersOrders',
      eventSource: 'aws:kafka',
      eventSourceArn:
        'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/11111111-2222-3333-4444-555555555555-1',
      topic: 'orders',
      batchSize: 100,
      maximumBatchingWindowInSeconds: 1,
      startingPosition: 'TRIM_HORIZON',
      consumerGroupId: 'esm-fixture-dev-processOrders',
      enabled: true,
      reportBatchItemFailures: true,
      maximumRetryAttempts: 3,
      maximumRecordAgeInSeconds: -1,
      bisectBatchOnFunctionError: true,
      onFailureDestination: 'orders.dlq',
      timeoutSeconds: 60,
      memorySize: 1024,
      region: 'eu-west-1',
      service: 'esm-fixture',
      stage: 'dev',
      environment: {
        STAGE: 'dev',
        TOPIC_ORDERS: 'orders',
        TOPIC_DLQ: 'orders.dlq',
        SECRET: '${ssm:/esm-fixture/secret}',
      },
      warnings: [expect.stringContaining('CLUSTER_ARN')],
    });
  });

  it('names the mapping by the Ref of a !Ref cluster and applies Lambda defaults where nothing is set', () => {
    // Act
    const republish = byFunction(readMappings(FIXTURE, { env: NO_ENV }), 'republishDlq');

    // Assess
    expect(republish.logicalId).toBe('RepublishDlqEventSourceMappingMSKMskClusterOrdersdlq');
    expect(republish.eventSourceArn).toBeUndefined();
    expect(republish).toMatchObject({
      topic: 'orders.dlq',
      batchSize: 100,
      // `maximumBatchingWindow: 0` is dropped by the framework: Lambda's 500 ms default applies
      maximumBatchingWindowInSeconds: 0.5,
      startingPosition: 'LATEST',
      consumerGroupId: 'local-esm-esm-fixture-dev-republishDlq-orders.dlq',
      reportBatchItemFailures: true,
      maximumRetryAttempts: -1,
      bisectBatchOnFunctionError: false,
      maximumRecordAgeInSeconds: 3600,
      timeoutSeconds: 30,
    });
    expect(republish.onFailureDestination).toBeUndefined();
    expect(republish.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/on-failure destination .*not kafka:\/\//),
        expect.stringContaining('MaximumRecordAgeInSeconds is not emulated'),
      ]),
    );
  });

  it('reads a mapping declared as a resource for a function of the file', () => {
    // Act
    const audit = byFunction(readMappings(FIXTURE, { env: NO_ENV }), 'auditOrders');

    // Assess
    expect(audit).toMatchObject({
      logicalId: 'AuditOrdersMapping',
      deployedFunctionName: 'audit-dev',
      topic: 'orders.processed',
      batchSize: 10,
      startingPosition: 'AT_TIMESTAMP',
      startingPositionTimestamp: 1_764_000_000,
      consumerGroupId: 'audit',
      reportBatchItemFailures: false,
    });
    expect(audit.warnings).toEqual(
      expect.arrayContaining([expect.stringContaining('FilterCriteria is not emulated')]),
    );
  });

  it('resolves per stage: params of the stage, --param over them, env over defaults', () => {
    // Act
    const prod = readMappings(FIXTURE, { stage: 'prod', env: NO_ENV });
    const overridden = readMappings(FIXTURE, {
      stage: 'prod',
      params: { batchSize: '7', dlqTopic: 'dlq.prod' },
      env: { FIXTURE_TOPIC_ORDERS: 'orders.v2' } as NodeJS.ProcessEnv,
    });

    // Assess
    const processOrders = byFunction(prod, 'processOrders');
    expect(processOrders).toMatchObject({
      stage: 'prod',
      batchSize: 500,
      consumerGroupId: 'esm-fixture-prod-processOrders',
      deployedFunctionName: 'esm-fixture-prod-processOrders',
    });
    const changed = byFunction(overridden, 'processOrders');
    expect(changed).toMatchObject({ batchSize: 7, topic: 'orders.v2' });
    expect(changed.environment.TOPIC_DLQ).toBe('dlq.prod');
    // the extension names topic `orders`: a mapping of `orders.v2` is another resource, the
    // extension extends nothing (a deploy fails on it) and the reader says so
    expect(changed.logicalId).toBe('ProcessOrdersEventSourceMappingMSKOrdersOrdersv2');
    expect(changed.reportBatchItemFailures).toBe(false);
    expect(changed.onFailureDestination).toBeUndefined();
    expect(changed.warnings).toEqual(
      expect.arrayContaining([
        expect.stringContaining(
          'ProcessOrdersEventSourceMappingMSKOrdersOrders extends no mapping',
        ),
      ]),
    );
    expect(byFunction(overridden, 'republishDlq').topic).toBe('dlq.prod');
  });

  it('finds the extension for the function and topic when the cluster ARN stays a variable', () => {
    // Prepare
    const file = withMapping(
      "arn: ${param:clusterArn}\ntopic: t\nbatchSize: '25'",
      '        MaximumRetryAttempts: 0\n        FunctionResponseTypes: [ReportBatchItemFailures]',
    );

    // Act
    const [mapping] = readMappings(file, { env: NO_ENV });

    // Assess
    expect(mapping).toMatchObject({
      logicalId: 'FnEventSourceMappingMSKCT',
      batchSize: 25,
      maximumRetryAttempts: 0,
      reportBatchItemFailures: true,
    });
    expect(mapping!.eventSourceArn).toBeUndefined();
  });

  it.each([
    [
      'a batch size of 0',
      'arn: arn:aws:kafka:r:1:cluster/c/u\ntopic: t\nbatchSize: 0.5',
      /BatchSize 0.5/,
    ],
    [
      'a topic that does not resolve',
      'arn: arn:aws:kafka:r:1:cluster/c/u\ntopic: ${param:nope}',
      /no topic/,
    ],
    [
      'an unknown starting position',
      'arn: arn:aws:kafka:r:1:cluster/c/u\ntopic: t\nstartingPosition: NOW',
      /StartingPosition "NOW"/,
    ],
  ])('rejects %s with a ConfigurationError', (_, event, message) => {
    // Prepare
    const file = withMapping(event);

    // Act / Assess
    expect(() => readMappings(file, { env: NO_ENV })).toThrow(ConfigurationError);
    expect(() => readMappings(file, { env: NO_ENV })).toThrow(message);
  });

  it('fails with a ConfigurationError naming the file when it cannot be read', () => {
    expect(() => readMappings(join(scratch, 'missing.yml'))).toThrow(/cannot read .*missing\.yml/);
  });
});

describe('serverless.yml parsing', () => {
  it('reads CloudFormation short tags as their long form', () => {
    // Act
    const doc = parseServerlessYaml(`
a: !Ref Thing
b: !GetAtt Thing.Arn
c: !GetAtt [Thing, Arn]
d: !Sub 'arn:\${AWS::Partition}:kafka'
e: !Join ['', [a, !Ref B]]
f: !Split [',', !ImportValue subnets]
g: !If [IsProd, 1, 2]
h: !Base64 { 'Fn::Sub': x }
`);

    // Assess
    expect(doc).toStrictEqual({
      a: { Ref: 'Thing' },
      b: { 'Fn::GetAtt': ['Thing', 'Arn'] },
      c: { 'Fn::GetAtt': ['Thing', 'Arn'] },
      d: { 'Fn::Sub': 'arn:${AWS::Partition}:kafka' },
      e: { 'Fn::Join': ['', ['a', { Ref: 'B' }]] },
      f: { 'Fn::Split': [',', { 'Fn::ImportValue': 'subnets' }] },
      g: { 'Fn::If': ['IsProd', 1, 2] },
      h: { 'Fn::Base64': { 'Fn::Sub': 'x' } },
    });
  });

  it('resolves the variables it can know offline and leaves the others as written', () => {
    // Prepare
    const doc = parseServerlessYaml(`
service: svc
provider: { stage: qa }
custom:
  sizes: { qa: 3 }
  size: \${self:custom.sizes.\${sls:stage}}
  count: \${self:custom.size}
  label: n=\${self:custom.size}
  fromEnv: \${env:ESM_TEST_VAR, 'fallback'}
  chained: \${env:MISSING, \${env:ESM_TEST_VAR}}
  quoted: \${env:MISSING, 'a, b'}
  region: \${aws:region}
  ssm: \${ssm:/x/y}
  ssmWithDefault: \${ssm:/x/y, 'local'}
  cfn: !Sub '\${AWS::Region}-x'
  loop: \${self:custom.loop}
`);

    // Act
    const { document, stage, region } = resolveVariables(doc, {
      env: { ESM_TEST_VAR: 'from-env' } as NodeJS.ProcessEnv,
    });

    // Assess
    expect({ stage, region }).toEqual({ stage: 'qa', region: 'us-east-1' });
    expect(document.custom).toStrictEqual({
      sizes: { qa: 3 },
      size: 3,
      count: 3,
      label: 'n=3',
      fromEnv: 'from-env',
      chained: 'from-env',
      quoted: 'a, b',
      region: 'us-east-1',
      ssm: '${ssm:/x/y}',
      ssmWithDefault: 'local',
      cfn: { 'Fn::Sub': '${AWS::Region}-x' },
      loop: '${self:custom.loop}',
    });
  });
});
