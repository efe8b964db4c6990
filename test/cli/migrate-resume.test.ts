/**
 * `tessera migrate` interrupted: killed with SIGKILL in the middle of a copy of 50,000 objects, or
 * ending with a count that differs, the database refuses nodes, and a second run starts over and
 * ends with an exact copy. The live bar on a terminal. And an older data directory whose 123pan
 * state is still in its own pan.db.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { PostgresMetadata } from '../../src/core/metadata/postgres.js';
import { SqliteMetadata } from '../../src/core/metadata/sqlite.js';
import type { NewObject } from '../../src/core/metadata/types.js';
import { writeLegacyPanDb } from '../helpers/legacy-pan-db.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { CLI, startServer } from '../helpers/server.js';
import { assertExactCopy, freshDatabase, PASSWORD, skipWithoutPostgres, withDatabase } from './migrate-helpers.js';
import { cleanEnv, runCli, spawnCli } from './run.js';

const OBJECTS = 50_000;

/** util-linux `script` gives the CLI a pseudo-terminal; without it the terminal test cannot run. */
const noScript = spawnSync('script', ['--version']).status === 0 ? false : 'util-linux `script` is not installed';

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Objects deleted at the end of the id range: their ids must not be handed out again either. */
const DELETED_AT_END = 3;

function object(n: number): NewObject {
  const key = `many/${String(n).padStart(6, '0')}`;
  return {
    bucket: 'bulk',
    key,
    size: 100 + n,
    etag: `etag-${n}`,
    lastModified: new Date(Date.UTC(2025, 0, 1) + n),
    headers: n % 2 === 0 ? { contentType: 'text/plain' } : {},
    userMeta: n % 3 === 0 ? { n: String(n), quote: 'it\'s "quoted" \\ and ünïcode' } : {},
    crc64: n % 5 === 0 ? String(n * 7919) : undefined,
    checksum: n % 7 === 0 ? { algorithm: 'sha256', type: 'full-object', value: Buffer.alloc(32, n % 256) } : undefined,
    contentMd5: n % 2 === 0 ? `md5-${n}` : undefined,
    content: { segments: [{ blobId: `blob-${n}`, size: 100 + n, partNumber: 1 }] },
  };
}

/** A data directory's meta.db with OBJECTS objects and a little of every other table, written through the SQLite backend. */
async function fillBulk(dataDir: string): Promise<void> {
  const meta = SqliteMetadata.open(join(dataDir, 'meta.db'));
  try {
    await meta.insertBucket('bulk', 'alice', new Date(0));
    for (let start = 1; start <= OBJECTS; start += 5000) {
      await meta.transaction(async (tx) => {
        for (let n = start; n < start + 5000 && n <= OBJECTS; n++) await tx.putObject(object(n));
      });
    }
    for (let n = OBJECTS - DELETED_AT_END + 1; n <= OBJECTS; n++) await meta.deleteObject('bulk', object(n).key);
    await meta.insertUpload({ uploadId: 'UPLOAD1', bucket: 'bulk', key: 'open', owner: 'alice', initiated: new Date(5), headers: {}, userMeta: {}, checksum: { algorithm: 'crc32c', type: 'composite' } });
    for (const partNumber of [1, 2]) {
      await meta.upsertPart('UPLOAD1', { partNumber, blobId: `part-${partNumber}`, size: 10, etag: `"p${partNumber}"`, lastModified: new Date(6), checksum: { algorithm: 'crc32c', value: Buffer.from([1, 2, 3, partNumber]) } });
    }
    // Tokens issued in the same millisecond: the order between them must survive.
    for (const hash of ['t-zebra', 't-apple', 't-mango']) await meta.issueToken(hash, 'app', new Date(1000), new Date(Date.now() + 3_600_000), 10);
    await meta.ensureSetting('token-secret', 'c2VjcmV0');
    await meta.insertSession({ id: 'S1', clientId: 'app', bucket: 'bulk', key: 'f.bin', requestedKey: 'f.bin', uploadId: 'UPLOAD1', etag: 'e', size: 20, sliceSize: 10, duplicate: 0, createdAt: new Date(7) });
    await meta.saveHashState('S1', undefined, { next: 2, size: 10, md5: Buffer.from('md5-state'), sha1: Buffer.from('sha1-state'), etags: ['"p1"', 'with "quotes", commas'] });
    await meta.trash(17, 'bulk', new Date(8));
  } finally {
    await meta.close();
  }
}

