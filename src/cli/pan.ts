/**
 * `tessera pan …`: a 123pan open-platform client (for Tessera's pan dialect or open-api.123pan.com).
 * `login` keeps the token in `$XDG_CONFIG_HOME/tessera/pan.json` (mode 0600); the other commands
 * use it. Progress goes to stderr (a bar on a terminal, a line per slice otherwise); results to stdout.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { PanApiError, PanClient, type PanFile } from '../client/pan.js';
import { DEFAULT_RETRY } from '../client/http.js';
import { localTime } from './format.js';
import { nonNegativeInt, oneOfInts, positiveInt } from './options.js';
import { panUpload, type UploadFlags } from './pan-upload.js';
import { retryNotice } from './retry-notice.js';

interface Saved {
  endpoint: string;
  clientID: string;
  accessToken: string;
  expiredAt: string;
}

export function panConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TESSERA_PAN_CONFIG) return env.TESSERA_PAN_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'tessera', 'pan.json');
}

async function loadSaved(): Promise<Saved> {
  const path = panConfigPath();
  let saved: Saved;
  try {
    saved = JSON.parse(await readFile(path, 'utf8')) as Saved;
  } catch {
    throw new Error(`not logged in (no ${path}): run "tessera pan login" first`);
  }
  if (Date.parse(saved.expiredAt) <= Date.now()) throw new Error(`the token in ${path} expired at ${saved.expiredAt}: run "tessera pan login" again`);
  return saved;
}

/** Runs `body` with a client for the saved login, closed afterwards. */
async function withClient<T>(body: (api: PanClient) => Promise<T>): Promise<T> {
  const saved = await loadSaved();
  const api = new PanClient({ baseUrl: saved.endpoint, accessToken: saved.accessToken, onRetry: retryNotice(DEFAULT_RETRY.maxRetries) });
  try {
    return await body(api);
  } finally {
    api.close();
  }
}

/**
 * Tessera answers 401 alike for an app it does not know and for a wrong secret (not telling
 * which app ids exist): name both, and where a Tessera server's apps come from.
 */
function refusedLogin(err: PanApiError, endpoint: string, clientID: string): Error {
  return new Error(
    `${endpoint} refused clientID "${clientID}" with that secret (${err.message}).\n` +
      `Either the secret is wrong or the server has no app "${clientID}". A Tessera server's apps are declared in its config file, ` +
      `under "panApps": [{ "clientID": "…", "clientSecret": "…", "user": "…" }] (read when the server starts); ` +
      `on open-api.123pan.com, apps are made in the 123pan open platform.`,
  );
}

/** Runs a command body: `Error: …` on stderr and exit 1 on failure. */
function run<A extends unknown[]>(body: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (err) {
      const message = err instanceof PanApiError && err.code === 401 ? `${err.message}: run "tessera pan login" again` : (err as Error).message;
      process.stderr.write(`Error: ${message}\n`);
      // A bad number given as an argument (a file id) is wrong usage, as a bad option is.
      process.exit(err instanceof InvalidArgumentError ? 2 : 1);
    }
  };
}

/** A file or folder id: 0 (the root), 1, 2, … */
const fileId = nonNegativeInt;

function table(rows: Array<Array<string | number>>): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => String(row[column]).length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? String(cell) : String(cell).padEnd(widths[column]!))).join('  ')).join('\n') + '\n';
}

/** 123pan's times (`2025-03-23 15:48:37`, Beijing time) in the local zone of $TZ, the zone named. */
export function panLocalTime(text: string): string {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(text);
  if (!match) return text;
  const date = new Date(`${match[1]}T${match[2]}+08:00`);
  if (Number.isNaN(date.getTime())) return text;
  // `2006-01-02 15:04:05 -0700 MST`; a zone without a name (tzdata writes `+04`) gets its offset.
  const [day, time, offset, zone] = localTime(date).split(' ') as [string, string, string, string];
  const named = /^[A-Za-z]+$/.test(zone) ? zone : `${offset.slice(0, 3)}:${offset.slice(3)}`;
  return `${day} ${time} ${named}`;
}

