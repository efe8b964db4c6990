/**
 * The docs never drift from the code: every shell block of README.md and docs/*.md (fenced as
 * `sh`, `shell`, `bash` or `console`; and the README's `js` blocks) is either run here, as written, against a real server, or
 * listed in SKIPPED below with the reason, matched by the SHA-256 of its exact text, so that a
 * changed or new block fails this test until it runs or is listed again. The `tessera` command
 * lines of skipped blocks are still checked: each option they use is in `tessera <command> --help`.
 * Every relative link (and its anchor) must point at a file (and heading) that exists.
 *
 * How a document runs: its blocks run in order, each as a bash script sourced with `set -eo
 * pipefail`, in one temp directory (HOME too), the variables exported by one block kept for the
 * next. `tessera` on PATH is the built CLI. A server (`tessera serve`, a free port, a temp data
 * directory) is started before the first block that runs, or where a SKIPPED entry says `serve`
 * (the README's `npm start`). Its root key is the one the document exports in
 * TESSERA_ROOT_USER/TESSERA_ROOT_PASSWORD, else ACCESS_KEY / SECRET_KEY: the placeholders the
 * docs write, so that `export AWS_ACCESS_KEY_ID=ACCESS_KEY …` runs as written. The only rewrite
 * is ADDRESSES: the docs' 127.0.0.1:9000 becomes the server's real address. A `console` block's
 * `$ ` lines are run one by one and what the block shows after each must be its output.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CLI, REPO_ROOT, startNode, type TestServer } from '../helpers/server.js';

/** The documents whose blocks run, in the order a reader meets them. */
const DOCS = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)];

/** Pages other branches are adding; a link to one is allowed to dangle until it is merged (then it is checked as any other). */
const PENDING_PAGES = new Set<string>([]);

/** The one rewrite: the address the docs write, to the test server's. */
const ADDRESSES = ['127.0.0.1:9000', 'localhost:9000'];

/** Root's key where a document exports none: the placeholders the docs use for "your key". */
const PLACEHOLDER_ROOT = { accessKey: 'ACCESS_KEY', secretKey: 'SECRET_KEY' };

/** Files a document takes for granted in its working directory (a reader's own file). */
const FIXTURES: Record<string, Record<string, number>> = {
  // 9 MiB: above the AWS CLI's 8 MiB multipart threshold, so `aws s3 cp` goes multipart.
  'docs/s3.md': { 'big.bin': 9 * 1024 * 1024 },
  'docs/s3-clients.md': { 'big.bin': 9 * 1024 * 1024 },
};

interface Skipped {
  doc: string;
  /** The block's first line, for the reader of this table. */
  first: string;
  /** SHA-256 (hex) of the block's exact text. */
  sha256: string;
  reason: string;
  /** In place of this block, the test starts the server with these `tessera serve` arguments (`$PWD`: the working directory). */
  serve?: string[];
}

