/**
 * Child process entry: runs autocannon with the LoadSpec given as argv[2] (JSON) and prints one
 * line of JSON, a LoadResult, on stdout. See bench/load.ts.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from './load.js';

async function main(): Promise<LoadResult> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  const host = new URL(spec.url).hostname;
  // Load only ever goes to this machine's loopback.
  if (host !== '127.0.0.1') throw new Error(`refusing to load ${host}: only 127.0.0.1 is allowed`);
  const bearers = spec.bearerTokensFile ? readFileSync(spec.bearerTokensFile, 'utf8').split('\n').filter(Boolean) : undefined;
  let next = 0;
  const requests = bearers && [
    {
      setupRequest(request: { headers?: Record<string, string> }) {
        if (next >= bearers.length) throw new Error(`all ${bearers.length} bearer tokens were used`);
        request.headers = { ...request.headers, authorization: `bearer ${bearers[next++]!}` };
        return request;
      },
    },
  ];
  const result = await autocannon({
    ...(requests ? { requests } : {}),
    url: spec.url,
    method: spec.method ?? 'GET',
    headers: spec.headers ?? {},
    body: spec.body,
    connections: spec.connections,
    duration: spec.durationSeconds,
    timeout: spec.timeoutSeconds,
    pipelining: 1,
    ...(spec.warmupSeconds > 0 ? { warmup: { connections: spec.connections, duration: spec.warmupSeconds } } : {}),
  });
  const statusCodes: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) statusCodes[status] = count;
  const expected = statusCodes[String(spec.expectStatus)] ?? 0;
  const answered = Object.values(statusCodes).reduce((sum, count) => sum + count, 0);
  return {
    rps: Math.round((expected / result.duration) * 10) / 10,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    max_ms: result.latency.max,
    requests: expected,
    duration_s: result.duration,
    unexpected_status: answered - expected,
    errors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    status_codes: statusCodes,
  };
}

main().then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: error instanceof Error ? error.message : String(error) })}\n`);
    process.exitCode = 1;
  },
);
