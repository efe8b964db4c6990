import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { SERVER_ENV, SERVER_NODE_FLAGS } from '../../src/server/node-flags.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { CLI, REPO_ROOT, startNode, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);

interface Instruction {
  stage: number;
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped, each with its stage's index. */
function dockerfileInstructions(text: string): Instruction[] {
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  let stage = -1;
  return logical.map((line) => {
    const [keyword, ...rest] = line.split(/\s+/);
    if (keyword!.toUpperCase() === 'FROM') stage++;
    return { stage, keyword: keyword!.toUpperCase(), args: rest.join(' ') };
  });
}

/** A compose value with ${NAME:-default} replaced by its default, as compose does when NAME is unset. */
function withDefaults(value: string): string {
  return value.replace(/\$\{(\w+):-([^}]*)\}/g, (_all, _name: string, fallback: string) => fallback);
}

/** The long options and TESSERA_* variables `tessera serve --help` names. */
async function serveHelp(): Promise<{ flags: Set<string>; variables: Set<string> }> {
  const { stdout } = await run(process.execPath, [CLI, 'serve', '--help']);
  return { flags: new Set(stdout.match(/--[a-z][a-z-]+/g)), variables: new Set(stdout.match(/TESSERA_[A-Z_]+/g)) };
}

type Service = { command?: string[]; environment?: Record<string, string>; volumes?: string[]; build?: string; image?: string; ports?: string[]; healthcheck?: { test: string[] } };

