// run_sync.mjs — the sync differential test: random scenarios (gen_sync.mjs)
// run through the backless CLI (backless_sync.mjs) and on cr-sqlite 0.16
// with the seed's sync modelled on crsql_changes (oracle_sync.mjs); every
// device's tables must be the reference's, value and type, at every `check`
// and at the end, and all devices must agree at the end. See ../README.md.
//
//   node run_sync.mjs --backless BIN --oracle-dir DIR [--work DIR] [--seeds 1-100]
//                     [--jobs N] [--no-pk-changes] [--pull-only-steps] [--keep]
//                     [--max-steps N] [--scratch DIR]
//
// Environment: BL_DIFF_SYNC_SEEDS (overrides --seeds: "17", "1-500", "1-5,9"),
// BL_DIFF_SYNC_JOBS (overrides --jobs), BL_ORACLE_DIR (overrides --oracle-dir),
// BL_DIFF_SYNC_SCRATCH (overrides --scratch).
// Scenarios run in a temporary directory under the scratch directory
// (default /dev/shm when writable: the CLI fsyncs, a RAM disk saves time;
// else the work directory). A failing seed is copied to <work>/seed-N/ (the
// databases, the remote folder, scenario.sh to replay it with the CLI,
// report.txt); --keep keeps every seed there.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { loadOracle } from '../oracle.mjs';
import { bitsToReal, hexToBytes } from '../common.mjs';
import { generateSyncScenario, toScript } from './gen_sync.mjs';
import { runOracle } from './oracle_sync.mjs';
import { runBackless, HarnessError } from './backless_sync.mjs';

function parseSeeds(spec) {
  const out = [];
  for (const part of String(spec).split(',')) {
    const m = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(part);
    if (!m) throw new Error(`bad seed list: ${spec}`);
    const lo = Number(m[1]), hi = Number(m[2] ?? m[1]);
    for (let s = lo; s <= hi; s++) out.push(s);
  }
  return out;
}

function parseArgs(argv) {
  const o = { seeds: '1-20', jobs: os.cpus().length + 2, work: 'sync-diff-work', pkChanges: true, keep: false, oracleDir: process.env.BL_ORACLE_DIR };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--backless') o.bin = path.resolve(val());
    else if (a === '--oracle-dir') { const v = val(); o.oracleDir = process.env.BL_ORACLE_DIR || v; }
    else if (a === '--work') o.work = val();
    else if (a === '--seeds') o.seeds = val();
    else if (a === '--jobs') o.jobs = Number(val());
    else if (a === '--max-steps') o.maxSteps = Number(val());
    else if (a === '--no-pk-changes') o.pkChanges = false;
    else if (a === '--pull-only-steps') o.pullOnly = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--scratch') o.scratch = val();
    else throw new Error(`unknown argument ${a}`);
  }
  if (process.env.BL_DIFF_SYNC_SEEDS) o.seeds = process.env.BL_DIFF_SYNC_SEEDS;
  if (process.env.BL_DIFF_SYNC_JOBS) o.jobs = Number(process.env.BL_DIFF_SYNC_JOBS);
  if (process.env.BL_DIFF_SYNC_SCRATCH) o.scratch = process.env.BL_DIFF_SYNC_SCRATCH;
  if (!o.bin) throw new Error('--backless BIN is required');
  if (!fs.existsSync(o.bin)) throw new Error(`backless binary not found: ${o.bin}`);
  o.work = path.resolve(o.work);
  return o;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// A canonical row (canonRow in oracle_sync.mjs) made readable for reports:
// integers as is, reals as numbers, printable UTF-8 text quoted, other text
// and blobs as hex.
const utf8 = new TextDecoder('utf-8', { fatal: true });
function pretty(row) {
  const out = row.split(' ').map((tok) => {
    const p = tok.indexOf(':');
    const type = p < 0 ? tok : tok.slice(0, p);
    const v = tok.slice(p + 1);
    if (type === 'null') return 'NULL';
    if (type === 'integer') return v;
    if (type === 'real') {
      const x = bitsToReal(v);
      return Number.isInteger(x) ? x.toFixed(1) : String(x);
    }
    if (type === 'text') {
      try {
        const t = utf8.decode(hexToBytes(v.toLowerCase()));
        // eslint-disable-next-line no-control-regex
        if (!/[\u0000-\u001f\u007f]/.test(t)) return `'${t.length > 60 ? t.slice(0, 60) + '...' : t.replace(/'/g, "''")}'`;
      } catch { /* not UTF-8 */ }
      return `CAST(x'${v.slice(0, 120)}${v.length > 120 ? '...' : ''}' AS TEXT)`;
    }
    return `x'${v.slice(0, 120)}${v.length > 120 ? '...' : ''}'`;
  });
  return out.join(' | ');
}

