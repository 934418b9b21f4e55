/**
 * Child processes for the command-line tests: the compiled `keystone-ts` CLI (bin/keystone-ts.js)
 * and other programs (the `openstack` client), run with an explicit environment, a time limit and
 * their output collected. Every process started here is tracked until it exits, so that a suite's
 * `after` hook can kill whatever a failed test left running (`killChildren`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

/** The repository root, from dist/test/support/ (compiled) where the tests run. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The CLI entry point `npm start` and the `keystone-ts` bin use. */
export const CLI = path.join(ROOT, 'bin', 'keystone-ts.js');

export interface RunResult {
  /** Exit status; null when the process was ended by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /**
   * The child's whole environment (PATH is added when missing). Nothing is inherited from the
   * developer's shell, so stray KEYSTONE_TS_* or OS_* variables cannot change a test.
   */
  env?: Record<string, string>;
  cwd?: string;
  /** Killed (SIGKILL) and reported as a failure after this many milliseconds. Default 30 s. */
  timeoutMs?: number;
}

const live = new Set<ChildProcess>();

/** Kills every child process started through this module that is still running. */
export async function killChildren(): Promise<void> {
  await Promise.all([...live].map((child) => stopChild(child, 'SIGKILL', 5_000)));
}

// Last resort when the test process itself ends (mocha --exit) with children still running.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function childEnv(env: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...env };
}

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

/** Runs `command args` to completion and collects its output; rejects only on timeout or spawn failure. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(command, args, { cwd: options.cwd ?? ROOT, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(command)} ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs the compiled CLI: `node bin/keystone-ts.js ...args`. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], options);
}

/** Formats a result for assertion messages. */
export function describeResult(result: RunResult): string {
  return `exit ${result.code ?? result.signal}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

export interface ServeProcess {
  /** http://HOST:PORT (without /v3). */
  readonly url: string;
  readonly child: ChildProcess;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s; resolves with the exit status. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `keystone-ts serve --bind 127.0.0.1:<port> ...` and resolves once it prints its
 * "listening on" line. Rejects (after killing it) when it exits or times out before that.
 */
export async function startServe(args: readonly string[], options: RunOptions & { port?: number } = {}): Promise<ServeProcess> {
  const port = options.port ?? (await freePort());
  const timeoutMs = options.timeoutMs ?? 45_000;
  const child = track(
    spawn(process.execPath, [CLI, ...args, 'serve', '--bind', `127.0.0.1:${port}`], {
      cwd: options.cwd ?? ROOT,
      env: childEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const handle: ServeProcess = {
    url: `http://127.0.0.1:${port}`,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop() {
      await stopChild(child, 'SIGTERM', 10_000);
      return exited;
    },
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start within ${timeoutMs} ms`)), timeoutMs);
      child.stdout!.on('data', (chunk: string) => {
        stdout += chunk;
        if (/listening on http:\/\/\S+\/v3/.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`serve exited (${code ?? signal}) before listening`));
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } catch (error) {
    await stopChild(child, 'SIGKILL', 5_000);
    throw new Error(`${(error as Error).message}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`, { cause: error });
  }
  return handle;
}

/** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILLs and waits for that. */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    child.kill('SIGKILL');
    await exited;
  }
}


/** Fresh temporary directories, all removed by `cleanup()`. */
export function tempDirs(prefix = 'kts-cli-'): { make(): string; cleanup(): void } {
  const dirs: string[] = [];
  return {
    make() {
      const dir = mkdtempSync(path.join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    cleanup() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or fails after `deadlineMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { deadlineMs: number; intervalMs?: number },
): Promise<T> {
  const end = Date.now() + options.deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= end) throw new Error(`${what}: not so within ${options.deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
