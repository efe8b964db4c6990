/**
 * The bandwidth limiter against a simulated clock: no real time passes, so the figures are exact
 * and the test is not timed. The simulation behaves like the real pipeline: a wait is a timer
 * that fires no sooner than 1 ms and a little late, and every chunk costs some processing time
 * before the next one arrives.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../src/client/rate-limiter.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Simulation {
  rate: number;
  chunk: number;
  streams: number;
  /** Simulated seconds. */
  seconds: number;
  seed?: number;
}

/** Bytes the limiter lets through in `seconds` of simulated time, `streams` at once. */
function simulate({ rate, chunk, streams, seconds, seed = 1 }: Simulation): number {
  let now = 0;
  const limiter = new RateLimiter(rate, { clock: { now: () => now } });
  const rand = random(seed);
  const end = seconds * 1000;
  // Each stream: when its next chunk is ready to go through the limiter.
  const ready = Array.from({ length: streams }, () => rand() * 0.1);
  let passed = 0;
  for (;;) {
    let i = 0;
    for (let s = 1; s < streams; s++) if (ready[s]! < ready[i]!) i = s;
    now = ready[i]!;
    if (now >= end) break;
    const wait = limiter.take(chunk);
    // A timer fires at least 1 ms after it was set, and 0–2 ms late.
    const passesAt = wait > 0 ? now + Math.max(wait, 1) + rand() * 2 : now;
    if (passesAt <= end) passed += chunk;
    // Copying/hashing the chunk (at ~2 GB/s) and a little scheduling noise before the next one.
    ready[i] = passesAt + (chunk / (2000 * MiB)) * 1000 + rand() * 0.05;
  }
  return passed;
}

describe('RateLimiter (token bucket, simulated clock)', () => {
  for (const mbps of [1, 50, 200, 500]) {
    for (const chunk of [16 * KiB, 64 * KiB, 1 * MiB, 8 * MiB]) {
      for (const streams of [1, 4]) {
        it(`${mbps} MiB/s in ${chunk / KiB} KiB chunks, ${streams} stream(s): within 10% of the cap`, () => {
          const rate = mbps * MiB;
          // Long enough that the chunk waiting at the end is a small part of the total.
          const seconds = Math.max(10, (40 * chunk) / rate);
          const passed = simulate({ rate, chunk, streams, seconds, seed: mbps * 31 + chunk + streams });
          const achieved = passed / seconds;
          const ratio = achieved / rate;
          assert.ok(ratio >= 0.9 && ratio <= 1.1, `${(achieved / MiB).toFixed(2)} MiB/s for a ${mbps} MiB/s cap (${(ratio * 100).toFixed(1)}%)`);
        });
      }
    }
  }

  it('lets bytes through at once while credit remains, and never more than the burst after idling', () => {
    let now = 0;
    const limiter = new RateLimiter(1 * MiB, { clock: { now: () => now }, burstBytes: 512 * KiB });
    now = 60_000; // a minute idle: credit is capped at the burst, not a minute's worth
    assert.equal(limiter.take(256 * KiB), 0);
    assert.equal(limiter.take(256 * KiB), 0);
    const wait = limiter.take(256 * KiB);
    assert.ok(Math.abs(wait - 250) < 1e-6, `the third 256 KiB waits a quarter second at 1 MiB/s, not ${wait} ms`);
  });

  it('credits a late timer: the next chunk does not wait again for the lateness', () => {
    let now = 0;
    const limiter = new RateLimiter(1 * MiB, { clock: { now: () => now }, burstBytes: 1 * MiB });
    assert.equal(limiter.take(1 * MiB), 1000);
    now = 1500; // the timer fired 500 ms late: half a MiB of credit was earned meanwhile
    assert.equal(limiter.take(512 * KiB), 0);
  });

  it('refuses a cap that is not a positive number', () => {
    assert.throws(() => new RateLimiter(0), RangeError);
    assert.throws(() => new RateLimiter(Number.NaN), RangeError);
  });
});
