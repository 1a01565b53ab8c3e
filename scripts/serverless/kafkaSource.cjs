/**
 * Which Kafka a stage deploys against, for serverless.yml (`${file(...):<key>}`): the
 * `kafkaSource` stage parameter checked against the parameters that source needs, and
 * the lists the osls `kafka` event wants that stage parameters cannot hold (a
 * `--param` is one string, so subnets and brokers are comma-separated there).
 *
 * osls resolves every variable of the file, those of the variant not deployed
 * included, so each key has a harmless value in the other variant; the checks are
 * what fails the package with one message instead of a deploy that half works.
 *
 * CommonJS because osls loads JavaScript variable files with `require`.
 */
'use strict';

const SOURCES = ['msk', 'selfManaged'];
const MSK_CLUSTER_ARN = /^arn:aws[a-z-]*:kafka:[a-z0-9-]+:[0-9]{12}:cluster\/[^/\s]+\/[^/\s]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:(\S+)$/;
// Lambda's pattern for KAFKA_BOOTSTRAP_SERVERS entries (at most 10).
// https://docs.aws.amazon.com/lambda/latest/api/API_SelfManagedEventSource.html
const BROKER =
  /^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]):[0-9]{1,5}$/;
// MSK takes SCRAM credentials only from secrets named so; a self-managed mapping takes any.
// https://docs.aws.amazon.com/msk/latest/developerguide/msk-password.html
const MSK_SECRET_PREFIX = 'AmazonMSK_';

const list = (value) =>
  String(value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/** An error osls prints as its message alone (it prints a stack otherwise). */
const problem = (message) => {
  const error = new Error(`serverless.yml stage parameters: ${message}`);
  error.stack = error.message;
  return error;
};

/**
 * Reads the stage parameters through osls and returns what serverless.yml uses:
 * `kafkaSource`, `mskClusterArn` ('' for self-managed Kafka), and for the `kafka`
 * events `bootstrapServers` and `accessConfigurations` (empty for MSK).
 *
 * @example
 * // serverless.yml
 * // Default: ${file(scripts/serverless/kafkaSource.cjs):mskClusterArn}
 */
module.exports = async ({ resolveVariable }) => {
  const param = async (name) => {
    const value = await resolveVariable(`param:${name}, null`);
    return value === null || value === undefined ? '' : String(value).trim();
  };
  const kafkaSource = await param('kafkaSource');
  const kafkaAuth = await param('kafkaAuth');
  const secretArn = await param('kafkaScramSecretArn');

  if (!SOURCES.includes(kafkaSource))
    throw problem(`kafkaSource="${kafkaSource}" must be one of ${SOURCES.join(', ')}`);

  if (kafkaSource === 'msk') {
    const mskClusterArn = await param('mskClusterArn');
    if (!MSK_CLUSTER_ARN.test(mskClusterArn))
      throw problem(
        'kafkaSource=msk needs mskClusterArn=arn:aws:kafka:<region>:<account>:cluster/<name>/<id>',
      );
    // A secret given by name is checked by the handlers at init (src/lib/kafka/config.ts).
    const secretName = SECRET_ARN.exec(secretArn)?.[1];
    if (kafkaAuth === 'scram' && secretName && !secretName.startsWith(MSK_SECRET_PREFIX))
      throw problem(
        `kafkaAuth=scram on MSK needs a kafkaScramSecretArn whose name starts with ${MSK_SECRET_PREFIX}`,
      );
    return { kafkaSource, mskClusterArn, bootstrapServers: [], accessConfigurations: {} };
  }

  const bootstrapServers = list(await param('kafkaBrokers'));
  if (bootstrapServers.length === 0)
    throw problem('kafkaSource=selfManaged needs kafkaBrokers=host:port,host:port');
  const badBroker = bootstrapServers.find((broker) => !BROKER.test(broker));
  if (badBroker !== undefined || bootstrapServers.length > 10)
    throw problem(
      `kafkaBrokers must be 1 to 10 host:port entries (Lambda's limit)${badBroker === undefined ? '' : `; "${badBroker}" is not one`}`,
    );
  if (kafkaAuth !== 'scram' && kafkaAuth !== 'none')
    throw problem(
      `kafkaSource=selfManaged needs kafkaAuth=scram or none (IAM is MSK's), not "${kafkaAuth}"`,
    );
  if (kafkaAuth === 'scram' && !SECRET_ARN.test(secretArn))
    throw problem(
      'kafkaAuth=scram needs kafkaScramSecretArn=arn:aws:secretsmanager:... (the mapping takes an ARN)',
    );
  const vpcSubnet = list(await param('subnetIds'));
  const vpcSecurityGroup = list(await param('securityGroupIds'));
  if (vpcSubnet.length === 0 || vpcSecurityGroup.length === 0)
    throw problem(
      'kafkaSource=selfManaged needs subnetIds and securityGroupIds (the mapping reaches the brokers from them)',
    );
  return {
    kafkaSource,
    mskClusterArn: '',
    bootstrapServers,
    accessConfigurations: {
      vpcSubnet,
      vpcSecurityGroup,
      ...(kafkaAuth === 'scram' ? { saslScram512Auth: [secretArn] } : {}),
    },
  };
};