const SKIPPED: Skipped[] = [
  {
    doc: 'docs/install.md',
    first: 'npm ci && npm start     # builds dist/ once, then runs tessera serve on ./data, http://127.0.0.1:9000',
    sha256: '96fac5897f8d1895e94061983788c5d5a8699368fbb120e8093cc01016d52249',
    reason: '`npm ci` would rewrite the shared node_modules (CI runs it); test/unit/build-if-stale.test.ts tests the build step and test/install/package.test.ts runs `npx --no-install tessera` in the checkout',
  },
  {
    doc: 'docs/install.md',
    first: 'npm pack                                              # in the checkout: tessera-0.1.0.tgz, with dist/ built',
    sha256: '3385ba60a998f48ee70f6185958af89c5ec92174016434f82f9c5ab7cf14d75d',
    reason: 'test/install/package.test.ts packs the checkout and installs the tarball into a temp prefix (about 90 s: better-sqlite3 compiles), then runs tessera --version and serves from it',
  },
  {
    doc: 'docs/install.md',
    first: 'docker build -t tessera:local .',
    sha256: '0d3baf6b6c73b38c5920564481b41aea0c146145358d75584f2fc520e524571e',
    reason: 'needs a Docker daemon and registry, which CI has not; test/install/container.test.ts checks the Dockerfile against tessera serve',
  },
  {
    doc: 'docs/install.md',
    first: 'docker compose up --build -d',
    sha256: 'bb5ebf0eabb59ca1ed78ab8979a1ffc60d387e2e7ac18545e463358b831fbcf5',
    reason: 'needs Docker; test/install/container.test.ts checks compose.yaml and starts a node with its command line on a real PostgreSQL',
  },
  {
    doc: 'docs/operations.md',
    first: 'tessera serve --data /var/lib/tessera --address 0.0.0.0:9443 \\',
    sha256: '217733627e9d8e94e677e88c69211242e26827f33bd19b126f7313130f60f244',
    reason: "a production path under /etc; test/server/tls.test.ts starts tessera serve with --tls-cert/--tls-key on certificates it makes",
  },
  {
    doc: 'docs/operations.md',
    first: 'cp new/fullchain.pem /etc/tessera/tls/fullchain.pem.new && mv /etc/tessera/tls/fullchain.pem.new /etc/tessera/tls/fullchain.pem',
    sha256: '61b42f2d3b0d38c1c7b887ca2b3c7b4a84f39981028a9c424930a06df1765e4e',
    reason: 'a renewal hook on a systemd host; test/server/tls.test.ts replaces the files and sends SIGHUP mid-upload',
  },
  {
    doc: 'docs/operations.md',
    first: 'curl -fsS http://127.0.0.1:9000/-/ready',
    sha256: 'ced3175fa6aaafaa8e760190f6119fa4506d5fe501eda37ce7492012b2af0cfc',
    reason: 'its second line names a TLS host; test/server/ready.test.ts asks /-/ready over HTTP, and test/server/tls.test.ts over HTTPS',
  },
  {
    doc: 'README.md',
    first: 'npm ci && npm start     # the server on its embedded default: ./data, http://127.0.0.1:9000',
    sha256: '027501034cadc2317ed95a6f90a3a4deb272373ab012a8c3144051f45346d053',
    reason: '`npm ci` would rewrite the shared node_modules; `npm test` is the whole suite (minutes). npm start is what the tour runs next',
  },
  {
    doc: 'README.md',
    first: 'npm start -- --config "$PWD/tessera.json"',
    sha256: 'c268b60b1685b222f2962e927ead94a56af243f0e1693ba5fc15eb3b320a8a74',
    reason: '`npm start` runs `npm run build` (tsc and the Vite console bundle) and then `tessera serve` with these arguments: the test starts that same `tessera serve` here, on a free port',
    serve: ['--config', '$PWD/tessera.json'],
  },
  {
    doc: 'docs/benchmarks.md',
    first: 'npm run bench                      # the full run: 3 runs of every row, a few minutes on 2 cores (on an idle machine)',
    sha256: '248105063130d89a3c40be73a44ac4fa30e337d22e3210da0657c4a82c92e56f',
    reason: 'benchmarks take minutes; test/bench/quick.test.ts runs `--quick` of bench/run.ts and of bench/scale.ts (the run.ts options are checked against bench/run.ts below)',
  },
  {
    doc: 'docs/benchmarks.md',
    first: 'npm run bench -- --rows 1,2,3,4 --contenders tessera,tessera-pg,tessera-3pg --runs 3 --out cluster',
    sha256: '0202aefd3245e952a69d012e4cd171ddb9b4c8463544bbdf49ddace8f1053535',
    reason: 'a benchmark run of minutes on PostgreSQL (options checked against bench/run.ts below)',
  },
  {
    doc: 'docs/reliability.md',
    first: 'npm run soak                                   # 10 minutes, 32 workers, one node on SQLite, a SIGKILL every 30-90 s',
    sha256: 'b225be66615e16f9d4652c4098a3fcbe6e6468fb71aae62c71761431c0af1159',
    reason: 'a soak runs for minutes and kills servers; test/soak/soak.test.ts runs it for under a minute and checks its report',
  },
  {
    doc: 'docs/reliability.md',
    first: 'tessera scrub [--data DIR] [--metadata URL] [--rate MB/s] [--json] [--no-orphans]',
    sha256: 'fade9af7c3b2ddc7a6f84113003b15fcec6bb48a5f1f29c32d626c04cdddd00c',
    reason: 'a synopsis, not a command; test/server/scrub.test.ts runs tessera scrub on SQLite and PostgreSQL (its options are checked against --help below)',
  },
  {
    doc: 'docs/benchmarks.md',
    first: 'npm run bench -- --rows 1,5 --contenders tessera,baseline,tessera-buffered,floor,s3rver,tus --baseline DIR --runs 3 --out downloads',
    sha256: '237fa5aa7630c790934cfeebf0b5a0bee61881db97f7dc3fb7dcf5d81d75ab40',
    reason: 'a benchmark run of minutes against a second built checkout (DIR); options checked against bench/run.ts below',
  },
  {
    doc: 'docs/benchmarks.md',
    first: 'npm run bench -- --rows 1,5 --contenders tessera,tessera-buffered,floor --runs 5 --out directio',
    sha256: '4a9572cbaaeec69ff236911b02481647867eca4dde0c6651122b4335c6171425',
    reason: 'a benchmark run of minutes (options checked against bench/run.ts below)',
  },
  {
    doc: 'docs/cli.md',
    first: 'tessera pan login --endpoint http://127.0.0.1:9000 --client-id my-app --client-secret my-app-secret',
    sha256: '50db4ff36e86210a7cf94ddaf09ad6b3c76e4379d92bbb0541fde1319a9d77a9',
    reason: 'a synopsis ([--v1|--v2], PREUPLOAD_ID, FILE_ID…); the README tour runs login, upload and ls, and test/pan/cli.test.ts every subcommand',
  },
  {
    doc: 'docs/cli.md',
    first: '$ tessera config -e http://127.0.0.1:9000 -i AKIDEXAMPLE -k wJalrXUtnFEMI-K7MDENG-EXAMPLEKEY',
    sha256: '89e96d25a4d174785fd950ca390bfe3632cdc1b880d9bdf5fd22f195284de71a',
    reason: 'a captured session: it needs files and uploads made outside it (album/, holiday.mp4, raw/*.mov), a Ctrl-C and answers to prompts, and its times and upload ids are of that day; test/cli/{ls-rm,cp,listpart,tty}.test.ts assert the same outputs',
  },
  {
    doc: 'docs/cluster.md',
    first: "export TESSERA_ROOT_USER=admin TESSERA_ROOT_PASSWORD='a long secret'",
    sha256: '84c51afb8d3d66b4cc0623b8c3e88e0d0d27b5425273317515a66b8c698cffbf',
    reason: 'needs a PostgreSQL server at db:5432 and a shared /mnt/shared; test/cluster starts nodes this way on a throwaway PostgreSQL',
  },
  {
    doc: 'docs/oss.md',
    first: 'ossutil -e http://127.0.0.1:9000 -i ACCESS_KEY -k SECRET_KEY ls oss://my-bucket',
    sha256: 'ef5ab50cbb39ec52e291986d34c71985416475f064523b6d094f6838d466b55c',
    reason: 'ossutil is not packaged for Debian (not installed here); `tessera` runs the same commands in test/cli',
  },
  {
    doc: 'docs/s3-clients.md',
    first: 'AWS_PROFILE=tessera aws --endpoint-url http://127.0.0.1:9000 s3api list-buckets',
    sha256: 'b0e30c0860a50f9086d087a683c6d80bb6bce1e454069e6ba373b5bfaa7fa505',
    reason: 'needs the ~/.aws/config and ~/.aws/credentials of the ini blocks above it; test/s3/cli-clients.test.ts writes those files and runs the AWS CLI with that profile',
  },
  {
    doc: 'docs/testing.md',
    first: 'npm test                 # type-check, then every test, each suite on its own single-node server',
    sha256: '8479812c9fc8d9c5fcb6bba0f23361b6cfc4135c9b6494177d20bbc0baf7b7c2',
    reason: 'the whole test suite, this file included (minutes)',
  },
];