describe('Dockerfile, compose.yaml and deploy/nginx.conf against tessera serve', () => {
  let compose: { services: Record<string, Service>; volumes: Record<string, unknown> };
  let docker: Instruction[];
  let help: { flags: Set<string>; variables: Set<string> };
  let nodes: Array<[string, Service]>;
  before(async () => {
    compose = parse(await readFile(join(REPO_ROOT, 'compose.yaml'), 'utf8'), { merge: true }) as typeof compose;
    docker = dockerfileInstructions(await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
    help = await serveHelp();
    nodes = Object.entries(compose.services).filter(([, service]) => service.build === '.');
  });

  it('the image runs as a user of its own, with a data volume, the port it listens on, and the Node settings npm start uses', () => {
    const last = Math.max(...docker.map((i) => i.stage));
    assert.ok(last >= 1, 'a multi-stage build');
    const final = docker.filter((i) => i.stage === last);
    const user = final.filter((i) => i.keyword === 'USER').at(-1);
    assert.ok(user && !['root', '0'].includes(user.args), `USER ${user?.args}`);
    const env = Object.fromEntries(
      final.filter((i) => i.keyword === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
    );
    for (const name of Object.keys(env).filter((n) => n.startsWith('TESSERA_'))) assert.ok(help.variables.has(name), `${name} is read by tessera serve`);
    assert.equal(final.find((i) => i.keyword === 'VOLUME')?.args, env.TESSERA_DATA);
    assert.equal(final.find((i) => i.keyword === 'EXPOSE')?.args, env.TESSERA_ADDRESS!.split(':').at(-1));
    for (const [name, value] of Object.entries(SERVER_ENV)) assert.equal(env[name], value, name);
    const entrypoint = JSON.parse(final.find((i) => i.keyword === 'ENTRYPOINT')!.args) as string[];
    assert.deepEqual(entrypoint, ['node', ...SERVER_NODE_FLAGS, 'dist/src/cli/main.js']);
    assert.deepEqual(JSON.parse(final.find((i) => i.keyword === 'CMD')!.args), ['serve']);
    const copied = final.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/).at(-2));
    for (const needed of ['/src/dist/src', '/src/dist/console', '/src/node_modules', '/src/package.json']) assert.ok(copied.includes(needed), `copies ${needed}`);
  });

  it('every file the build stage copies from the checkout exists', () => {
    const sources = docker.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    assert.ok(sources.length >= 3);
    for (const source of sources) assert.ok(existsSync(join(REPO_ROOT, source)), source);
  });

  it('the health check asks a path the server answers 200 without credentials', async () => {
    const check = docker.find((i) => i.keyword === 'HEALTHCHECK')!.args;
    const path = /http:\/\/127\.0\.0\.1:9000(\/[^'"]+)/.exec(check)?.[1];
    assert.ok(path, check);
    const server = await startNode({ singleNode: true });
    try {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 200);
    } finally {
      await server.cleanup();
    }
  });

  it('three nodes, each started with flags and variables tessera serve has, on one database and one data volume', () => {
    assert.equal(nodes.length, 3);
    for (const [name, node] of nodes) {
      const [command, ...args] = node.command!;
      assert.equal(command, 'serve', name);
      for (const arg of args.filter((a) => a.startsWith('--'))) assert.ok(help.flags.has(arg), `${name}: ${arg} is a tessera serve flag`);
      for (const variable of Object.keys(node.environment ?? {})) assert.ok(help.variables.has(variable), `${name}: ${variable} is read by tessera serve`);
      const data = args[args.indexOf('--data') + 1];
      const [volume, mountedAt] = node.volumes![0]!.split(':');
      assert.equal(mountedAt, data, `${name} keeps its data on the shared volume`);
      assert.ok(volume! in compose.volumes, `${name}: volume ${volume} is declared`);
    }
    assert.equal(new Set(nodes.map(([, node]) => JSON.stringify([node.command, node.environment, node.volumes]))).size, 1, 'every node alike');
  });

  it('the metadata URL names the postgres service with its user, password and database', () => {
    const url = new URL(withDefaults(nodes[0]![1].environment!.TESSERA_METADATA!));
    const postgres = compose.services[url.hostname];
    assert.ok(postgres, `a service named ${url.hostname}`);
    const env = Object.fromEntries(Object.entries(postgres.environment!).map(([k, v]) => [k, withDefaults(String(v))]));
    assert.equal(url.username, env.POSTGRES_USER);
    assert.equal(url.password, env.POSTGRES_PASSWORD);
    assert.equal(url.pathname.slice(1), env.POSTGRES_DB);
    assert.equal(url.port, '5432');
  });

  it("nginx balances over exactly the three nodes' ports, passing the Host header signatures cover", async () => {
    const nginx = compose.services.nginx!;
    const conf = await readFile(join(REPO_ROOT, 'deploy', 'nginx.conf'), 'utf8');
    assert.ok(nginx.volumes!.some((v) => v.startsWith('./deploy/nginx.conf:')));
    const upstreams = [...conf.matchAll(/^\s*server\s+([\w-]+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
    const expected = nodes.map(([name, node]) => `${name}:${node.command![node.command!.indexOf('--address') + 1]!.split(':')[1]}`);
    assert.deepEqual(upstreams.sort(), expected.sort());
    const listen = /listen\s+(\d+)/.exec(conf)?.[1];
    assert.deepEqual(nginx.ports, [`${listen}:${listen}`]);
    assert.match(conf, /proxy_set_header Host \$http_host;/);
    assert.match(conf, /client_max_body_size 0;/);
    assert.match(conf, /proxy_request_buffering off;/);
  });

  describe("a node's command line, as compose starts it, on a real PostgreSQL", () => {
    let postgres: TestPostgres;
    let server: TestServer | undefined;
    before(async () => (postgres = await startPostgres()));
    after(async () => {
      await server?.cleanup();
      await postgres.cleanup();
    });

    it('starts, and serves the health check', async () => {
      const [, ...args] = nodes[0]![1].command!;
      // startNode gives --data (a temp directory) and --address (a free port on loopback) itself: the rest is passed as written.
      const rest = args.filter((arg, i) => !['--data', '--address'].includes(arg) && !['--data', '--address'].includes(args[i - 1]!));
      server = await startNode({ singleNode: true, extraArgs: rest, env: { TESSERA_METADATA: postgres.url } });
      assert.match(server.stdout(), /Tessera listening on/);
      assert.ok(!existsSync(join(server.dataDir, 'meta.db')), 'the metadata is in PostgreSQL, not SQLite');
      assert.equal((await fetch(`${server.url}/-/health`)).status, 200);
    });
  });
});
