/**
 * `tessera migrate --from DATA_DIR --to postgres://…`: a single node's metadata into an empty
 * PostgreSQL database, for cluster mode (the engine side is src/core/metadata/migrate.ts). On a
 * terminal a live bar over every row; otherwise a line per table and a progress line every few
 * seconds. Then the count check, per table. The URL is only ever printed with its password masked.
 */
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { DEFAULT_BATCH_ROWS, migrateToPostgres, type MigrationEvents, type MigrationResult } from '../core/metadata/migrate.js';
import { maskUrl } from '../core/metadata/postgres.js';
import { postgresUrl } from '../server/config.js';
import { padEnd, padStart, sizeString } from './format.js';
import { intInRange } from './options.js';
import { tickMs } from './progress.js';

const MAX_BATCH_ROWS = 100_000;

const STEPS = `
Moving a single node to cluster mode:
  1. stop the node (tessera migrate refuses a data directory a server has open)
  2. tessera migrate --from DATA_DIR --to postgres://USER:PASS@HOST:PORT/DB   (an empty database)
  3. share DATA_DIR with every node (NFS or the like): the blobs stay in it
  4. on each node: tessera serve --data DATA_DIR --metadata postgres://USER:PASS@HOST:PORT/DB
     (the same --config, and TESSERA_ROOT_USER/PASSWORD if the node had them)
Interrupted (or a count differs), run it again: it starts the copy over. Nodes refuse the database
until a run has finished with every count matching; then DATA_DIR/meta.db is renamed
meta.db.migrated, and a single node refuses the directory.
`;

interface MigrateFlags {
  from: string;
  to: string;
  batchSize?: number;
}

const batchSize = intInRange(1, MAX_BATCH_ROWS);

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description("copy a stopped single node's metadata (meta.db, and an older pan.db) into an empty PostgreSQL database, for cluster mode")
    .requiredOption('--from <dir>', "the node's data directory (its blobs stay there)")
    .requiredOption('--to <url>', 'the empty target database, postgres://USER:PASS@HOST:PORT/DB (or postgresql://)')
    .addOption(new Option('--batch-size <rows>', `rows per INSERT (default ${sizeString(DEFAULT_BATCH_ROWS)})`).argParser(batchSize))
    .addHelpText('after', STEPS)
    .action(async (flags: MigrateFlags) => {
      let url: string;
      try {
        url = postgresUrl(flags.to, '--to');
      } catch (err) {
        console.error(`Error: ${(err as Error).message}`);
        process.exit(2);
      }
      const display = new MigrationDisplay(process.stdout.isTTY === true);
      let result: MigrationResult;
      try {
        result = await migrateToPostgres({ dataDir: flags.from, url, batchRows: flags.batchSize, events: display.events });
      } catch (err) {
        display.stop();
        console.error(`Error: ${(err as Error).message}`);
        process.exit(1);
      }
      display.stop();
      printCounts(result);
      const rows = result.counts.reduce((sum, count) => sum + count.source, 0);
      const seconds = (result.elapsedMs / 1000).toFixed(1);
      if (!result.ok) {
        console.error(
          `Error: the counts differ (${result.counts.filter((c) => c.source !== c.target).map((c) => c.table).join(', ')}): ` +
            'the database stays marked unfinished and nodes refuse it; run tessera migrate again',
        );
        process.exit(1);
      }
      console.log(`Copied ${sizeString(rows)} rows in ${seconds} s; every count matches.`);
      console.log(`Start each node with: tessera serve --data ${result.source} --metadata '${maskUrl(url)}'`);
    });
}

function printCounts(result: MigrationResult): void {
  const width = Math.max(5, ...result.counts.map((count) => count.table.length));
  console.log('Count check:');
  console.log(`  ${padEnd('table', width)}  ${padStart('source', 12)}  ${padStart('target', 12)}`);
  for (const count of result.counts) {
    const verdict = count.source === count.target ? 'ok' : 'MISMATCH';
    console.log(`  ${padEnd(count.table, width)}  ${padStart(sizeString(count.source), 12)}  ${padStart(sizeString(count.target), 12)}  ${verdict}`);
  }
}

/** A live bar on a terminal; plain lines elsewhere (logs, pipes). */
class MigrationDisplay {
  private bar: cliProgress.SingleBar | undefined;
  /** Rows of the tables finished so far, for the bar's running total. */
  private doneBefore = 0;
  private lastLine = Date.now();

  constructor(private readonly tty: boolean) {}

  readonly events: MigrationEvents = {
    started: (plan) => {
      console.log(`Copying the metadata of ${plan.source} into ${plan.target}`);
      if (plan.restart) console.log('An interrupted copy from this directory is in the database: starting it over.');
      if (!this.tty) return;
      const total = plan.tables.reduce((sum, table) => sum + table.rows, 0);
      this.bar = new cliProgress.SingleBar(
        {
          stream: process.stdout,
          format: '{bar} {percentage}% | {value}/{total} rows | {table} | ETA: {eta_formatted}',
          barsize: 30,
          hideCursor: true,
          fps: 10,
          // Its own handler would keep the cursor hidden after Ctrl-C: ours stops the bar first.
          gracefulExit: false,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.max(total, 1), 0, { table: plan.tables[0]?.name ?? '' });
      process.once('SIGINT', this.interrupted);
      process.once('SIGTERM', this.interrupted);
    },
    copied: (table, rows, total) => {
      if (this.bar) {
        this.bar.update(this.doneBefore + rows, { table });
      } else if (rows < total && Date.now() - this.lastLine >= tickMs()) {
        this.lastLine = Date.now();
        console.log(`${table}: ${sizeString(rows)}/${sizeString(total)} rows (${((rows * 100) / total).toFixed(1)}%)`);
      }
    },
    tableCopied: (table, rows) => {
      this.doneBefore += rows;
      if (this.bar) this.bar.update(this.doneBefore, { table });
      else console.log(`${table}: ${sizeString(rows)} rows`);
    },
  };

  /** Ctrl-C on a terminal: give the cursor back, say what is left, and leave. */
  private readonly interrupted = (signal: NodeJS.Signals) => {
    this.bar?.stop();
    console.error('\nInterrupted: the database stays marked unfinished and nodes refuse it; run tessera migrate again to start over.');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };

  stop(): void {
    process.removeListener('SIGINT', this.interrupted);
    process.removeListener('SIGTERM', this.interrupted);
    this.bar?.stop();
    this.bar = undefined;
  }
}
