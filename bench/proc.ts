/**
 * Server processes and what the kernel says about them: every contender runs as
 * its own child process, so its CPU time and memory can be read from
 * /proc/<pid>/stat and /proc/<pid>/status without trusting the server's own
 * accounting (and including its libuv thread pool: fs writes, fsync, crypto).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

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

/** What /proc/<pid>/stat says of one process's parent and CPU time, in clock ticks. */
function readStat(pid: number): { ppid: number; own: number; reaped: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), fields[1] field 4 (ppid); utime, stime, cutime, cstime are fields 14–17.
  return {
    ppid: Number(fields[1]),
    own: Number(fields[11]) + Number(fields[12]),
    reaped: Number(fields[13]) + Number(fields[14]),
  };
}

/** User + system CPU seconds the process (all its threads) has used so far. */
export function cpuSeconds(pid: number): number {
  return readStat(pid).own / clockTicksPerSecond();
}

/**
 * CPU seconds used so far by `root` and every process under it: each living one's own time, plus
 * the time of those that exited and were waited for, which the kernel adds to their parent's
 * cutime/cstime. The difference of two readings is the tree's CPU between them, counting processes
 * that started or ended in between (PostgreSQL's backends, one per connection).
 */
export function treeCpuSeconds(root: number): number {
  const children = new Map<number, number[]>();
  const stats = new Map<number, { own: number; reaped: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const stat = readStat(pid);
      stats.set(pid, stat);
      const siblings = children.get(stat.ppid);
      if (siblings) siblings.push(pid);
      else children.set(stat.ppid, [pid]);
    } catch {
      // Gone between the listing and the read: its time is in its parent's cutime now.
    }
  }
  if (!stats.has(root)) throw new Error(`process ${root} is not running`);
  let ticks = 0;
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    const stat = stats.get(pid);
    if (stat) ticks += stat.own + stat.reaped;
    pending.push(...(children.get(pid) ?? []));
  }
  return ticks / clockTicksPerSecond();
}

/**
 * The processes a server runs as, for the meters. Default, one process: `{ nodes: [pid] }`.
 * Tessera in cluster mode adds the PostgreSQL it needs and the load balancer in front of its nodes.
 */
export interface MeteredProcesses {
  /** The server's own processes (Tessera's nodes): their CPU and RSS are the server's. */
  nodes: number[];
  /** A database the server needs (PostgreSQL's postmaster): its CPU, with every process under it, is the server's too. */
  database?: number[];
  /** A load balancer in front of the nodes: its CPU is reported apart, not as the server's. */
  balancer?: number[];
}

export interface CpuReading {
  nodes: number;
  database: number;
  balancer: number;
}

/** CPU seconds used so far by each group of `processes` (a database and a balancer with every process under them). */
export function readCpu(processes: MeteredProcesses): CpuReading {
  const sum = (pids: number[] | undefined, read: (pid: number) => number) => (pids ?? []).reduce((total, pid) => total + read(pid), 0);
  return {
    nodes: sum(processes.nodes, cpuSeconds),
    database: sum(processes.database, treeCpuSeconds),
    balancer: sum(processes.balancer, treeCpuSeconds),
  };
}

/** CPU used between two readings: the server's (nodes + database), and each group's. */
export function cpuBetween(before: CpuReading, after: CpuReading): CpuReading & { server: number } {
  const nodes = after.nodes - before.nodes;
  const database = after.database - before.database;
  return { server: nodes + database, nodes, database, balancer: after.balancer - before.balancer };
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
 * Watches a server during a measured window: CPU seconds from start to stop (see
 * MeteredProcesses for what counts), and the nodes' peak RSS as the larger of their VmHWM
 * (reset at start, exact for one process; summed over several nodes, an upper bound of their
 * peak together) and their polled VmRSS summed (every `intervalMs`, a fallback where clear_refs
 * is not permitted).
 */
export class ProcessMeter {
  private readonly processes: MeteredProcesses;
  private cpuAtStart: CpuReading = { nodes: 0, database: 0, balancer: 0 };
  private sampledPeak = 0;
  private hwmReset = false;
  private timer?: NodeJS.Timeout;

  constructor(
    processes: MeteredProcesses | number,
    private readonly intervalMs = 20,
  ) {
    this.processes = typeof processes === 'number' ? { nodes: [processes] } : processes;
  }

  private nodesRss(): number {
    return this.processes.nodes.reduce((total, pid) => total + memoryStatus(pid).rss, 0);
  }

  start(): void {
    this.hwmReset = this.processes.nodes.map((pid) => resetPeakRss(pid)).every(Boolean);
    this.sampledPeak = this.nodesRss();
    this.cpuAtStart = readCpu(this.processes);
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  private sample(): void {
    try {
      this.sampledPeak = Math.max(this.sampledPeak, this.nodesRss());
    } catch {
      // A process exited; stop() will notice.
    }
  }

  stop(): { cpuSeconds: number; cpu: CpuReading & { server: number }; peakRss: number; peakSource: 'VmHWM' | 'sampled VmRSS' } {
    clearInterval(this.timer);
    this.sample();
    const cpu = cpuBetween(this.cpuAtStart, readCpu(this.processes));
    const hwm = this.hwmReset ? this.processes.nodes.reduce((total, pid) => total + memoryStatus(pid).peak, 0) : 0;
    return {
      cpuSeconds: cpu.server,
      cpu,
      peakRss: Math.max(hwm, this.sampledPeak),
      peakSource: this.hwmReset && hwm >= this.sampledPeak ? 'VmHWM' : 'sampled VmRSS',
    };
  }
}

/** Every server this harness started and that has not exited yet. */
const live = new Set<ChildProcess>();

/** Last-resort stops for what a contender started other than through spawnServer (PostgreSQL). */
const interruptHooks = new Set<() => void>();

/** Registers `hook` to run (synchronously) if the run is interrupted; returns its removal. */
export function onInterrupt(hook: () => void): () => void {
  interruptHooks.add(hook);
  return () => void interruptHooks.delete(hook);
}

/** SIGKILLs the servers this harness started (for an interrupted run): no strays left listening. */
export function killStartedServers(): void {
  for (const child of live) child.kill('SIGKILL');
  for (const hook of interruptHooks) {
    try {
      hook();
    } catch {
      // Already gone.
    }
  }
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