// Both sides' rows of one device as text, one table after another.
function showDevice(tables) {
  const out = [];
  for (const [name, rows] of Object.entries(tables)) {
    out.push(`  ${name}: ${rows.length} row${rows.length === 1 ? '' : 's'}`);
    for (const r of rows.slice(0, 80)) out.push(`    ${pretty(r)}`);
    if (rows.length > 80) out.push(`    ... ${rows.length - 80} more`);
  }
  return out.join('\n');
}

// Row-level difference of one table: '-' reference only, '+' backless only.
function diffRows(ref, got) {
  const out = [];
  const g = new Set(got), r = new Set(ref);
  for (const x of ref) if (!g.has(x)) out.push(`    - ${pretty(x)}`);
  for (const x of got) if (!r.has(x)) out.push(`    + ${pretty(x)}`);
  if (!out.length) out.push('    (same rows, different order)');
  return out.join('\n');
}

function diffDevice(ref, got) {
  const out = [];
  for (const name of Object.keys(ref)) {
    if (same(ref[name], got[name])) continue;
    out.push(`  table ${name} (- reference, + backless):`);
    out.push(diffRows(ref[name], got[name] ?? []));
  }
  return out.join('\n');
}

// Compares the two runs; returns {failures: [text], notes: [text]}.
export function compare(sc, ref, got) {
  const failures = [];
  const notes = [];
  for (const p of got.problems) failures.push(`backless reported a problem: ${p}`);
  // Outcome of every exec (a failing statement rolls the whole step back).
  let e = 0;
  sc.steps.forEach((st, i) => {
    if (st.op !== 'exec') return;
    if (ref.execs[e] !== got.execs[e]) {
      const l = got.log.find((x) => x.step === i);
      failures.push(`step ${i} (exec on d${st.dev}): the reference ${ref.execs[e] ? 'committed' : 'failed and rolled back'}, ` +
        `backless ${got.execs[e] ? 'committed' : `failed: ${l?.stderr.trim()}`}`);
    }
    e++;
  });
  // Intermediate checks.
  ref.checks.forEach((c, k) => {
    const g = got.checks[k];
    if (!same(c.tables, g.tables))
      failures.push(`step ${c.step} (check d${c.dev}): tables differ\n${diffDevice(c.tables, g.tables)}`);
  });
  // The end: every device shows the reference device's tables (the local,
  // not synced table too), and the backless devices agree with each other
  // on the synced tables — unless cr-sqlite's devices themselves do not (a
  // primary-key change onto an existing key, see README.md): then matching
  // cr-sqlite device by device is what counts, and a NOTE is printed.
  const syncedOf = (tables) => Object.fromEntries(sc.synced.map((t) => [t, tables[t]]));
  let refConverged = true;
  for (let d = 1; d < sc.devices; d++) if (!same(syncedOf(ref.final[0]), syncedOf(ref.final[d]))) refConverged = false;
  if (!refConverged) notes.push('NOTE: the reference devices did not converge (cr-sqlite itself); compared device by device');
  for (let d = 1; d < sc.devices && refConverged; d++) {
    if (!same(syncedOf(got.final[0]), syncedOf(got.final[d])))
      failures.push(`final: backless devices d0 and d${d} did not converge (- d0, + d${d}):\n${diffDevice(syncedOf(got.final[0]), syncedOf(got.final[d]))}`);
  }
  for (let d = 0; d < sc.devices; d++) {
    if (!same(ref.final[d], got.final[d]))
      failures.push(`final: d${d} differs from the reference:\n${diffDevice(ref.final[d], got.final[d])}`);
  }
  return { failures, notes };
}

function report(sc, ref, got, failures) {
  const out = [];
  out.push(`seed ${sc.seed}: ${failures.length} difference${failures.length === 1 ? '' : 's'}`);
  for (const f of failures) out.push(f);
  if (ref?.final && got?.final) {
    for (let d = 0; d < sc.devices; d++) {
      out.push(`--- final state of d${d}, reference (cr-sqlite 0.16):`);
      out.push(showDevice(ref.final[d]));
      out.push(`--- final state of d${d}, backless:`);
      out.push(showDevice(got.final[d]));
    }
  }
  return out.join('\n');
}

// The reference runs one scenario at a time (its WebAssembly module is
// shared, and wa-sqlite does not survive two interleaved sessions); the CLI
// runs of several seeds overlap.
let oracleQueue = Promise.resolve();
function runOracleSerial(oracle, sc) {
  const p = oracleQueue.then(() => runOracle(oracle, sc));
  oracleQueue = p.catch(() => {});
  return p;
}

