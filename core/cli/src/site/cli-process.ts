// A child `opencdp` process whose stdout is JSON log lines: spawn, wait for a line that matches (with a
// deadline that says what was awaited), terminate gracefully. The demo and the process specs use it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenCdpError } from '@opencdp/core';

/** A child process exited or stayed silent where a line was expected; the message carries its last output. */
export class CliProcessError extends OpenCdpError {
  constructor(message: string) {
    super('CHILD_PROCESS', message);
  }
}

/** The built `opencdp` entry point (cli/dist/main.js). */
export const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'main.js');

export type LogLine = Record<string, unknown> & { event: string; time: string };

export class CliProcess {
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();

  /** `prefix`: a command the child runs under, e.g. `['ip', 'netns', 'exec', 'ns1']` to run it on another (namespace) host; it must exec node in place so `pid` is node's. */
  constructor(readonly name: string, args: string[], prefix: string[] = []) {
    const argv = [...prefix, process.execPath, MAIN, ...args];
    this.child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const text of parts) {
        if (!text.trim()) continue;
        try {
          this.lines.push(JSON.parse(text) as LogLine);
        } catch {
          this.lines.push({ event: 'unparsed-output', time: new Date().toISOString(), text });
        }
      }
      this.notify();
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => {
      this.exitInfo = { code, signal };
      this.notify();
      resolve(this.exitInfo);
    }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Events named `event` (optionally only those logged after `since`, ms since the epoch). */
  events(event: string, since = 0): LogLine[] {
    return this.lines.filter((l) => l.event === event && Date.parse(l.time) >= since);
  }

  /** Waits for the first log line that matches; fails naming `what`, with the recent output, on timeout or exit. */
  async waitFor(what: string, match: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(match);
      if (hit) return hit;
      if (!this.running) throw new CliProcessError(`${this.name} exited (${JSON.stringify(this.exitInfo)}) before ${what}; ${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new CliProcessError(`${this.name}: waited ${timeoutMs} ms for ${what}; ${this.tail()}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it does not exit within `graceMs`; returns how it ended. */
  async terminate(graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  tail(n = 15): string {
    const out = this.lines.slice(-n).map((l) => JSON.stringify(l).slice(0, 300)).join('\n  ');
    const state = this.lines.filter((l) => l.event === 'state').at(-1);
    return `${state ? `last sender state of ${this.name}: ${JSON.stringify(state)}\n` : ''}last output of ${this.name}:\n  ${out}${this.stderr ? `\nstderr: ${this.stderr.slice(-2000)}` : ''}`;
  }

  private notify(): void {
    for (const w of [...this.waiters]) {
      this.waiters.delete(w);
      w();
    }
  }
}