export function registerPan(program: Command): void {
  const pan = program.command('pan').description('123pan open-platform client: login, upload, list, download (Tessera or open-api.123pan.com)');

  pan
    .command('login')
    .description("get an access token with an app's clientID and clientSecret; kept in $XDG_CONFIG_HOME/tessera/pan.json (mode 0600)")
    .option('--endpoint <url>', 'API base URL, e.g. http://127.0.0.1:9000 (env TESSERA_PAN_ENDPOINT)')
    .option('--client-id <id>', 'the app clientID (env TESSERA_PAN_CLIENT_ID)')
    .option('--client-secret <secret>', 'the app clientSecret (env TESSERA_PAN_CLIENT_SECRET)')
    .action(
      run(async (flags: { endpoint?: string; clientId?: string; clientSecret?: string }) => {
        const endpoint = flags.endpoint ?? process.env.TESSERA_PAN_ENDPOINT;
        const clientID = flags.clientId ?? process.env.TESSERA_PAN_CLIENT_ID;
        const clientSecret = flags.clientSecret ?? process.env.TESSERA_PAN_CLIENT_SECRET;
        if (!endpoint || !clientID || !clientSecret) throw new Error('login needs --endpoint, --client-id and --client-secret');
        const api = new PanClient({ baseUrl: endpoint, clientID, clientSecret, onRetry: retryNotice(DEFAULT_RETRY.maxRetries) });
        try {
          const token = await api.login().catch((err: unknown) => {
            throw err instanceof PanApiError && err.code === 401 ? refusedLogin(err, api.baseUrl, clientID) : err;
          });
          const path = panConfigPath();
          await mkdir(dirname(path), { recursive: true, mode: 0o700 });
          const saved: Saved = { endpoint: api.baseUrl, clientID, accessToken: token.accessToken, expiredAt: token.expiredAt };
          await writeFile(path, JSON.stringify(saved, null, 2) + '\n', { mode: 0o600 });
          await chmod(path, 0o600);
          process.stdout.write(`logged in to ${api.baseUrl} as ${clientID}; token valid until ${token.expiredAt} (saved in ${path})\n`);
        } finally {
          api.close();
        }
      }),
    );

  pan
    .command('upload <file>')
    .description('upload a file: MD5 first (instant upload), then the missing slices in parallel; resumes an interrupted upload')
    .option('--parent <id>', 'folder id (0 = root)', fileId, 0)
    .option('--name <name>', 'name in the drive (default: the file name)')
    .option('--v1', 'use the V1 flow (presigned slice URLs)')
    .option('--v2', 'use the V2 flow (multipart slices; the default)')
    .option('--duplicate <mode>', '1 keep both, 2 overwrite', oneOfInts<1 | 2>(1, 2))
    .option('--parallel <n>', 'slices in flight', positiveInt, 4)
    .option('--json', 'print the result as JSON')
    .action(
      run(async (file: string, flags: UploadFlags) => {
        if (flags.v1 && flags.v2) throw new InvalidArgumentError('--v1 and --v2 exclude each other');
        await withClient((api) => panUpload(api, file, flags));
      }),
    );

  pan
    .command('parts <preuploadID>')
    .description('the slices the server holds for an upload (list_upload_parts)')
    .option('--json', 'print the listing as JSON')
    .action(
      run(async (preuploadID: string, flags: { json?: boolean }) => {
        await withClient(async (api) => {
          const parts = await api.listUploadParts(preuploadID);
          if (flags.json) process.stdout.write(JSON.stringify({ parts }, null, 2) + '\n');
          else process.stdout.write(table([['partNumber', 'size', 'etag'], ...parts.map((part) => [part.partNumber, part.size, part.etag])]));
        });
      }),
    );

  pan
    .command('ls [folderId]')
    .description('list a folder (default the root), or search the drive')
    .option('--search <text>', 'find files whose name contains this')
    .option('--json', 'print the entries as JSON')
    .action(
      run(async (folder: string | undefined, flags: { search?: string; json?: boolean }) => {
        await withClient(async (api) => {
          const entries: PanFile[] = [];
          for await (const entry of api.listAll({ parentFileId: folder === undefined ? 0 : fileId(folder), searchData: flags.search })) entries.push(entry);
          if (flags.json) {
            process.stdout.write(JSON.stringify(entries, null, 2) + '\n');
            return;
          }
          const rows = entries.map((entry) => [entry.fileId, entry.type === 1 ? 'dir' : 'file', entry.type === 1 ? '-' : entry.size, panLocalTime(entry.updateAt), entry.etag || '-', entry.filename + (entry.trashed ? ' (trashed)' : '')]);
          process.stdout.write(table([['fileId', 'type', 'size', 'updateAt', 'etag', 'name'], ...rows]));
        });
      }),
    );

  pan
    .command('mkdir <name>')
    .description('make a folder')
    .option('--parent <id>', 'folder id (0 = root)', fileId, 0)
    .action(
      run(async (name: string, flags: { parent: number }) => {
        await withClient(async (api) => {
          process.stdout.write(`${await api.mkdir(name, flags.parent)}\n`);
        });
      }),
    );

  pan
    .command('rm <fileIds...>')
    .description('move files to the trash and delete them for good (--trash: only to the trash)')
    .option('--trash', 'only move to the trash')
    .action(
      run(async (ids: string[], flags: { trash?: boolean }) => {
        await withClient(async (api) => {
          const fileIDs = ids.map(fileId);
          await api.trash(fileIDs);
          if (!flags.trash) await api.delete(fileIDs);
          process.stdout.write(`${flags.trash ? 'trashed' : 'deleted'} ${fileIDs.join(', ')}\n`);
        });
      }),
    );

  pan
    .command('download <fileId>')
    .description('download a file through its signed download URL')
    .option('-o, --output <path>', 'where to write it (default: its name in the drive, here)')
    .action(
      run(async (id: string, flags: { output?: string }) => {
        await withClient(async (api) => {
          const detail = await api.detail(fileId(id));
          const output = flags.output ?? detail.filename;
          const result = await api.download(detail.fileID, output);
          if (/^[0-9a-f]{32}$/.test(detail.etag) && result.md5 !== detail.etag) throw new Error(`downloaded ${output} but its MD5 ${result.md5} is not the file's ${detail.etag}`);
          process.stdout.write(`downloaded fileID ${detail.fileID} to ${output} (${result.size} bytes, MD5 ${result.md5})\n`);
        });
      }),
    );
}
