import { closeSync, fstatSync, fsync, openSync, constants } from 'node:fs';

/**
 * Group fsync: makes the writes to one file (or one directory's entries) durable with one fsync
 * shared by every caller that asked while another fsync of it was running, on libuv's thread pool.
 * `durable()` resolves once an fsync that *started after* the call has finished, so whatever the
 * caller wrote (or renamed into the directory) before calling is on disk. With 16 requests in
 * flight, each needing the same file synced, one fsync serves all that arrived during the last.
 *
 * Used for SQLite's write-ahead log (metadata/sqlite.ts: group commit) and the blob directories
 * (blob-store.ts: the directory fsync after a rename). The descriptor is opened once, read-only
 * (fsync works on any descriptor of the file), and again if the file was unlinked since.
 *
 * SQLite takes no POSIX lock on its `-wal` file (its locks are on the database file and `-shm`), so
 * closing this descriptor cannot release one of SQLite's; it is closed only after the connection.
 */
export class GroupSync {
  private fd: number | undefined;
  /** The fsync running now. */
  private running: Promise<void> | undefined;
  /** The fsync that starts when `running` ends: every caller since `running` started waits for it. */
  private next: Promise<void> | undefined;
  /**
   * Set by a failed fsync, and never cleared: after one, Linux may have dropped the unwritten pages
   * and marked them clean, so no later fsync could say whether they are on disk. Every write
   * needing this file from then on fails (its rows may be in the database; it is never
   * acknowledged) until restart, which recovers from what is on disk.
   */
  private failed: Error | undefined;

  constructor(private readonly path: string) {}

  /** Resolves once whatever was written to the file (or renamed into the directory) before this call is on disk. */
  durable(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (!this.running) return this.start();
    this.next ??= this.running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      this.next = undefined;
      return this.start();
    });
    return this.next;
  }

  /** Waits for the fsyncs started or asked for so far. */
  async drain(): Promise<void> {
    while (this.running || this.next) await Promise.allSettled([this.running, this.next]);
  }

  /** Closes the descriptor (a WAL's only after its connection is closed). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private start(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    let fd: number;
    try {
      fd = this.descriptor();
    } catch (err) {
      return Promise.reject(err);
    }
    const run = new Promise<void>((resolve, reject) =>
      fsync(fd, (err) => {
        if (!err) return resolve();
        this.failed ??= new Error(`fsync of ${this.path} failed (${err.code ?? err.message}): writes refused until restart`, { cause: err });
        reject(this.failed);
      }),
    );
    this.running = run;
    const clear = () => {
      if (this.running === run) this.running = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  /** The descriptor, opened again if the file was unlinked since (SQLite removes its WAL only at close). */
  private descriptor(): number {
    if (this.fd !== undefined && fstatSync(this.fd).nlink > 0) return this.fd;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.fd = openSync(this.path, constants.O_RDONLY);
    return this.fd;
  }
}
