/**
 * Where a server's CPU time went under load, from a V8 .cpuprofile (BENCH_CPU_PROF_DIR):
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile [--skip-seconds S] [--top N]
 *
 * Counts only samples from the first request on (plus S seconds, to leave out the warm-up), so
 * that start-up (migrations, bootstrap) does not hide the per-request costs, and gives shares of
 * busy time (idle excluded): self time per function, then inclusive time per function.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const REQUEST_FRAMES = /parserOnIncoming|api\/http\.js/;

function label(node: ProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^file:\/\//, '').replace(root, '').replace('node_modules/', 'nm/');
  return `${functionName || '(anonymous)'} ${file}${file ? `:${lineNumber + 1}` : ''}`;
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file) throw new Error('usage: profile-summary.js FILE.cpuprofile [--skip-seconds S] [--top N]');
  const option = (name: string, fallback: number) => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const skipSeconds = option('--skip-seconds', 1);
  const top = option('--top', 30);
  const root = `${path.resolve(new URL('../../', import.meta.url).pathname)}/`;

  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const stack = (id: number): string[] => {
    const out: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) out.push(label(nodes.get(at)!, root));
    return out;
  };

  let time = profile.startTime;
  const times = profile.timeDeltas.map((delta) => (time += delta));
  const firstRequest = profile.samples.findIndex((id) => stack(id).some((frame) => REQUEST_FRAMES.test(frame)));
  if (firstRequest < 0) throw new Error('no request handling in this profile');
  const from = times[firstRequest]! + skipSeconds * 1e6;

  const selfTime = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    if (times[i]! < from) return;
    const delta = profile.timeDeltas[i]!;
    const frames = stack(id);
    if (frames[0]!.startsWith('(idle)')) {
      idle += delta;
      return;
    }
    busy += delta;
    selfTime.set(frames[0]!, (selfTime.get(frames[0]!) ?? 0) + delta);
    for (const frame of new Set(frames)) inclusive.set(frame, (inclusive.get(frame) ?? 0) + delta);
  });

  const print = (title: string, totals: Map<string, number>) => {
    console.log(`--- ${title}`);
    for (const [name, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}`);
    }
  };
  console.log(`busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms (from the first request + ${skipSeconds} s)`);
  print('self time, % of busy', selfTime);
  print('inclusive time, % of busy', inclusive);
}

main();