/** What a block that runs must print, beyond exiting 0 (a block's first line names it). */
const EXPECT: Array<{ doc: string; first: string; stdout: RegExp[] }> = [
  {
    doc: 'README.md',
    first: 'export AWS_ACCESS_KEY_ID=$TESSERA_ROOT_USER AWS_SECRET_ACCESS_KEY=$TESSERA_ROOT_PASSWORD',
    stdout: [/make_bucket: photos/, /upload: \.\/hello\.txt to s3:\/\/photos\/hello\.txt/, /\s15 hello\.txt\n/],
  },
  {
    doc: 'README.md',
    first: 'tessera config -e http://127.0.0.1:9000 -i "$TESSERA_ROOT_USER" -k "$TESSERA_ROOT_PASSWORD"',
    stdout: [
      // The interrupted upload is listed (how many parts it holds depends on the machine's speed), then the second cp completes it.
      /UploadID Number is: 1\n/,
      /Succeed: Total num: 1, size: 40,000,000\. OK num: 1\(upload 1 files\)\./,
      // 8 parts of 5 MiB (the last shorter), and the interrupted upload was the one completed: none is left.
      /\s40000000\s+Standard\s+[0-9A-F]{32}-8\s+oss:\/\/photos\/big\.bin\n/,
      /Object Number is: 2\n[^]*UploadID Number is: 0\n/,
    ],
  },
  {
    doc: 'README.md',
    first: "import OSS from 'ali-oss';",
    stdout: [/^hello, tessera\n\n$/], // the file, and console.log's newline
  },
  {
    doc: 'README.md',
    first: 'tessera pan login --endpoint http://127.0.0.1:9000 --client-id demo-app --client-secret demo-app-secret',
    stdout: [/hello\.txt/, /\s15 hello\.txt\n/],
  },
];