async function runSeed(o, oracle, seed) {
  const sc = generateSyncScenario(seed, { pkChanges: o.pkChanges, pullOnly: o.pullOnly, maxSteps: o.maxSteps });
  const dir = path.join(o.scratchDir, `seed-${seed}`);
  const keptDir = path.join(o.work, `seed-${seed}`);
  const t0 = Date.now();
  const ref = await runOracleSerial(oracle, sc);
  const t1 = Date.now();
  let got, failures, notes = [];
  try {
    got = await runBackless(o.bin, sc, dir);
    ({ failures, notes } = compare(sc, ref, got));
  } catch (e) {
    if (!(e instanceof HarnessError)) throw e;
    failures = [`backless run stopped: ${e.message}`];
  }
  if (process.env.BL_DIFF_SYNC_TIMING) process.stderr.write(`seed ${seed}: reference ${t1 - t0} ms, backless ${Date.now() - t1} ms, ${sc.steps.length} steps\n`);
  const script = toScript(sc);
  const keep = (text) => {
    fs.rmSync(keptDir, { recursive: true, force: true });
    if (fs.existsSync(dir)) fs.cpSync(dir, keptDir, { recursive: true });
    else fs.mkdirSync(keptDir, { recursive: true });
    fs.writeFileSync(path.join(keptDir, 'scenario.sh'), script);
    if (text) fs.writeFileSync(path.join(keptDir, 'report.txt'), text + '\n');
  };
  let res;
  if (failures.length) {
    const text = report(sc, ref, got, failures);
    keep(text);
    res = { seed, ok: false, text: `${text}\n--- scenario (kept with the databases in ${keptDir}; replay: cd to an empty directory, BACKLESS=${o.bin} sh ${path.join(keptDir, 'scenario.sh')}):\n${script}`, notes };
  } else {
    if (o.keep) keep(null);
    res = { seed, ok: true, notes };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return res;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const seeds = parseSeeds(o.seeds);
  fs.mkdirSync(o.work, { recursive: true });
  if (!o.scratch) {
    try {
      fs.accessSync('/dev/shm', fs.constants.W_OK);
      o.scratch = '/dev/shm';
    } catch {
      o.scratch = o.work;
    }
  }
  o.scratchDir = fs.mkdtempSync(path.join(o.scratch, 'bl-sync-diff-'));
  process.on('exit', () => fs.rmSync(o.scratchDir, { recursive: true, force: true }));
  const oracle = await loadOracle(o.oracleDir);
  const t0 = Date.now();
  let next = 0, failed = 0, noted = 0;
  const failedSeeds = [];
  async function worker() {
    while (next < seeds.length) {
      const seed = seeds[next++];
      let r;
      try {
        r = await runSeed(o, oracle, seed);
      } catch (e) {
        r = { seed, ok: false, text: `seed ${seed}: harness error: ${e.stack || e}`, notes: [] };
      }
      for (const n of r.notes) { noted++; process.stdout.write(`seed ${seed}: ${n}\n`); }
      if (!r.ok) {
        failed++;
        failedSeeds.push(seed);
        // The first few in full; then only the seed (its report is kept).
        if (failed <= 5) process.stdout.write(`\n==== FAIL ${r.text}\n`);
        else process.stdout.write(`==== FAIL seed ${seed} (report in ${path.join(o.work, `seed-${seed}`, 'report.txt')})\n`);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, worker));
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  process.stdout.write(`sync differential: ${seeds.length} seed${seeds.length === 1 ? '' : 's'} (${o.seeds}${o.pkChanges ? '' : ', no pk changes'}${o.pullOnly ? ', pull-only steps' : ''}), ` +
    `${failed} failed${failed ? ` (${failedSeeds.sort((a, b) => a - b).join(' ')})` : ''}, ${noted} note${noted === 1 ? '' : 's'}, ${secs}s\n`);
  if (failed) {
    const flags = `${o.pkChanges ? '' : ' --no-pk-changes'}${o.pullOnly ? ' --pull-only-steps' : ''}${o.maxSteps ? ` --max-steps ${o.maxSteps}` : ''}`;
    process.stdout.write(`one seed again: BL_DIFF_SYNC_SEEDS=${failedSeeds[0]} node ${process.argv[1]} --backless ${o.bin} --oracle-dir ${o.oracleDir} --work ${o.work}${flags}\n`);
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { process.stderr.write(`run_sync.mjs: ${e.stack || e}\n`); process.exit(2); });
