/**
 * Server processes and what the kernel says about them: every contender runs as
 * its own child process, so its CPU time and memory can be read from
 * /proc/<pid>/stat and /proc/<pid>/status without trusting the server's own
 * accounting (and including its libuv thread pool: fs writes, fsync, crypto).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (almost always 100). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds the process (all its threads) has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicksPerSecond();
}

export interface MemoryStatus {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size (VmHWM) since start or the last resetPeakRss, bytes. */
  peak: number;
}

export function memoryStatus(pid: number): MemoryStatus {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  };
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs). False if not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Watches one process during a measured window: CPU seconds from start to stop,
 * peak RSS as the larger of VmHWM (reset at start, exact) and polled VmRSS
 * (every `intervalMs`, a fallback where clear_refs is not permitted).
 */
export class ProcessMeter {
  private cpuAtStart = 0;
  private sampledPeak = 0;
  private hwmReset = false;
  private timer?: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    private readonly intervalMs = 20,
  ) {}

  start(): void {
    this.hwmReset = resetPeakRss(this.pid);
    this.sampledPeak = memoryStatus(this.pid).rss;
    this.cpuAtStart = cpuSeconds(this.pid);
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  private sample(): void {
    try {
      this.sampledPeak = Math.max(this.sampledPeak, memoryStatus(this.pid).rss);
    } catch {
      // The process exited; stop() will notice.
    }
  }

  stop(): { cpuSeconds: number; peakRss: number; peakSource: 'VmHWM' | 'sampled VmRSS' } {
    clearInterval(this.timer);
    this.sample();
    const cpu = cpuSeconds(this.pid) - this.cpuAtStart;
    const hwm = this.hwmReset ? memoryStatus(this.pid).peak : 0;
    return {
      cpuSeconds: cpu,
      peakRss: Math.max(hwm, this.sampledPeak),
      peakSource: this.hwmReset && hwm >= this.sampledPeak ? 'VmHWM' : 'sampled VmRSS',
    };
  }
}

/** Every server this harness started and that has not exited yet. */
const live = new Set<ChildProcess>();

/** SIGKILLs the servers this harness started (for an interrupted run): no strays left listening. */
export function killStartedServers(): void {
  for (const child of live) child.kill('SIGKILL');
}

export interface ServerProcess {
  pid: number;
  /** The first capture group of the ready pattern (the server's base URL). */
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, wait for exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Spawns `node <args>` and waits until its stdout matches `ready` (whose first
 * group is the URL). stdout and stderr are drained into a bounded buffer so a
 * chatty server can never block on a full pipe.
 */
export async function spawnServer(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; ready: RegExp; name: string; timeoutMs?: number },
): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: string) => {
    output += chunk;
    if (output.length > 64 * 1024) output = output.slice(-32 * 1024);
  };
  child.stdout!.setEncoding('utf8').on('data', keep);
  child.stderr!.setEncoding('utf8').on('data', keep);
  live.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    }),
  );

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.name} did not start within ${options.timeoutMs ?? 30_000} ms:\n${output}`));
    }, options.timeoutMs ?? 30_000);
    const check = () => {
      const match = options.ready.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited with ${code} before it was ready:\n${output}`));
    });
  });

  return {
    pid: child.pid!,
    url,
    child,
    output: () => output,
    stop: async (graceMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
