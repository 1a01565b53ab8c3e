/**
 * osls plugin: `serverless invoke local` in the stages of `custom.localStack.stages`
 * reaches the local stack of `npm run stack:up` without exporting anything first.
 *
 * After osls has put the function's environment in place (and before the handler is
 * loaded, which reads its configuration at init), for a variable the shell does not
 * set:
 * - `KAFKA_BROKERS` and `AWS_ENDPOINT_URL` come from the running stack
 *   (`.stack/env.json`, which `stack:up` writes and `stack:down` removes), and the AWS
 *   keys default to the emulator's dummy ones;
 * - on loopback brokers, `KAFKA_AUTH=none` and `KAFKA_TLS=false` replace the stage's
 *   `iam` and TLS (a local broker speaks plaintext without auth), as the README's
 *   configuration table says.
 * A variable set in the shell, or a `--param` for it, always wins.
 *
 * CommonJS JavaScript for the same reason as buildBundles.cjs.
 */
'use strict';

const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const isLoopback = (broker) => {
  const host = broker.slice(0, broker.lastIndexOf(':')).toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === '[::1]'
  );
};

const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

class LocalStackEnv {
  constructor(serverless, options, utils) {
    this.serverless = serverless;
    this.options = options ?? {};
    this.log = utils?.log;
    // what the shell set, before `invoke local` adds the function's environment
    this.shell = { ...process.env };
    this.hooks = { 'after:invoke:local:loadEnvVars': () => this.apply() };
  }

  /** The running stack's `env.json`, or undefined when it is not running. */
  readStack() {
    const dir = this.shell.STACK_DIR ?? join(this.serverless.serviceDir, '.stack');
    const file = join(dir, 'env.json');
    if (!existsSync(file)) return undefined;
    const stack = JSON.parse(readFileSync(file, 'utf8'));
    // a stack left behind by a reboot: its env.json names a broker that is gone
    const pidFile = join(dir, 'kafka.pid');
    if (
      stack.ownsBroker &&
      !(existsSync(pidFile) && isAlive(Number(readFileSync(pidFile, 'utf8'))))
    )
      return undefined;
    return stack;
  }

  apply() {
    const stages = this.serverless.service.custom?.localStack?.stages ?? [];
    const stage = this.serverless.getProvider('aws').getStage();
    if (!stages.includes(stage)) return;
    const env = process.env;
    const fromShell = (name) => Boolean(this.shell[name]);
    const fromParam = (name) =>
      [].concat(this.options.param ?? []).some((p) => String(p).startsWith(`${name}=`));

    const stack = this.readStack();
    if (stack) {
      if (!fromShell('KAFKA_BROKERS') && !fromParam('kafkaBrokers'))
        env.KAFKA_BROKERS = stack.KAFKA_BROKERS;
      if (!fromShell('AWS_ENDPOINT_URL')) {
        env.AWS_ENDPOINT_URL = stack.AWS_ENDPOINT_URL;
        env.AWS_ACCESS_KEY_ID ||= 'test';
        env.AWS_SECRET_ACCESS_KEY ||= 'test';
      }
      this.log?.notice?.(
        `Local stack: KAFKA_BROKERS=${env.KAFKA_BROKERS} AWS_ENDPOINT_URL=${env.AWS_ENDPOINT_URL}`,
      );
    } else if (!env.KAFKA_BROKERS) {
      this.log?.warning?.(
        'No local stack runs (npm run stack:up) and KAFKA_BROKERS is not set: the function will look for the stage cluster',
      );
    }

    const brokers = (env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
    if (brokers.length > 0 && brokers.every(isLoopback)) {
      if (!fromShell('KAFKA_AUTH') && !fromParam('kafkaAuth')) env.KAFKA_AUTH = 'none';
      if (!fromShell('KAFKA_TLS') && !fromParam('kafkaTls')) env.KAFKA_TLS = 'false';
    }
  }
}

module.exports = LocalStackEnv;
