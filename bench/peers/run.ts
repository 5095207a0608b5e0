/**
 * `node dist/bench/peers/run.js`: upkeep against supervisord, runit, s6 and PM2, and two
 * baselines (a C posix_spawn loop and a Node spawn loop), one after the other in one run, on the
 * same tiny C service. Installs the peers it lacks, builds the C programs, runs every tool at every
 * N (a warm-up first), merges the rows into bench/peers/results/latest.json and renders
 * docs/peers.md (between its result markers) and docs/peers.svg from that file.
 *
 *   --n 100,1000        service counts (default 100,1000)
 *   --only a,b          tools: c-spawn node-spawn upkeep supervisord runit s6 pm2 (default all)
 *   --idle S            idle-CPU window in seconds (default 30)
 *   --settle S          wait between the PSS reading and the idle window (default 60; see measure.ts)
 *   --samples K         restart samples (default 30)
 *   --repeat R          runs per tool and N; medians are kept, restart samples pooled (default 1)
 *   --quick             --idle 5 --settle 0 --samples 10, no warm-up, N = 100 unless --n is given
 *   --no-warmup --no-install --no-render --pm2 VERSION
 *   --render-only       only re-render docs/peers.md and docs/peers.svg from latest.json
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, release, totalmem, version as kernelVersion } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { buildPrograms } from './build.js';
import { DRIVERS } from './drivers/index.js';
import { installMissing, PM2_VERSION } from './install.js';
import { abortActive, measure, median, percentile, warmUp, type Row } from './measure.js';
import { RESULTS } from './paths.js';
import { render, type Results } from './render.js';
import { sleep } from '../util.js';

const began = Date.now();
const say = (line: string) => process.stderr.write(`[peers ${((Date.now() - began) / 1000).toFixed(0)}s] ${line}\n`);

function options() {
  const { values } = parseArgs({
    options: {
      n: { type: 'string' },
      only: { type: 'string' },
      idle: { type: 'string' },
      settle: { type: 'string' },
      samples: { type: 'string' },
      repeat: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-warmup': { type: 'boolean', default: false },
      'no-install': { type: 'boolean', default: false },
      'no-render': { type: 'boolean', default: false },
      'render-only': { type: 'boolean', default: false },
      pm2: { type: 'string', default: PM2_VERSION },
    },
  });
  const list = (s: string | undefined) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);
  const ns = (list(values.n) ?? (values.quick ? ['100'] : ['100', '1000'])).map(Number);
  if (ns.some((n) => !Number.isInteger(n) || n < 1 || n > 9999)) throw new Error(`--n takes counts from 1 to 9999, got ${values.n}`);
  const only = list(values.only);
  const unknown = (only ?? []).filter((t) => !DRIVERS.some((d) => d.name === t));
  if (unknown.length) throw new Error(`unknown tool ${unknown.join(', ')}; known: ${DRIVERS.map((d) => d.name).join(', ')}`);
  return {
    ns,
    tools: DRIVERS.filter((d) => !only || only.includes(d.name)),
    idleS: Number(values.idle ?? (values.quick ? 5 : 30)),
    settleS: Number(values.settle ?? (values.quick ? 0 : 60)),
    samples: Number(values.samples ?? (values.quick ? 10 : 30)),
    repeat: Number(values.repeat ?? 1),
    warmup: !values['no-warmup'] && !values.quick,
    install: !values['no-install'],
    render: !values['no-render'],
    renderOnly: values['render-only'] as boolean,
    pm2Version: values.pm2 as string,
    argv: process.argv.slice(2).join(' '),
  };
}

/** Several runs of one tool at one N as one row: medians, restart samples pooled. */
function combine(rows: Row[]): Row & { runs: number; start_runs_s: number[] } {
  const pick = (f: (r: Row) => number | null) => {
    const xs = rows.map(f).filter((x): x is number => x !== null);
    return xs.length ? median(xs) : null;
  };
  const samples = rows.flatMap((r) => r.restart_samples_ms);
  const sorted = [...samples].sort((a, b) => a - b);
  const first = rows[0] as Row;
  return {
    ...first,
    runs: rows.length,
    start_runs_s: rows.map((r) => r.start_s),
    start_s: pick((r) => r.start_s) as number,
    pss_mib: pick((r) => r.pss_mib) as number,
    idle_cpu_pct: pick((r) => r.idle_cpu_pct) as number,
    settle_cpu_pct: pick((r) => r.settle_cpu_pct ?? null) ?? undefined,
    status_ms: pick((r) => r.status_ms),
    status_runs_ms: rows.flatMap((r) => r.status_runs_ms),
    restart_samples_ms: samples,
    restart_p50_ms: sorted.length ? percentile(sorted, 50) : null,
    restart_p95_ms: sorted.length ? percentile(sorted, 95) : null,
    restart_missed: rows.reduce((s, r) => s + r.restart_missed, 0),
    stop_s: pick((r) => r.stop_s) as number,
    stop_exit_s: pick((r) => r.stop_exit_s),
    others_cpu_pct: pick((r) => r.others_cpu_pct) as number,
  };
}