describe('tessera migrate, interrupted', { skip: skipWithoutPostgres() }, () => {
  let postgres: TestPostgres;
  /** Filled once; each test migrates a copy of its meta.db (a finished migration renames it). */
  let filled: string;
  const dirs: string[] = [];
  const bulkDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-migrate-bulk-'));
    dirs.push(dir);
    await copyFile(join(filled, 'meta.db'), join(dir, 'meta.db'));
    return dir;
  };
  before(async () => {
    postgres = await startPostgres();
    filled = await mkdtemp(join(tmpdir(), 'tessera-migrate-filled-'));
    dirs.push(filled);
    await fillBulk(filled);
  });
  after(async () => {
    await postgres?.cleanup();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('killed with SIGKILL mid-copy: nodes refuse the database, and the next run starts over and ends with an exact copy', async () => {
    const dataDir = await bulkDir();
    const url = await freshDatabase(postgres);
    // Small batches, so the copy takes many transactions and is caught in the middle.
    const child = spawnCli(['migrate', '--from', dataDir, '--to', url, '--batch-size', '50']);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await withDatabase(url, async (client) => {
      for (;;) {
        const copied = await client
          .query<{ n: string }>('SELECT count(*) AS n FROM objects')
          .then((result) => Number(result.rows[0]!.n), () => 0);
        if (copied > 0) break;
        assert.equal(child.exitCode, null, 'the copy is still running');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const partial = await withDatabase(url, async (client) => Number((await client.query('SELECT count(*) AS n FROM objects')).rows[0].n));
    assert.ok(partial > 0 && partial < OBJECTS - DELETED_AT_END, `killed mid-copy (${partial} objects copied)`);

    // A node refuses the half-filled database rather than serve part of it (and sweep the rest's blobs).
    await assert.rejects(startServer({ singleNode: true, metadata: url, dataDir }), /holds an unfinished `tessera migrate` from .* run it again/);
    // Another data directory cannot take it over.
    const other = await mkdtemp(join(tmpdir(), 'tessera-migrate-other-'));
    try {
      await SqliteMetadata.open(join(other, 'meta.db')).close();
      const refused = await runCli(['migrate', '--from', other, '--to', url]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /holds an unfinished migration from another data directory \(.*tessera-migrate-bulk-.*\)/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }

    const again = await runCli(['migrate', '--from', dataDir, '--to', url]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /An interrupted copy from this directory is in the database: starting it over\./);
    assert.match(again.stdout, /^ {2}objects +49,997 +49,997 {2}ok$/m);
    assert.match(again.stdout, /^Copied [\d,]+ rows in [\d.]+ s; every count matches\.$/m);
    assert.ok(!(again.stdout + again.stderr).includes(PASSWORD));
    await assertExactCopy(dataDir, url);

    // Ids continue past every id SQLite handed out, the deleted ones included.
    const meta = await PostgresMetadata.open(url);
    try {
      await meta.putObject({ ...object(OBJECTS + 1), key: 'after-migration' });
      assert.equal((await meta.getObject('bulk', 'after-migration'))!.id, OBJECTS + 1);
      assert.equal((await meta.getObject('bulk', object(OBJECTS - DELETED_AT_END).key))!.id, OBJECTS - DELETED_AT_END);
    } finally {
      await meta.close();
    }

    // Finished: a third run finds no meta.db; and with it renamed back, refuses to copy over what
    // nodes may have changed since.
    const third = await runCli(['migrate', '--from', dataDir, '--to', url]);
    assert.equal(third.code, 1);
    assert.match(third.stderr, /^Error: .*tessera-migrate-bulk-.* was migrated already: its meta\.db is meta\.db\.migrated now$/m);
    await rename(join(dataDir, 'meta.db.migrated'), join(dataDir, 'meta.db'));
    const fourth = await runCli(['migrate', '--from', dataDir, '--to', url]);
    assert.equal(fourth.code, 1);
    assert.match(fourth.stderr, /already holds a finished migration from .*; nodes may have changed it since/);
    assert.equal(existsSync(join(dataDir, 'meta.db')), true, 'a refused run leaves meta.db in place');
  });

  it('on a terminal, a live bar over every row, then the same count check', { skip: noScript }, async () => {
    const dataDir = await bulkDir();
    const url = await freshDatabase(postgres);
    const command = [process.execPath, CLI, 'migrate', '--from', dataDir, '--to', url, '--batch-size', '1000'].map(shellQuote).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: cleanEnv({ TERM: 'xterm', COLUMNS: '120' }), stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    assert.equal(await new Promise((resolve) => child.on('close', resolve)), 0, output);
    // The bar redraws in place: a running total over every table's rows, with the table being copied.
    const total = OBJECTS - DELETED_AT_END;
    assert.match(output, /\| \d+\/\d+ rows \| objects \|/);
    assert.match(output, /100% \| (\d+)\/\1 rows \| trash \|/);
    assert.match(output, new RegExp(`^ {2}objects +${total.toLocaleString('en-US')} +${total.toLocaleString('en-US')} {2}ok\\r?$`, 'm'));
    assert.doesNotMatch(output, /^objects: /m, 'no plain progress lines on a terminal');
    assert.ok(!output.includes(PASSWORD));
  });

  it('a count that differs (rows the database dropped): exit 1, nodes refuse the database, and the next run copies them', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tessera-migrate-small-'));
    dirs.push(dataDir);
    const meta = SqliteMetadata.open(join(dataDir, 'meta.db'));
    await meta.insertBucket('bulk', 'alice', new Date(0));
    for (let n = 1; n <= 20; n++) await meta.putObject(object(n));
    for (const id of [3, 17]) await meta.trash(id, 'bulk', new Date(id));
    await meta.close();
    // The schema made ahead, with a trigger that silently drops one trash mark: what a copy gone
    // wrong would look like.
    const url = await freshDatabase(postgres);
    await (await PostgresMetadata.open(url)).close();
    await withDatabase(url, async (client) => {
      await client.query(`CREATE FUNCTION drop_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.object_id = 17 THEN RETURN NULL; END IF; RETURN NEW; END $$`);
      await client.query('CREATE TRIGGER drop_one BEFORE INSERT ON trash FOR EACH ROW EXECUTE FUNCTION drop_one()');
    });
    const run = await runCli(['migrate', '--from', dataDir, '--to', url]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /^ {2}trash +2 +1 {2}MISMATCH$/m);
    assert.match(run.stdout, /^ {2}objects +20 +20 {2}ok$/m);
    assert.match(run.stderr, /^Error: the counts differ \(trash\): the database stays marked unfinished and nodes refuse it; run tessera migrate again$/m);
    assert.equal(existsSync(join(dataDir, 'meta.db')), true, 'the source stays as it was');
    await assert.rejects(startServer({ singleNode: true, metadata: url, dataDir }), /holds an unfinished `tessera migrate`/);

    await withDatabase(url, (client) => client.query('DROP TRIGGER drop_one ON trash'));
    const again = await runCli(['migrate', '--from', dataDir, '--to', url]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /starting it over/);
    await assertExactCopy(dataDir, url);
  });

  it("an older data directory's pan.db is imported, then copied with the rest", async () => {
    const old = await mkdtemp(join(tmpdir(), 'tessera-migrate-old-'));
    try {
      // meta.db at schema version 1 (before the 123pan state moved into it, and before bucket
      // configurations), and pan.db beside it.
      const meta = SqliteMetadata.open(join(old, 'meta.db'));
      await meta.insertBucket('drive', 'alice', new Date(0));
      await meta.close();
      const db = new Database(join(old, 'meta.db'));
      db.exec('DROP TABLE settings; DROP TABLE tokens; DROP TABLE upload_sessions; DROP TABLE hash_states; DROP TABLE trash; DROP TABLE leases; DROP TABLE call_windows; DROP TABLE bucket_configs; DROP TABLE object_versions');
      db.pragma('user_version = 1');
      db.close();
      writeLegacyPanDb(old);

      const url = await freshDatabase(postgres);
      const run = await runCli(['migrate', '--from', old, '--to', url]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(existsSync(join(old, 'pan.db')), false);
      assert.equal(existsSync(join(old, 'pan.db.imported')), true, 'imported as the SQLite backend imports it, and kept');
      await assertExactCopy(old, url);
      const target = await PostgresMetadata.open(url);
      try {
        assert.equal(await target.getSetting('token-secret'), 'c2VjcmV0');
        assert.equal(await target.tokenClient('h1', new Date()), 'app');
        assert.equal((await target.getSession('p1'))?.status, 'open');
        assert.equal(await target.isTrashed(7), true);
        assert.equal((await target.getBucket('drive'))?.owner, 'alice');
      } finally {
        await target.close();
      }
    } finally {
      await rm(old, { recursive: true, force: true });
    }
  });
});
