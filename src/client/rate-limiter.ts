/**
 * A shared bandwidth cap for any number of concurrent streams: a token bucket. Credit accrues
 * at the cap's rate (up to a small burst); bytes pass at once while credit remains, and a chunk
 * that takes the bucket into debt waits exactly as long as the debt takes to repay.
 *
 * Why not "each chunk waits its share on a timer": timers fire late (at least ~1 ms, more under
 * load), and a limiter that schedules chunk after chunk from the moment the timer fired loses
 * that lateness every time: a 200 MB/s cap in 64 KiB chunks (0.33 ms each) then delivers a
 * fraction of the cap. Here the credit is computed from the clock, so lateness and the time the
 * pipeline spends between chunks are credited back (within the burst).
 */

/** Milliseconds, monotonic. Injected in tests to simulate time. */
export interface LimiterClock {
  now(): number;
}

export const systemClock: LimiterClock = { now: () => performance.now() };

export interface RateLimiterOptions {
  clock?: LimiterClock;
  /** Most credit saved up while idle, bytes; default a quarter second at the cap (at least 256 KiB). */
  burstBytes?: number;
}

export class RateLimiter {
  private readonly clock: LimiterClock;
  private readonly burst: number;
  /** Credit in bytes; negative while in debt. */
  private tokens: number;
  private last: number;

  constructor(
    readonly bytesPerSecond: number,
    options: RateLimiterOptions = {},
  ) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) throw new RangeError('bytesPerSecond must be a positive number');
    this.clock = options.clock ?? systemClock;
    this.burst = options.burstBytes ?? Math.max(bytesPerSecond / 4, 256 * 1024);
    this.tokens = 0;
    this.last = this.clock.now();
  }

  /**
   * Takes `bytes` from the bucket: 0 when there was credit for them, else the milliseconds to
   * wait before passing them on (the debt, repaid at the cap's rate).
   */
  take(bytes: number): number {
    const now = this.clock.now();
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.bytesPerSecond) / 1000);
      this.last = now;
    }
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.bytesPerSecond;
  }
}
