/**
 * Runs every benchmark in sequence and writes the figures to docs/benchmarks.md (npm run bench).
 *
 * Only the part between the `bench:begin` and `bench:end` markers is replaced, so the
 * observations written around it by hand survive a new run. A benchmark that fails is
 * reported in its place and the others still run.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchBigStow } from './big-stow';
import { ROOT, describeMachine, fmt, renderResult, say, type BenchResult } from './lib';
import { benchQido } from './qido';
import { benchStow } from './stow';
import { benchWado } from './wado';

const DOC = path.join(ROOT, 'docs', 'benchmarks.md');
const BEGIN = '<!-- bench:begin (written by npm run bench; edit outside these markers) -->';
const END = '<!-- bench:end -->';

const BENCHES: Array<[string, () => Promise<BenchResult>]> = [
  ['bench:stow', benchStow],
  ['bench:qido', benchQido],
  ['bench:wado', benchWado],
  ['bench:big-stow', benchBigStow],
];

const HEADER = `# Benchmarks

Figures, not assertions: \`npm run bench\` runs the benchmarks under \`scripts/bench/\` one after
another on this machine and rewrites the generated part of this page. Each one can also be run
alone (\`npm run bench:stow\`, \`bench:qido\`, \`bench:wado\`, \`bench:big-stow\`) and prints its
tables. They start the gateway and a worker as separate processes (\`node --import tsx
gateway/main.ts\`, \`workers/main.ts\`) against the local PostgreSQL (\`BENCH_DATABASE_URL\`, default
\`postgres://postgres@127.0.0.1:5432/test\`) and Redis (\`BENCH_REDIS_URL\`), each run in its own schema,
queue prefix and temp data directory, all removed afterwards.
`;

async function main(): Promise<void> {
  const started = new Date();
  const machine = await describeMachine();
  const sections: string[] = [];
  for (const [name, bench] of BENCHES) {
    say(`━━ ${name}`);
    const t0 = performance.now();
    try {
      sections.push(renderResult(await bench()));
      say(`━━ ${name} done in ${fmt((performance.now() - t0) / 1000, 0)} s`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      say(`━━ ${name} failed: ${message}`);
      sections.push(`## ${name}\n\nFailed after ${fmt((performance.now() - t0) / 1000, 0)} s:\n\n\`\`\`\n${message}\n\`\`\`\n`);
    }
  }
  const minutes = (Date.now() - started.getTime()) / 60_000;
  const generated = [
    BEGIN,
    '',
    `Run on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${fmt(minutes, 0)} minutes.`,
    '',
    '| Machine | |',
    '| --- | --- |',
    ...machine.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    ...sections,
    END,
  ].join('\n');

  const old = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '';
  const at = old.indexOf(BEGIN);
  const end = old.indexOf(END);
  const doc = at >= 0 && end > at ? old.slice(0, at) + generated + old.slice(end + END.length) : `${HEADER}\n${generated}\n`;
  writeFileSync(DOC, doc);
  say(`wrote ${path.relative(process.cwd(), DOC)}`);
  process.stdout.write(`${generated}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    say(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
