import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { bootstrap, clientsFor } from '../../../scripts/aws-bootstrap.ts';
import { buildKafkaConfig, readConnectionSettings } from '../../../src/lib/kafka/connection.ts';
import { awsEndpoint, uniqueName } from '../../support/stackEnv.ts';

// The AWS-side bootstrap that localstack/ runs in its init hook, run here against
// moto's server through the real AWS SDK: the same code for both emulators.
describe('aws-bootstrap against the AWS emulator', () => {
  const clients = clientsFor(awsEndpoint());
  afterAll(() => {
    clients.dynamodb.destroy();
    clients.secrets.destroy();
  });

  it("stack:up has created the dev and local stages' idempotency tables (sls invoke local needs them)", async () => {
    for (const stage of ['dev', 'local']) {
      const table = await clients.dynamodb.send(
        new DescribeTableCommand({ TableName: `msk-order-pipeline-${stage}-idempotency` }),
      );
      expect(table.Table?.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
    }
  });

  it('creates the idempotency table and the SCRAM secret once, and the handlers can read the secret', async () => {
    // Prepare
    const settings = {
      tableName: uniqueName('idem'),
      secret: {
        name: `AmazonMSK_${uniqueName('scram')}`,
        username: 'orders',
        password: 'p4ss-w0rd',
      },
    };

    // Act
    const first = await bootstrap(clients, settings);
    const again = await bootstrap(clients, settings);

    // Assess
    expect(first.map((s) => [s.resource, s.result])).toEqual([
      ['table', 'created'],
      ['secret', 'created'],
    ]);
    expect(again.map((s) => s.result)).toEqual(['exists', 'exists']);
    const table = await clients.dynamodb.send(
      new DescribeTableCommand({ TableName: settings.tableName }),
    );
    expect(table.Table?.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
    const ttl = await clients.dynamodb.send(
      new DescribeTimeToLiveCommand({ TableName: settings.tableName }),
    );
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiration');
    const config = await buildKafkaConfig(
      readConnectionSettings({
        KAFKA_BROKERS: 'b-1.example.kafka.us-east-1.amazonaws.com:9096',
        KAFKA_AUTH: 'scram',
        KAFKA_SCRAM_SECRET_ARN: settings.secret.name,
        AWS_ENDPOINT_URL: awsEndpoint(),
        AWS_REGION: 'us-east-1',
      }),
    );
    expect(config.sasl).toMatchObject({
      mechanism: 'scram-sha-512',
      username: 'orders',
      password: 'p4ss-w0rd',
    });
    expect(JSON.stringify(config)).not.toContain('p4ss-w0rd');
  });
});
