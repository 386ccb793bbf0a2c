/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, e.g. BENCH_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=/tmp/prof" npm run bench:stow): self time per function and per module.
 *
 *   npx tsx scripts/bench/peer-profile.ts /tmp/prof/CPU.*.cpuprofile [top]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<package>, our own top-level directory, or node:internal. */
function moduleOf(url: string): string {
  if (!url) return '(native/GC/idle)';
  if (url.startsWith('node:')) return 'node:internal';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const rel = url.replace(/^file:\/\//, '').replace(`${path.resolve(__dirname, '..', '..')}/`, '');
  return rel.split('/').slice(0, 2).join('/');
}

function summarise(file: string, top: number): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const perFn = new Map<string, number>();
  const perModule = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const key = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/main\//, '')}:${lineNumber + 1}` : ''}`;
    perFn.set(key, (perFn.get(key) ?? 0) + us);
    const m = ['(idle)', '(program)', '(garbage collector)'].includes(functionName) ? functionName : moduleOf(url);
    perModule.set(m, (perModule.get(m) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  console.log(`\n${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled`);
  console.log('  by module:');
  for (const [m, us] of [...perModule].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`    ${pct(us)}  ${m}`);
  console.log('  by function (self):');
  for (const [f, us] of [...perFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(us)}  ${f}`);
}

const args = process.argv.slice(2);
const top = Number(args.at(-1)) || 25;
for (const file of args.filter((a) => a.endsWith('.cpuprofile'))) summarise(file, top);
