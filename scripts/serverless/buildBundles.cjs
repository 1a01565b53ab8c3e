/**
 * osls plugin: bundles the handlers with scripts/build.ts before anything uses
 * dist/, so `serverless package`, `deploy`, `deploy function` and `invoke local`
 * never zip or run a stale (or missing) bundle.
 *
 * Why not serverless-esbuild: with `package.individually` it zips every file of its
 * shared build folder except the other functions' entry files, so each function
 * would ship the other functions' lazy chunks; and its esbuild options would live
 * in serverless.yml apart from `lambdaBuildOptions`, which the init benchmark
 * shares so that it measures exactly what ships.
 *
 * CommonJS JavaScript, not TypeScript: osls `require`s plugins on whatever Node
 * runs it (20 outside npm scripts). scripts/build.ts itself runs on the project's
 * Node 22 (the `node` npm package), which strips its types.
 */
'use strict';

const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

class BuildBundles {
  constructor(serverless, options, utils) {
    this.serverless = serverless;
    this.options = options ?? {};
    this.log = utils?.log;
    // the environment before `invoke local` adds the Lambda variables to it
    this.env = { ...process.env };
    this.hooks = {
      'before:package:createDeploymentArtifacts': () => this.build(),
      'before:deploy:function:packageFunction': () => this.build(this.options.function),
      'before:invoke:local:invoke': () => this.build(this.options.function),
    };
  }

  /** Runs scripts/build.ts for one function, or for all of them. */
  build(fn) {
    const dir = this.serverless.serviceDir;
    const projectNode = join(dir, 'node_modules', '.bin', 'node');
    // the project's Node 22; without it, the Node running osls (which then must strip types)
    const node = existsSync(projectNode) ? projectNode : process.execPath;
    const args = [join(dir, 'scripts', 'build.ts'), ...(fn ? [fn] : [])];
    this.log?.notice?.(`Bundling ${fn ?? 'all functions'} (scripts/build.ts)`);
    // the report goes to stderr: `invoke local` prints the function's result on stdout
    const result = spawnSync(node, args, {
      cwd: dir,
      env: this.env,
      stdio: ['ignore', 2, 2],
      timeout: 300_000,
    });
    if (result.error || result.status !== 0) {
      const why = result.error ? result.error.message : `exit code ${result.status}`;
      throw new this.serverless.classes.Error(
        `Bundling failed (${node} scripts/build.ts ${fn ?? ''}: ${why}); nothing was packaged or invoked`,
      );
    }
  }
}

module.exports = BuildBundles;
