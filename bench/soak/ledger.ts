/**
 * What the soak knows about its writes (the ledger) and what it saw (the tally).
 *
 * The ledger holds every object and multipart upload the soak ever started writing, with the body
 * it meant to write. A write counts as acknowledged only once the client got its success answer;
 * one that got no answer (it raced a kill) is `unknown`: the object may or may not exist, but if it
 * does it must be whole.
 */
import type { BodySpec } from './bodies.js';

export type ObjectState =
  /** Being written now. */
  | 'writing'
  /** The write was acknowledged: it must be there, whole. */
  | 'acked'
  /** The write got no success answer: it may be there; if so, whole. */
  | 'unknown'
  /** Being deleted now (a reader must not pick it). */
  | 'deleting'
  /** The delete was acknowledged: it must not be there. */
  | 'deleted'
  /** The delete got no success answer: it may still be there; if so, whole. */
  | 'delete-unknown';

export interface ObjectRecord {
  bucket: string;
  key: string;
  body: BodySpec;
  /** The ETags it may have (normalised, see normalEtag); narrowed to the one answered on acknowledgement. */
  etags: string[];
  /** Readers at work on it now (a delete picks only objects nobody reads). */
  busy: number;
  state: ObjectState;
  /** Which operation wrote it. */
  via: string;
  /** When it was acknowledged (ms since the epoch). */
  ackedAt?: number;
}

/** A part: a range of its upload's body. */
export interface PartRecord {
  offset: number;
  size: number;
  etag: string;
  acked: boolean;
}

export interface UploadRecord {
  bucket: string;
  key: string;
  uploadId: string;
  /** The whole body the parts are ranges of (the object's, once completed). */
  body: BodySpec;
  partSize: number;
  parts: Map<number, PartRecord>;
  state: 'open' | 'aborted' | 'abort-unknown' | 'completed' | 'complete-unknown';
}

export class Ledger {
  readonly objects = new Map<string, ObjectRecord>();
  readonly uploads = new Map<string, UploadRecord>();

  private static id(bucket: string, key: string): string {
    return `${bucket}/${key}`;
  }

  /** Before the first byte goes out. */
  writing(record: Omit<ObjectRecord, 'state' | 'busy'>): ObjectRecord {
    const full: ObjectRecord = { ...record, state: 'writing', busy: 0 };
    this.objects.set(Ledger.id(record.bucket, record.key), full);
    return full;
  }

  get(bucket: string, key: string): ObjectRecord | undefined {
    return this.objects.get(Ledger.id(bucket, key));
  }

  acked(record: ObjectRecord, etag?: string): void {
    record.state = 'acked';
    record.ackedAt = Date.now();
    if (etag !== undefined) record.etags = [etag];
  }

  /** An acknowledged object to read or delete, chosen with `random`. */
  pickAcked(random: () => number, filter: (record: ObjectRecord) => boolean = () => true): ObjectRecord | undefined {
    // Sampled, not scanned: the ledger grows to thousands of objects.
    const all = [...this.objects.values()];
    for (let tries = 0; tries < 20 && all.length > 0; tries++) {
      const record = all[Math.floor(random() * all.length)]!;
      if (record.state === 'acked' && filter(record)) return record;
    }
    return undefined;
  }
}

export interface Failure {
  kind: string;
  /** Short cause: an error code or HTTP status. */
  cause: string;
  inWindow: boolean;
  at: number;
  message: string;
}

/** Counts of operations, failures, 5xx answers, and the invariant violations found on the way. */
export class Tally {
  readonly ops = new Map<string, number>();
  readonly failures: Failure[] = [];
  /** Every 5xx answer a client saw: when, what. */
  readonly serverErrors: Array<{ at: number; status: number; what: string }> = [];
  /** Invariants broken while running (a ranged read with wrong bytes, a listed half-written object, …). */
  readonly violations: string[] = [];
  /** Counters of things worth reporting (resumes, instant uploads, aborts, …). */
  readonly notes = new Map<string, number>();

  done(kind: string): void {
    this.ops.set(kind, (this.ops.get(kind) ?? 0) + 1);
  }

  note(what: string, by = 1): void {
    this.notes.set(what, (this.notes.get(what) ?? 0) + by);
  }

  fail(failure: Failure): void {
    this.failures.push(failure);
  }

  violation(message: string): void {
    this.violations.push(message);
    console.error(`soak: VIOLATION ${message}`);
  }

  serverError(status: number, what: string): void {
    this.serverErrors.push({ at: Date.now(), status, what });
  }
}
