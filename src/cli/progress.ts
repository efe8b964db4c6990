/**
 * `cp` progress. On a terminal: a live bar (cli-progress) with bytes, rate and ETA. Otherwise:
 * ossutil's progress lines every few seconds and its closing lines, word for word:
 *   Total num: 3, size: 1,024. Dealed num: 1(upload 1 files), OK size: 512, Progress: 50.000%, Speed: 12.00KB/s
 *   Succeed: Total num: 3, size: 1,024. OK num: 3(upload 3 files).
 *   average speed 2048(byte/s)
 */
import cliProgress from 'cli-progress';
import { sizeString } from './format.js';
import { StatusLine } from './terminal.js';

export type Operation = 'upload' | 'download' | 'copy';

/** How often a progress line is printed when not on a terminal: ossutil's 5 s, or TESSERA_PROGRESS_INTERVAL seconds. */
export function tickMs(): number {
  const seconds = Number(process.env.TESSERA_PROGRESS_INTERVAL);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 5_000;
}

function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(2)} ${units[unit]}`;
}

export class CopyMonitor {
  private totalSize = 0;
  private totalNum = 0;
  private transferred = 0;
  private skipSize = 0;
  /** Bytes an interrupted earlier run had already stored (resumed uploads): done, but not moved now. */
  private resumed = 0;
  private fileNum = 0;
  private skipNum = 0;
  private errNum = 0;
  private readonly started = Date.now();
  private lastTick = Date.now();
  private lastTickBytes = 0;
  private readonly status = new StatusLine();
  private bar: cliProgress.SingleBar | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly op: Operation,
    private readonly tty: boolean,
  ) {}

  /** The scan is done: totals are known. */
  start(totalNum: number, totalSize: number): void {
    this.totalNum = totalNum;
    this.totalSize = totalSize;
    if (this.tty) {
      this.bar = new cliProgress.SingleBar(
        {
          stream: process.stdout,
          format: '{bar} {percentage}% | {done} / {size} | {rate} | ETA: {eta_formatted}',
          barsize: 30,
          hideCursor: true,
          etaBuffer: 50,
          fps: 10,
          // Its own handler would swallow Ctrl-C and let the transfer run on: ours stops the bar and exits.
          gracefulExit: false,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.max(totalSize, 1), 0, this.payload());
      process.once('SIGINT', this.interrupted);
      process.once('SIGTERM', this.interrupted);
    } else {
      this.timer = setInterval(() => this.tick(), tickMs());
      this.timer.unref();
    }
  }

  private payload(): Record<string, string> {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    return { done: humanBytes(this.dealt()), size: humanBytes(this.totalSize), rate: `${humanBytes(Math.round(this.transferred / seconds))}/s` };
  }

  /** Bytes moved so far by the transfers in flight (monotonic per call site). */
  addBytes(bytes: number): void {
    this.transferred += bytes;
    this.bar?.update(this.dealt(), this.payload());
  }

  private dealt(): number {
    return this.transferred + this.skipSize + this.resumed;
  }

  addResumed(bytes: number): void {
    this.resumed += bytes;
  }

  fileDone(): void {
    this.fileNum++;
  }

  skipped(size: number): void {
    this.skipNum++;
    this.skipSize += size;
    this.bar?.update(this.dealt(), this.payload());
  }

  failed(): void {
    this.errNum++;
  }

  private subject(): string {
    return this.op === 'upload' ? 'files' : 'objects';
  }

  private numDetail(withErrors: boolean): string {
    const parts: string[] = [];
    if (withErrors && this.errNum) parts.push(`Error ${this.errNum} ${this.subject()}`);
    if (this.fileNum) parts.push(`${this.op} ${this.fileNum} ${this.subject()}`);
    if (this.skipNum) parts.push(`skip ${this.skipNum} ${this.subject()}`);
    return parts.length ? `(${parts.join(', ')})` : '';
  }

  private tick(): void {
    const now = Date.now();
    const speed = (this.transferred - this.lastTickBytes) / 1024 / Math.max((now - this.lastTick) / 1000, 0.001);
    this.lastTick = now;
    this.lastTickBytes = this.transferred;
    const dealt = this.dealt();
    const percent = this.totalSize ? (dealt * 100) / this.totalSize : this.totalNum ? ((this.fileNum + this.skipNum) * 100) / this.totalNum : 100;
    process.stdout.write(
      this.status.format(
        `Total num: ${this.totalNum}, size: ${sizeString(this.totalSize)}. Dealed num: ${this.fileNum + this.skipNum + this.errNum}${this.numDetail(true)}, OK size: ${sizeString(dealt)}, Progress: ${percent.toFixed(3)}%, Speed: ${speed.toFixed(2)}KB/s`,
      ),
    );
  }

  /** Stops the display and prints ossutil's closing line (and average speed after success). */
  /** Ctrl-C (or SIGTERM) on a terminal: give the cursor back and leave; the checkpoint allows a resume. */
  private readonly interrupted = (signal: NodeJS.Signals) => {
    this.bar?.stop();
    process.stdout.write('\n');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };

  finish(ok: boolean): void {
    process.removeListener('SIGINT', this.interrupted);
    process.removeListener('SIGTERM', this.interrupted);
    if (this.timer) clearInterval(this.timer);
    if (this.bar) {
      this.bar.update(this.dealt(), this.payload());
      this.bar.stop();
    }
    const okNum = this.fileNum + this.skipNum;
    if (ok && this.errNum === 0) {
      const skip = this.skipSize ? `, Skip size: ${sizeString(this.skipSize)}` : '';
      process.stdout.write(this.status.format(`Succeed: Total num: ${this.totalNum}, size: ${sizeString(this.totalSize)}. OK num: ${okNum}${this.numDetail(true)}${skip}.\n`));
      const seconds = (Date.now() - this.started) / 1000;
      process.stdout.write(`\naverage speed ${seconds > 0 ? Math.round(this.transferred / seconds) : 0}(byte/s)\n`);
      return;
    }
    const size = this.skipSize
      ? this.transferred
        ? `, OK size: ${sizeString(this.dealt())}(transfer: ${sizeString(this.transferred)}, skip: ${sizeString(this.skipSize)})`
        : `, Skip size: ${sizeString(this.skipSize)}`
      : `, Transfer size: ${sizeString(this.transferred)}`;
    process.stdout.write(
      this.status.format(`Total num: ${this.totalNum}, size: ${sizeString(this.totalSize)}. Dealed num: ${okNum}${this.numDetail(false)}${size}. When error happens.\n`),
    );
  }
}

/**
 * cp's bar (bytes, rate, ETA) for one transfer, with a label in front and on any stream:
 * `tessera pan upload` draws its hashing and then its upload with it, on stderr.
 * `already` is done before this run (a resume): counted in the bar, not in the rate.
 */
export class LabelledBar {
  private readonly bar: cliProgress.SingleBar;
  private readonly started = Date.now();
  private done: number;

  constructor(
    private readonly label: string,
    private readonly total: number,
    stream: NodeJS.WritableStream = process.stderr,
    private readonly already = 0,
  ) {
    this.done = already;
    this.bar = new cliProgress.SingleBar(
      {
        stream,
        format: '{label} {bar} {percentage}% | {done} / {size} | {rate} | ETA: {eta_formatted}',
        barsize: 30,
        hideCursor: true,
        etaBuffer: 50,
        fps: 10,
        gracefulExit: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(Math.max(total, 1), already, this.payload());
  }

  private payload(): Record<string, string> {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    return { label: this.label, done: humanBytes(this.done), size: humanBytes(this.total), rate: `${humanBytes(Math.round((this.done - this.already) / seconds))}/s` };
  }

  update(done: number): void {
    this.done = done;
    this.bar.update(done, this.payload());
  }

  stop(): void {
    this.bar.update(this.done, this.payload());
    this.bar.stop();
  }
}
