import type { Logger } from './logger.js';

/**
 * What `/-/ready` asks before it answers 200: each check resolves when its part of the node can
 * serve (the metadata store answers a query; the blob directory takes a write, an fsync and a
 * removal), and rejects with why not.
 */
export type ReadinessChecks = Record<string, () => Promise<unknown>>;

/** How long one check may take before it counts as failed: a database that hangs is not ready either. */
const CHECK_TIMEOUT_MS = 2_000;

/**
 * `/-/ready`: whether this node can serve requests now, cheap enough for a probe every few seconds.
 * Probes that come while a check runs share its answer. The answer names the checks and, for a
 * failed one, only an error code (`ENOTDIR`, `ECONNREFUSED`, `timeout`): it is open without
 * authentication, so paths and database addresses go to the log, once per change, not to the caller.
 */
export class Readiness {
  private running?: Promise<{ ready: boolean; body: string }>;
  private lastFailed = '';

  constructor(
    private readonly checks: ReadinessChecks,
    private readonly logger: Logger,
    private readonly timeoutMs = CHECK_TIMEOUT_MS,
  ) {}

  /** 200's body (`{"status":"ready"}`) or 503's, naming what failed. Never rejects. */
  check(): Promise<{ ready: boolean; body: string }> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<{ ready: boolean; body: string }> {
    const names = Object.keys(this.checks);
    const outcomes = await Promise.all(names.map((name) => this.attempt(this.checks[name]!)));
    const failures: Record<string, Error> = {};
    names.forEach((name, i) => {
      const outcome = outcomes[i];
      if (outcome) failures[name] = outcome;
    });
    const failedNames = Object.keys(failures);
    // By error code: a message may name a new probe file each time, and the log is written once per change.
    const summary = failedNames.map((name) => `${name}:${codeOf(failures[name]!)}`).join(',');
    if (summary !== this.lastFailed) {
      if (failedNames.length > 0) {
        this.logger.warn({ failed: Object.fromEntries(failedNames.map((name) => [name, failures[name]!.message])) }, 'not ready');
      } else {
        this.logger.info({}, 'ready again');
      }
      this.lastFailed = summary;
    }
    if (failedNames.length === 0) return { ready: true, body: '{"status":"ready"}' };
    const checks = Object.fromEntries(names.map((name) => [name, failures[name] ? codeOf(failures[name]!) : 'ok']));
    return { ready: false, body: JSON.stringify({ status: 'not ready', failed: failedNames, checks }) };
  }

  /** Undefined when the check passed in time, else its error. */
  private async attempt(check: () => Promise<unknown>): Promise<Error | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(Object.assign(new Error(`no answer in ${this.timeoutMs} ms`), { code: 'timeout' })), this.timeoutMs);
    });
    try {
      return await Promise.race([
        check().then(
          () => undefined,
          (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function codeOf(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(code) ? code : 'failed';
}
