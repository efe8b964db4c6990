import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { missingLaunchSettings, SERVER_ENV, SERVER_ENV_WORDS, SERVER_NODE_FLAGS } from '../../src/server/node-flags.js';
import { CLI, REPO_ROOT, startServer, type TestServerOptions } from '../helpers/server.js';

const WARNING = /started without these Node flags/;

/** Starts a server the given way, stops it (so all it logged is read) and returns its stdout. */
async function stdoutOfRun(options: TestServerOptions): Promise<string> {
  // One process's flags and output: never a cluster.
  const server = await startServer({ ...options, singleNode: true });
  try {
    assert.equal(await server.stop(), 0);
    return server.stdout();
  } finally {
    await server.cleanup();
  }
}

describe('the Node flags the server starts with', () => {
  it('are listed once and found missing only when absent', () => {
    assert.ok(SERVER_NODE_FLAGS.length > 0);
    assert.ok(SERVER_ENV_WORDS.length > 0);
    const env = { PATH: '/usr/bin', ...SERVER_ENV };
    assert.deepEqual(missingLaunchSettings([...SERVER_NODE_FLAGS, '--enable-source-maps'], env), []);
    assert.deepEqual(missingLaunchSettings([], env), [...SERVER_NODE_FLAGS]);
    assert.deepEqual(missingLaunchSettings([...SERVER_NODE_FLAGS], {}), [...SERVER_ENV_WORDS]);
    const [name] = Object.keys(SERVER_ENV);
    assert.deepEqual(missingLaunchSettings([...SERVER_NODE_FLAGS], { ...SERVER_ENV, [name!]: '1' }), [...SERVER_ENV_WORDS], 'another value is not the setting');
  });

  it('are passed by `npm start` and by the tessera bin (its shebang, in source and built)', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    const command = `${SERVER_ENV_WORDS.join(' ')} node ${SERVER_NODE_FLAGS.join(' ')}`;
    assert.ok(pkg.scripts.start!.endsWith(`&& ${command} dist/src/cli/main.js serve`), pkg.scripts.start);
    const expected = `#!/usr/bin/env -S ${command}`;
    for (const file of [join(REPO_ROOT, 'src', 'cli', 'main.ts'), join(REPO_ROOT, pkg.bin.tessera!)]) {
      assert.equal((await readFile(file, 'utf8')).split('\n')[0], expected, file);
    }
  });

  it('reach node through the shebang: the server started as the kernel runs the bin does not warn', async () => {
    // For `#!/usr/bin/env -S <env> node <flags>` the kernel runs env with one argument, "-S <env> node <flags>", then the script.
    const shebang = (await readFile(CLI, 'utf8')).split('\n')[0]!;
    const [interpreter, argument] = [shebang.slice(2, shebang.indexOf(' ')), shebang.slice(shebang.indexOf(' ') + 1)];
    const out = await stdoutOfRun({ launch: [interpreter, argument] });
    assert.match(out, /Tessera listening on/);
    assert.doesNotMatch(out, WARNING);
  });

  it('are named in a warning when the server is started without them', async () => {
    // The test runner's own environment may hold the settings; this server's must not.
    const unset = Object.keys(SERVER_ENV).flatMap((name) => ['-u', name]);
    const out = await stdoutOfRun({ launch: ['/usr/bin/env', ...unset, process.execPath] });
    const line = out.split('\n').find((l) => WARNING.test(l));
    assert.ok(line, `no warning in:\n${out}`);
    assert.deepEqual((JSON.parse(line) as { missing: string[] }).missing, [...SERVER_NODE_FLAGS, ...SERVER_ENV_WORDS]);
    assert.equal((JSON.parse(line) as { level: string }).level, 'warn');
  });
});