interface Block {
  doc: string;
  lang: string;
  text: string;
  line: number;
}

const SHELL_LANGS = new Set(['sh', 'shell', 'bash', 'console']);
/** Pages whose `js` blocks run too (as an ES module, with the repository's node_modules): the README's tour. */
const JS_DOCS = new Set(['README.md']);

function fencedBlocks(doc: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,}|~{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const lang = open[2]!.trim().split(/\s+/)[0] ?? '';
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== fence) end++;
    blocks.push({ doc, lang, text: lines.slice(start, end).join('\n'), line: i + 1 });
    i = end;
  }
  return blocks;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const firstLine = (text: string) => text.split('\n')[0]!;

const allBlocks = DOCS.flatMap((doc) => fencedBlocks(doc, readFileSync(join(REPO_ROOT, doc), 'utf8')));
const shellBlocks = allBlocks.filter((block) => SHELL_LANGS.has(block.lang));
/** What runs (or is listed in SKIPPED): the shell blocks, and the `js` blocks of JS_DOCS. */
const runBlocks = allBlocks.filter((block) => SHELL_LANGS.has(block.lang) || (block.lang === 'js' && JS_DOCS.has(block.doc)));

function skipEntry(block: Block): Skipped | undefined {
  return SKIPPED.find((entry) => entry.doc === block.doc && entry.sha256 === sha256(block.text));
}

