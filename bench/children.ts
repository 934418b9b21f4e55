/**
 * Child processes and temporary directories of a bench run, and their guaranteed cleanup.
 *
 * Every child is the leader of its own process group (`detached`), so stopping it reaches the
 * cluster workers it forked too, and an interrupted run (Ctrl-C reaches only the foreground group)
 * still kills everything: the process 'exit' hook SIGKILLs every group that is still alive and
 * removes every temporary directory.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The bytes of output kept per child, to explain a failure. */
const TAIL_BYTES = 16_384;

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** Settles when the group leader has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** The last few KB of stdout and stderr, interleaved. */
  tail(): string;
  /** Resolves with the first stdout line matching, rejects when the child exits or time runs out. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM to the leader, SIGKILL to the group after `graceMs`; resolves when the group is gone (bounded). */
  stop(graceMs?: number): Promise<void>;
}

const liveGroups = new Set<number>();
const tempDirs = new Set<string>();

function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: no process left in the group
  }
}

async function waitGroupGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!signalGroup(pid, 0)) return true;
    await sleep(50);
  }
  return !signalGroup(pid, 0);
}

export function startChild(name: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Child {
  const proc = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${name}`);
  const pid = proc.pid;
  liveGroups.add(pid);

  let output = '';
  let pendingLine = '';
  const lineListeners = new Set<(line: string) => void>();
  const keep = (text: string) => {
    output = (output + text).slice(-TAIL_BYTES);
  };
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  // Both pipes are always drained: a child blocked on a full pipe would skew the measurement.
  proc.stdout.on('data', (text: string) => {
    keep(text);
    const lines = (pendingLine + text).split('\n');
    pendingLine = lines.pop() ?? '';
    for (const line of lines) for (const listener of lineListeners) listener(line);
  });
  proc.stderr.on('data', keep);

  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      done = true;
      // Forget a group that is gone, so that its id, once reused, is never signalled.
      if (!signalGroup(pid, 0)) liveGroups.delete(pid);
      resolve({ code, signal });
    });
    proc.once('error', (error) => {
      keep(`\n[spawn error] ${error.message}\n`);
      done = true;
      resolve({ code: null, signal: null });
    });
  });

  return {
    name,
    pid,
    exited,
    hasExited: () => done,
    tail: () => output,
    waitForLine(pattern, timeoutMs) {
      return new Promise<string>((resolve, reject) => {
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          lineListeners.delete(onLine);
          fn();
        };
        const onLine = (line: string) => {
          if (pattern.test(line)) finish(() => resolve(line));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms\n${output}`))), timeoutMs);
        lineListeners.add(onLine);
        void exited.then(({ code, signal }) =>
          finish(() => reject(new Error(`${name} exited (code ${code}, signal ${signal}) before printing ${pattern}\n${output}`))),
        );
      });
    },
    async stop(graceMs = 5_000) {
      // SIGTERM to the leader alone: a cluster primary forwards it to its workers, and a worker
      // signalled twice would die on the second before it finished (or wrote its --cpu-prof).
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const graceful = await waitGroupGone(pid, graceMs);
      if (!graceful) {
        signalGroup(pid, 'SIGKILL');
        await waitGroupGone(pid, 5_000);
      }
      await Promise.race([exited, sleep(5_000)]);
      liveGroups.delete(pid);
    },
  };
}

export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Synchronous, so that it can run from the 'exit' hook. */
export function killEverythingSync(): void {
  for (const pid of liveGroups) signalGroup(pid, 'SIGKILL');
  liveGroups.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let hooksInstalled = false;

/**
 * Cleans up on every way out: normal exit, uncaught errors (which exit) and SIGINT/SIGTERM (which
 * would otherwise end the process without running 'exit' hooks).
 */
export function installCleanupHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killEverythingSync);
  for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every child process\n`);
      killEverythingSync();
      process.exit(status);
    });
  }
}