function machine() {
  const os = existsSync('/etc/os-release') ? (/^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '') : '';
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(totalmem() / 2 ** 30),
    kernel: `Linux ${release()} ${kernelVersion()}`,
    os,
    node: process.version,
  };
}

function load(): Results {
  if (!existsSync(RESULTS)) return { machine: machine(), tools: {}, rows: [] };
  return JSON.parse(readFileSync(RESULTS, 'utf8')) as Results;
}

async function main(): Promise<void> {
  const o = options();
  if (o.renderOnly) {
    for (const path of render(load())) say(`wrote ${path}`);
    return;
  }
  if (o.install) installMissing(o.tools.map((d) => d.name), say, o.pm2Version);
  const tools = o.tools.filter((d) => {
    const why = d.missing();
    if (why) say(`skipping ${d.name}: ${why}`);
    return !why;
  });
  const bin = buildPrograms();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`${signal}: stopping the tool under test and removing its files`);
      void abortActive().finally(() => {
        bin.remove();
        process.exit(130);
      });
    });
  }
  const results = load();
  results.machine = machine();
  results.command = `node dist/bench/peers/run.js ${o.argv}`.trim();
  const measured: Row[] = [];
  let failed = 0;
  try {
    for (const d of tools) {
      results.tools[d.name] = { label: d.label, kind: d.kind, version: d.version(), settings: d.settings, commands: d.commands };
    }
    for (const n of o.ns) {
      for (const d of tools) {
        if (o.warmup) {
          say(`${d.name}: warm-up, N=${Math.min(n, 100)}`);
          await warmUp(d, Math.min(n, 100), bin).catch((err: unknown) => say(`${d.name}: warm-up failed: ${err instanceof Error ? err.message : String(err)}`));
          await sleep(1000);
        }
        const rows: Row[] = [];
        for (let r = 0; r < o.repeat; r++) {
          try {
            rows.push(await measure(d, n, bin, { settleS: o.settleS, idleS: o.idleS, samples: o.samples, statusRuns: n <= 100 ? 5 : 3, say }));
          } catch (err) {
            // One tool failing must not cost the others their turn; its old row (if any) stays.
            say(`${d.name} N=${n} failed: ${err instanceof Error ? err.message : String(err)}`);
            failed++;
          }
          await sleep(2000); // let the kernel finish reaping before the next tool
        }
        if (rows.length === 0) continue;
        const row = combine(rows);
        measured.push(row);
        results.rows = [...results.rows.filter((x) => !(x.tool === row.tool && x.n === row.n)), row];
        mkdirSync(dirname(RESULTS), { recursive: true });
        writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
      }
    }
  } finally {
    bin.remove();
  }
  for (const r of measured) {
    console.log(
      `${r.tool.padEnd(12)} N=${String(r.n).padEnd(5)} start ${r.start_s} s  PSS ${r.pss_mib} MiB (${r.processes} proc)  ` +
        `restart ${r.restart_p50_ms ?? '—'} / ${r.restart_p95_ms ?? '—'} ms  idle ${r.idle_cpu_pct} %  status ${r.status_ms ?? '—'} ms  stop ${r.stop_s} s`,
    );
  }
  say(`results in ${RESULTS}`);
  if (failed) process.exitCode = 1;
  if (o.render) for (const path of render(results)) say(`wrote ${path}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
