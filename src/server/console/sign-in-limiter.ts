import { ServiceError } from '../../core/errors.js';

export interface SignInLimits {
  /** Failed sign-ins one client address may make per window. */
  perAddress: number;
  /** Failed sign-ins for one access key per window, from every address together. */
  perAccessKey: number;
  windowMs: number;
  /** Counters kept at most; the oldest go first (a flood of made-up keys cannot grow memory without bound). */
  maxTracked: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = { perAddress: 10, perAccessKey: 20, windowMs: 5 * 60 * 1000, maxTracked: 10_000 };

interface Counter {
  failures: number;
  windowEnds: number;
}

/**
 * Limits guessing at the console's sign-in: failures are counted per client address and per
 * access key, in fixed windows. Past either limit every attempt (a right one too, so that a
 * guess cannot be confirmed) is refused until the window ends. Counters live in this process:
 * in a cluster each node counts its own.
 */
export class SignInLimiter {
  private readonly counters = new Map<string, Counter>();

  constructor(private readonly limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS) {}

  /** Throws 429 TooManyAttempts while the address or the access key is over its limit. */
  check(address: string, accessKey: string, now = Date.now()): void {
    const waits = [this.wait(`address:${address}`, this.limits.perAddress, now), this.wait(`key:${accessKey}`, this.limits.perAccessKey, now)];
    const waitMs = Math.max(...waits);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      throw new ServiceError('TooManyAttempts', `Too many failed sign-ins; try again in ${seconds} seconds.`, 429, { RetryAfter: String(seconds) });
    }
  }

  recordFailure(address: string, accessKey: string, now = Date.now()): void {
    this.count(`address:${address}`, now);
    this.count(`key:${accessKey}`, now);
  }

  private wait(name: string, limit: number, now: number): number {
    const counter = this.counters.get(name);
    if (!counter || counter.windowEnds <= now) return 0;
    return counter.failures >= limit ? counter.windowEnds - now : 0;
  }

  private count(name: string, now: number): void {
    let counter = this.counters.get(name);
    if (!counter || counter.windowEnds <= now) {
      this.counters.delete(name);
      counter = { failures: 0, windowEnds: now + this.limits.windowMs };
      while (this.counters.size >= this.limits.maxTracked) this.counters.delete(this.counters.keys().next().value!);
    }
    counter.failures += 1;
    // Re-inserted so the map's order is the order of last use.
    this.counters.delete(name);
    this.counters.set(name, counter);
  }
}
