// Benchmarks that run their parts as separate Node processes (as deployed): the parent forks a child
// module and calls named operations on it over the IPC channel; each child measures its own CPU time and
// garbage-collection pauses, so a benchmark can report them per process.
import { fork, type ChildProcess } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';

interface Request {
  id: number;
  op: string;
  args: unknown;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** A forked child serving operations; `call` resolves with what the child's handler returned. */
export class BenchProcess {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private exitError?: Error;
  private readonly exited: Promise<void>;

  constructor(readonly name: string, modulePath: string, args: string[] = []) {
    // OPENCDP_BENCH_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` or `--trace-gc`) profiles the children.
    const execArgv = (process.env.OPENCDP_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
    this.child = fork(modulePath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...process.execArgv, ...execArgv] });
    this.child.on('message', (m: Reply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(`${this.name}: ${m.error}`));
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      this.exitError = new Error(`${this.name} exited (code ${code}, signal ${signal})`);
      for (const w of this.waiting.values()) w.reject(this.exitError);
      this.waiting.clear();
      resolve();
    }));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  call<T>(op: string, args: unknown = {}): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, op, args } satisfies Request);
    });
  }

  /** Asks the child to exit, and kills it if it has not within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exitError) return;
    this.call('exit').catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** CPU time and GC pause time of this process since `start()`. */
export interface ProcessCost {
  cpuMs: number;
  gcMs: number;
  wallMs: number;
}

let gcTotalMs = 0;
let gcObserver: PerformanceObserver | undefined;

/** A window over this process's CPU time (every thread) and GC pauses (main thread). */
export function costWindow(): () => ProcessCost {
  if (!gcObserver) {
    gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcTotalMs += e.duration;
    });
    gcObserver.observe({ entryTypes: ['gc'] });
  }
  const cpu = process.cpuUsage();
  const gc = gcTotalMs;
  const t0 = performance.now();
  return () => {
    const used = process.cpuUsage(cpu);
    return { cpuMs: (used.user + used.system) / 1000, gcMs: gcTotalMs - gc, wallMs: performance.now() - t0 };
  };
}

/** In a child: serves the parent's calls with `handlers` until it asks to exit. */
export function serve(handlers: Record<string, (args: never) => Promise<unknown> | unknown>): void {
  process.on('message', (m: Request) => {
    if (m.op === 'exit') {
      process.disconnect?.();
      process.exit(0);
    }
    const handler = handlers[m.op];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown operation '${m.op}'`);
        const result = await handler(m.args as never);
        process.send!({ id: m.id, ok: true, result } satisfies Reply);
      } catch (e) {
        process.send!({ id: m.id, ok: false, error: (e as Error).stack ?? String(e) } satisfies Reply);
      }
    })();
  });
}
