/**
 * HTTP load with autocannon, run in a child process (bench/load-generator.ts) so that the load
 * generator never shares an event loop with a server or with the bench's own bookkeeping.
 */
import { fileURLToPath } from 'node:url';
import { startChild } from './children.js';

export interface LoadSpec {
  readonly url: string;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly connections: number;
  readonly durationSeconds: number;
  /** A discarded run first, at the same concurrency (JIT, connection pools, cluster workers). */
  readonly warmupSeconds: number;
  /** Per request; a slower answer counts as a timeout, not as a latency. */
  readonly timeoutSeconds: number;
  /** The status every answer must have; throughput counts only these. */
  readonly expectStatus: number;
  /**
   * A file of bearer tokens, one per line, each sent once as `Authorization: bearer <line>`
   * (single-use JWTs: a workload login spends each one's `jti`). The run fails if they run out.
   */
  readonly bearerTokensFile?: string;
}

export interface LoadResult {
  /** Answers with the expected status per second of measured time. */
  readonly rps: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly max_ms: number;
  readonly requests: number;
  readonly duration_s: number;
  /** Answers with another status, connection errors and timeouts: all should be 0. */
  readonly unexpected_status: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly status_codes: Record<string, number>;
}

const GENERATOR = fileURLToPath(new URL('./load-generator.js', import.meta.url));

export async function runLoad(name: string, spec: LoadSpec): Promise<LoadResult> {
  const child = startChild(`load generator (${name})`, [GENERATOR, JSON.stringify(spec)]);
  try {
    const line = await child.waitForLine(/^\{/, (spec.warmupSeconds + spec.durationSeconds + spec.timeoutSeconds + 30) * 1000);
    const result = JSON.parse(line) as LoadResult | { error: string };
    if ('error' in result) throw new Error(`${name}: ${result.error}`);
    return result;
  } finally {
    await child.stop();
  }
}