function rewriteAddress(text: string, port: number): string {
  let out = text;
  for (const address of ADDRESSES) out = out.split(address).join(`127.0.0.1:${port}`);
  return out;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function spawnRun(program: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(program, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** One document's shell: a working directory, HOME, the variables exported so far, `tessera` on PATH. */
class DocShell {
  readonly home: string;
  private readonly envFile: string;
  private readonly rawEnvFile: string;
  private readonly scriptFile: string;

  constructor(readonly work: string, readonly baseEnv: NodeJS.ProcessEnv) {
    this.home = join(work, 'home');
    this.envFile = join(work, '.doc-env.sh');
    this.rawEnvFile = join(work, '.doc-env.raw');
    this.scriptFile = join(work, '.doc-block.sh');
  }

  async init(): Promise<void> {
    await mkdir(this.home, { recursive: true });
    await writeFile(this.envFile, '');
  }

  /** Runs `script` as the next block: sourced, so its exports (and its cwd) carry on. */
  async run(script: string): Promise<Run> {
    await writeFile(this.scriptFile, `${script}\n`);
    const wrapper = [
      'set -eo pipefail',
      `source ${JSON.stringify(this.envFile)}`,
      `cd ${JSON.stringify(this.work)}`,
      `source ${JSON.stringify(this.scriptFile)}`,
      `export -p > ${JSON.stringify(this.envFile)}`,
      `env -0 > ${JSON.stringify(this.rawEnvFile)}`,
    ].join('\n');
    return spawnRun('bash', ['-c', wrapper], { cwd: this.work, env: this.baseEnv });
  }

  /** Runs a `js` block as an ES module in the working directory, with the variables exported so far. */
  async runModule(source: string): Promise<Run> {
    const file = join(this.work, '.doc-block.mjs');
    await writeFile(file, source);
    return spawnRun(process.execPath, [file], { cwd: this.work, env: { ...this.baseEnv, ...(await this.exported()) } });
  }

  /** The variables exported so far (empty before the first block). */
  async exported(): Promise<Record<string, string>> {
    if (!existsSync(this.rawEnvFile)) return {};
    const vars: Record<string, string> = {};
    for (const entry of (await readFile(this.rawEnvFile, 'utf8')).split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) vars[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return vars;
  }
}

let scratch: string;
let shimDir: string;

/** The environment of a reader's shell: no credentials or settings of this machine's, `tessera` on PATH. */
function readerEnv(work: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(TESSERA_|OSS_|AWS_|XDG_|NODE_TEST|NODE_OPTIONS$)/.test(name)) env[name] = value;
  }
  env.HOME = join(work, 'home');
  env.PATH = `${shimDir}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  env.TZ = 'UTC';
  return env;
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tessera-docs-'));
  shimDir = join(scratch, 'bin');
  await mkdir(shimDir);
  const shim = join(shimDir, 'tessera');
  await writeFile(shim, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`);
  await chmod(shim, 0o755);
  // A page's `js` block imports packages (ali-oss) as a reader's project would: from a node_modules above it.
  await symlink(join(REPO_ROOT, 'node_modules'), join(scratch, 'node_modules'));
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('docs: every shell block is run or listed', () => {
  it('every fenced block names its language, and every SKIPPED entry matches a block', () => {
    const untagged = allBlocks.filter((block) => block.lang === '');
    assert.deepEqual(
      untagged.map((block) => `${block.doc}:${block.line}`),
      [],
      'a fenced block without a language escapes this test: tag it (sh, console, text, json, …)',
    );
    for (const entry of SKIPPED) {
      const block = runBlocks.find((candidate) => candidate.doc === entry.doc && firstLine(candidate.text) === entry.first);
      assert.ok(block, `SKIPPED lists a block of ${entry.doc} starting ${JSON.stringify(entry.first)} that is not there any more`);
      assert.equal(
        sha256(block.text),
        entry.sha256,
        `${entry.doc}:${block.line} changed since it was listed in SKIPPED: run it, or check the reason still holds and set sha256 to ${sha256(block.text)}`,
      );
    }
    for (const expectation of EXPECT) {
      assert.ok(
        runBlocks.some((block) => block.doc === expectation.doc && firstLine(block.text) === expectation.first),
        `EXPECT names a block of ${expectation.doc} starting ${JSON.stringify(expectation.first)} that is not there`,
      );
    }
  });

  for (const doc of DOCS) {
    const blocks = runBlocks.filter((block) => block.doc === doc);
    if (!blocks.some((block) => !skipEntry(block))) continue;
    it(`${doc}: its blocks run as written`, async () => {
      const work = join(scratch, doc.replace(/[/.]/g, '_'));
      await mkdir(work, { recursive: true });
      for (const [name, size] of Object.entries(FIXTURES[doc] ?? {})) await writeFile(join(work, name), randomBytes(size));
      const shell = new DocShell(work, readerEnv(work));
      await shell.init();
      let server: TestServer | undefined;
      const startsItsOwn = blocks.some((block) => skipEntry(block)?.serve);
      const serve = async (args: string[]) => {
        const exported = await shell.exported();
        const root =
          exported.TESSERA_ROOT_USER && exported.TESSERA_ROOT_PASSWORD
            ? { accessKey: exported.TESSERA_ROOT_USER, secretKey: exported.TESSERA_ROOT_PASSWORD }
            : PLACEHOLDER_ROOT;
        assert.equal(server, undefined, `${doc} starts a second server`);
        server = await startNode({ singleNode: true, root, extraArgs: args.map((arg) => arg.replace('$PWD', work)) });
        assert.match(server.stdout(), /^Tessera listening on http:\/\/127\.0\.0\.1:\d+$/m);
      };
      try {
        for (const block of blocks) {
          const skipped = skipEntry(block);
          if (skipped) {
            if (skipped.serve) await serve(skipped.serve);
            continue;
          }
          // A document that starts its server itself (a SKIPPED entry with `serve`) runs the blocks before it without one.
          if (!server && !startsItsOwn) await serve([]);
          const port = server?.port ?? 9000;
          const where = `${doc}:${block.line}`;
          if (block.lang === 'console') {
            for (const { command, output } of consoleSteps(block.text)) {
              const run = await shell.run(rewriteAddress(command, port));
              assert.equal(run.code, 0, `${where}: \`${command}\` exited ${run.code}\n${run.stderr}${run.stdout}`);
              assert.equal(run.stdout.trimEnd(), rewriteAddress(output, port).trimEnd(), `${where}: \`${command}\` printed something else than the doc shows`);
            }
            continue;
          }
          const script = rewriteAddress(block.text, port);
          const run = block.lang === 'js' ? await shell.runModule(script) : await shell.run(script);
          assert.equal(run.code, 0, `${where} exited ${run.code}\nstderr:\n${run.stderr}\nstdout:\n${run.stdout}`);
          for (const expectation of EXPECT.filter((e) => e.doc === doc && e.first === firstLine(block.text))) {
            for (const pattern of expectation.stdout) assert.match(run.stdout, pattern, `${where}: its output should match ${pattern}\n${run.stdout}`);
          }
        }
      } finally {
        await server?.cleanup();
        await rm(work, { recursive: true, force: true });
      }
    });
  }
});

/** A console block's `$ command` lines with the lines shown after each. */
function consoleSteps(text: string): Array<{ command: string; output: string }> {
  const steps: Array<{ command: string; output: string[] }> = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), output: [] });
    else {
      assert.ok(steps.length > 0, `a console block must start with a $ line: ${JSON.stringify(line)}`);
      steps.at(-1)!.output.push(line);
    }
  }
  return steps.map((step) => ({ command: step.command, output: step.output.join('\n') }));
}

