// The peer bench's drivers work on this machine: each installed tool starts 3 services, shows its
// processes, answers its status command, restarts killed services and stops them all, and every
// figure comes out as a number. No timing is asserted (the machine is noisy); a tool that is not
// installed is skipped with the reason. Nothing is installed here: `node dist/bench/peers/run.js`
// does that. Every service process of the run is killed afterwards, even when a test fails.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildPrograms } from '../../bench/peers/build.js';
import { DRIVERS } from '../../bench/peers/drivers/index.js';
import { measure, type Row } from '../../bench/peers/measure.js';
import { killAll, runningProgram } from '../../bench/peers/procs.js';
import { BEGIN, END, markdown, svg, type Results } from '../../bench/peers/render.js';

const bin = buildPrograms();
const rows: Row[] = [];
after(() => {
  killAll(runningProgram(bin.svc));
  killAll(runningProgram(bin.spawnLoop));
  bin.remove();
});

const finite = (x: unknown, what: string) => assert.ok(typeof x === 'number' && Number.isFinite(x) && x >= 0, `${what} = ${String(x)}`);

for (const driver of DRIVERS) {
  const missing = driver.missing();
  test(`peer bench: the ${driver.name} driver runs 3 services and every figure is a number`, { skip: missing ? `${driver.name} not installed: ${missing}` : false }, async () => {
    const row = await measure(driver, 3, bin, { settleS: 0.2, idleS: 0.5, samples: 2, statusRuns: 1, say: () => undefined });
    rows.push(row);
    for (const key of ['start_s', 'pss_mib', 'idle_cpu_pct', 'stop_s'] as const) finite(row[key], key);
    assert.ok(row.processes >= 1, 'the tool has at least one process of its own');
    assert.ok(row.pss_mib > 0, 'its memory was read');
    if (driver.kind === 'supervisor') {
      finite(row.status_ms, 'status_ms');
      assert.equal(row.restart_samples_ms.length + row.restart_missed, 2);
      assert.equal(row.restart_missed, 0, 'every killed service came back');
      finite(row.restart_p50_ms, 'restart_p50_ms');
      finite(row.restart_p95_ms, 'restart_p95_ms');
    } else {
      assert.equal(row.status_ms, null);
      assert.equal(row.restart_p50_ms, null);
    }
    assert.deepEqual(runningProgram(bin.svc), [], 'no service process left');
  });
}

test('peer bench: the rows render into the markdown section and the chart', () => {
  const tools: Results['tools'] = {};
  for (const d of DRIVERS) tools[d.name] = { label: d.label, kind: d.kind, version: 'test', settings: d.settings, commands: d.commands };
  const res: Results = { machine: { cores: 2, cpu: 'test', memory_gib: 1, kernel: 'test', os: 'test', node: process.version }, tools, rows };
  const md = markdown(res);
  assert.ok(md.startsWith(BEGIN) && md.endsWith(END));
  for (const r of rows) assert.ok(md.includes(`| ${tools[r.tool]?.label}`), `${r.tool} has a row`);
  const chart = svg(res);
  assert.match(chart, /^<svg /);
  assert.doesNotMatch(chart, /NaN|undefined|Infinity/);
});
