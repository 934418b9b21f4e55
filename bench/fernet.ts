/**
 * In-process cost of Fernet tokens: `TokenFormatter.parse` (HMAC check, AES-CBC decryption,
 * msgpack unpacking) and `TokenFormatter.create`, on project-scoped tokens made with a real key
 * repository and the default [auth] methods, as the server holds them.
 */
import { newAuditId, newId } from '../src/common/ids.js';
import { defaultConfig } from '../src/config/index.js';
import { KeyRepository, setupKeyRepository } from '../src/token/key-repository.js';
import { TokenFormatter, type TokenContent } from '../src/token/formatter.js';
import { tokenContent } from '../src/token/payload.js';
import { makeTempDir, removeTempDir } from './children.js';

export interface FernetOptions {
  readonly runs: number;
  readonly parseOpsPerRun: number;
  readonly createOpsPerRun: number;
  readonly warmupOps: number;
  /** Any one timed run stops at this bound, whatever its count. */
  readonly maxRunMs: number;
}

export interface FernetResult {
  /** Medians over the runs. */
  readonly validateUs: number;
  readonly createUs: number;
  readonly validateRunsUs: readonly number[];
  readonly createRunsUs: readonly number[];
  readonly tokenChars: number;
}

function projectScopedContent(): TokenContent {
  return tokenContent({
    userId: newId(),
    methods: ['password'],
    auditIds: [newAuditId()],
    projectId: newId(),
    expiresAt: new Date((Math.floor(Date.now() / 1000) + 3600) * 1000),
  });
}

/**
 * µs per call of `op` over at most `count` calls and `maxMs` milliseconds. `op` returns a number
 * that is summed into a sink, so the work cannot be optimised away.
 */
function timeOps(op: (i: number) => number, count: number, maxMs: number): { us: number; sink: number } {
  let sink = 0;
  let done = 0;
  const start = performance.now();
  const deadline = start + maxMs;
  while (done < count) {
    const batchEnd = Math.min(count, done + 1024);
    for (let i = done; i < batchEnd; i += 1) sink += op(i);
    done = batchEnd;
    if (performance.now() > deadline) break;
  }
  return { us: ((performance.now() - start) * 1000) / done, sink };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function measureFernet(options: FernetOptions, progress: (line: string) => void): FernetResult {
  const dir = makeTempDir('kts-bench-fernet-');
  try {
    // As `keystone-ts fernet setup` makes it: a staged and a primary key; tokens are made with the
    // primary, which is the first key parse tries.
    setupKeyRepository(dir, { maxActiveKeys: 3 });
    const config = defaultConfig();
    const repository = new KeyRepository(dir, { watch: false });
    try {
      const formatter = new TokenFormatter({ keys: repository, methods: config.auth.methods, defaultDomainId: config.identity.default_domain_id });
      // Several distinct tokens, so no run keeps re-reading one buffer.
      const contents = Array.from({ length: 64 }, projectScopedContent);
      const tokens = contents.map((content) => formatter.create(content));
      tokens.forEach((token, i) => {
        const parsed = formatter.parse(token);
        if (parsed.projectId !== contents[i]!.projectId || parsed.userId !== contents[i]!.userId) {
          throw new Error('a parsed token differs from what was created');
        }
      });
      const parse = (i: number) => formatter.parse(tokens[i & 63]!).userId.length;
      const create = (i: number) => formatter.create(contents[i & 63]!).length;

      let sink = timeOps(parse, options.warmupOps, options.maxRunMs).sink + timeOps(create, options.warmupOps, options.maxRunMs).sink;
      const validateRunsUs: number[] = [];
      const createRunsUs: number[] = [];
      for (let run = 0; run < options.runs; run += 1) {
        const parsed = timeOps(parse, options.parseOpsPerRun, options.maxRunMs);
        const created = timeOps(create, options.createOpsPerRun, options.maxRunMs);
        sink += parsed.sink + created.sink;
        validateRunsUs.push(round(parsed.us, 3));
        createRunsUs.push(round(created.us, 3));
        progress(`fernet run ${run + 1}/${options.runs}: parse ${parsed.us.toFixed(2)} µs/op, create ${created.us.toFixed(2)} µs/op`);
      }
      if (sink === 0) throw new Error('no work done');
      return {
        validateUs: round(median(validateRunsUs), 3),
        createUs: round(median(createRunsUs), 3),
        validateRunsUs,
        createRunsUs,
        tokenChars: tokens[0]!.length,
      };
    } finally {
      repository.close();
    }
  } finally {
    removeTempDir(dir);
  }
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
