/**
 * The MSK IAM token, made by the real `aws-msk-iam-sasl-signer-js` through the
 * connection module (as on Lambda: default credential chain, token per cluster region),
 * with static fake credentials and a fixed clock: no network is involved.
 *
 * MSK documents the token as a presigned SigV4 URL, base64url-encoded without padding:
 * `https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect` with
 * X-Amz-Algorithm/Credential/Date/Expires/SignedHeaders/Signature (and
 * X-Amz-Security-Token for session credentials), plus a User-Agent added after signing.
 * The signature is recomputed here from the SigV4 specification with node:crypto, so the
 * test checks the signer against the standard, not against itself. Whether MSK accepts
 * the token (and the role's kafka-cluster policy) can only be seen on a cluster.
 * https://github.com/aws/aws-msk-iam-sasl-signer-js#readme
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
import { createHash, createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  buildKafkaConfig,
  clearConnectionCaches,
  type OauthBearerSasl,
  readConnectionSettings,
} from '../../../src/lib/kafka/connection.ts';

const REGION = 'eu-west-1';
const BROKER = `b-1.orders.x1y2z3.c2.kafka.${REGION}.amazonaws.com:9098`;
const NOW = new Date('2026-11-25T12:00:00.000Z');
// AWS's documentation example keys: not credentials of anything.
const ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLE+session/token==';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: string | Buffer, text: string) =>
  createHmac('sha256', key).update(text, 'utf8').digest();
// SigV4 URI encoding: RFC 3986 unreserved characters stay, everything else is %XX.
const uriEncode = (text: string) =>
  encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

/** The SigV4 signature of a presigned GET / on `host` with these query parameters. */
const expectedSignature = (host: string, query: URLSearchParams, secret: string) => {
  const signed = [...query.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature' && k !== 'User-Agent')
    .map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`)
    .sort()
    .join('&');
  const emptyPayload = sha256('');
  const canonicalRequest = ['GET', '/', signed, `host:${host}`, '', 'host', emptyPayload].join(
    '\n',
  );
  const amzDate = query.get('X-Amz-Date')!;
  const [, date, region, service] = query.get('X-Amz-Credential')!.split('/');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = ['aws4_request'].reduce(
    (k, part) => hmac(k, part),
    hmac(hmac(hmac(`AWS4${secret}`, date!), region!), service!),
  );
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
};

const tokenFor = async () => {
  const config = await buildKafkaConfig(
    readConnectionSettings({ KAFKA_BROKERS: BROKER, AWS_REGION: 'us-east-1' }),
  );
  const sasl = config.sasl as OauthBearerSasl;
  expect(sasl.mechanism).toBe('oauthbearer');
  return (await sasl.oauthBearerProvider()).value;
};

beforeEach(() => {
  clearConnectionCaches();
  // The default chain reads the environment first; nothing else may answer.
  for (const name of ['AWS_PROFILE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_ROLE_ARN'])
    vi.stubEnv(name, undefined);
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  vi.stubEnv('AWS_ACCESS_KEY_ID', ACCESS_KEY_ID);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', SECRET_ACCESS_KEY);
  vi.stubEnv('AWS_SESSION_TOKEN', SESSION_TOKEN);
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('MSK IAM token (aws-msk-iam-sasl-signer-js)', () => {
  it('is a base64url presigned URL of kafka-cluster:Connect on the cluster region, valid 900 s', async () => {
    // Act
    const token = await tokenFor();

    // Assess
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
    const url = Buffer.from(token, 'base64url').toString('utf8');
    expect(url).toMatch(
      /^https:\/\/kafka\.eu-west-1\.amazonaws\.com\/\?Action=kafka-cluster%3AConnect&/,
    );
    const parsed = new URL(url);
    expect(parsed.pathname).toBe('/');
    expect(Object.fromEntries(parsed.searchParams)).toEqual({
      Action: 'kafka-cluster:Connect',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': `${ACCESS_KEY_ID}/20261125/${REGION}/kafka-cluster/aws4_request`,
      'X-Amz-Date': '20261125T120000Z',
      'X-Amz-Expires': '900',
      'X-Amz-Security-Token': SESSION_TOKEN,
      'X-Amz-SignedHeaders': 'host',
      'X-Amz-Signature': expect.stringMatching(/^[0-9a-f]{64}$/),
      'User-Agent': expect.stringMatching(/^aws-msk-iam-sasl-signer-js\/\d+\.\d+\.\d+$/),
    });
    expect(url).not.toContain(SECRET_ACCESS_KEY);
  });

  it('carries the SigV4 signature the specification gives for those parameters', async () => {
    // Act
    const url = new URL(Buffer.from(await tokenFor(), 'base64url').toString('utf8'));

    // Assess
    const signature = url.searchParams.get('X-Amz-Signature');
    expect(signature).toBe(expectedSignature(url.host, url.searchParams, SECRET_ACCESS_KEY));
    expect(signature).not.toBe(
      expectedSignature(url.host, url.searchParams, `${SECRET_ACCESS_KEY}x`),
    );
  });

  it('is renewed a minute before it expires, and reused until then', async () => {
    // Arrange
    const config = await buildKafkaConfig(
      readConnectionSettings({ KAFKA_BROKERS: BROKER, AWS_REGION: REGION }),
    );
    const provider = (config.sasl as OauthBearerSasl).oauthBearerProvider;
    const dateOf = (token: string) =>
      new URL(Buffer.from(token, 'base64url').toString('utf8')).searchParams.get('X-Amz-Date');

    // Act
    const first = (await provider()).value;
    vi.setSystemTime(new Date(NOW.getTime() + 13 * 60_000));
    const reused = (await provider()).value;
    vi.setSystemTime(new Date(NOW.getTime() + 14 * 60_000 + 1_000));
    const renewed = (await provider()).value;

    // Assess
    expect(reused).toBe(first);
    expect(dateOf(renewed)).toBe('20261125T121401Z');
  });
});