/** The command lines of a block: `$ ` prompts and trailing comments gone, split at `&&`, `;` and `|`. */
function commandLines(text: string): string[] {
  const commands: string[] = [];
  for (const raw of text.split('\n')) {
    if (/^\s/.test(raw) && !raw.trim().startsWith('tessera ')) continue; // a wrapped comment or output
    const line = raw.replace(/^\$ /, '').replace(/\s+#.*$/, '');
    for (const part of line.split(/&&|;|\|(?![^[]*\])/)) if (part.trim()) commands.push(part.trim());
  }
  return commands;
}

const helpCache = new Map<string, Promise<string>>();

async function help(words: string[]): Promise<string> {
  const key = words.join(' ');
  if (!helpCache.has(key)) {
    helpCache.set(
      key,
      spawnRun(process.execPath, [CLI, ...words, '--help'], { cwd: REPO_ROOT, env: { ...process.env, HOME: scratch } }).then((run) => {
        assert.equal(run.code, 0, `tessera ${key} --help exited ${run.code}: ${run.stderr}`);
        return run.stdout;
      }),
    );
  }
  return helpCache.get(key)!;
}

/** The subcommands a help text lists under "Commands:". */
function subcommands(helpText: string): string[] {
  const at = helpText.indexOf('\nCommands:\n');
  if (at < 0) return [];
  return helpText
    .slice(at)
    .split('\n')
    .slice(2)
    .map((line) => /^ {2}([a-z][\w-]*)(?:\|([a-z][\w-]*))?/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .flatMap((match) => [match[1]!, ...(match[2] ? [match[2]] : [])]);
}

describe('docs: the options of commands that are not run exist', () => {
  const skipped = shellBlocks.filter((block) => skipEntry(block));
  const tesseraLines = skipped.flatMap((block) => commandLines(block.text).filter((command) => command.startsWith('tessera ')).map((command) => ({ block, command })));
  const benchLines = skipped.flatMap((block) => commandLines(block.text).filter((command) => command.startsWith('npm run bench')).map((command) => ({ block, command })));

  it('finds the command lines it checks', () => {
    // A test that cannot fail is a defect: if the parsing stopped finding lines, say so.
    assert.ok(tesseraLines.length >= 20, `only ${tesseraLines.length} tessera lines found`);
    assert.ok(benchLines.length >= 8, `only ${benchLines.length} npm run bench lines found`);
  });

  it('each option of a `tessera …` line in a skipped block is in that command\'s --help', async () => {
    // The help of every command named, fetched a few at a time (each is a process start).
    const paths = new Set<string>(['']);
    for (const { command } of tesseraLines) {
      const words = command.split(/\s+/).slice(1).filter((word) => /^[a-z][\w-]*$/.test(word));
      for (let n = 1; n <= Math.min(2, words.length); n++) paths.add(words.slice(0, n).join(' '));
    }
    const queue = [...paths];
    await Promise.all([1, 2, 3, 4].map(async () => {
      for (let path = queue.shift(); path !== undefined; path = queue.shift()) await help(path === '' ? [] : path.split(' ')).catch(() => undefined);
    }));
    for (const { block, command } of tesseraLines) {
      const words = command.split(/\s+/).slice(1);
      const path: string[] = [];
      let text = await help(path);
      while (words.length > 0 && subcommands(text).includes(words[0]!)) {
        path.push(words.shift()!);
        text = await help(path);
      }
      // `tessera --version` / `tessera --help`: the program's own options, checked below like any other.
      assert.ok(path.length > 0 || words[0]?.startsWith('-'), `${block.doc}:${block.line}: \`${command}\`: no such tessera command`);
      for (const option of command.match(/(?<=^|[\s[|])--?[a-zA-Z][\w-]*/g) ?? []) {
        assert.match(text, new RegExp(`(^|[\\s,])${option}([\\s,=]|$)`, 'm'), `${block.doc}:${block.line}: \`${command}\`: tessera ${path.join(' ')} has no ${option}`);
      }
    }
  });

  it('each option of an `npm run bench` line in a skipped block is one its script reads', async () => {
    // npm run bench → bench/run.ts; bench:scale → bench/scale.ts; bench:versions → bench/scale-versions.ts.
    const scripts: Record<string, string> = { bench: 'run.ts', 'bench:scale': 'scale.ts', 'bench:versions': 'scale-versions.ts' };
    for (const { block, command } of benchLines) {
      const script = scripts[command.split(/\s+/)[2]!];
      assert.ok(script, `${block.doc}:${block.line}: \`${command}\`: which script?`);
      const source = await readFile(join(REPO_ROOT, 'bench', script), 'utf8');
      for (const option of command.match(/(?<=\s)--[a-z][\w-]*/g) ?? []) {
        if (option === '--') continue;
        assert.ok(source.includes(`'${option}'`) || source.includes(`${option} `), `${block.doc}:${block.line}: \`${command}\`: bench/${script} takes no ${option}`);
      }
    }
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, (c) => (c === '_' ? '_' : ''))
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(text: string): Set<string> {
  const withoutCode = text.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1$/gm, '');
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = slug(match[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const match of withoutCode.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(match[1]!);
  return anchors;
}

describe('docs: links', () => {
  it('every relative link in README.md and docs/*.md points at a file (and heading) that exists', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const doc of DOCS) {
      const text = readFileSync(join(REPO_ROOT, doc), 'utf8');
      const prose = text.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1$/gm, '').replace(/`[^`\n]*`/g, '');
      for (const match of prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = match[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        checked++;
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const path = file === '' ? join(REPO_ROOT, doc) : resolve(dirname(join(REPO_ROOT, doc)), decodeURIComponent(file));
        const relative = path.slice(REPO_ROOT.length + 1);
        if (!existsSync(path)) {
          if (!PENDING_PAGES.has(relative)) problems.push(`${doc}: ${target}: no such file`);
          continue;
        }
        if (anchor && path.endsWith('.md') && !anchorsOf(readFileSync(path, 'utf8')).has(anchor)) problems.push(`${doc}: ${target}: no such heading in ${relative}`);
      }
    }
    assert.ok(checked > 50, `only ${checked} links found: the link parser is broken`);
    assert.deepEqual(problems, []);
  });
});
