// driver.mjs — differential testing of our CRDT engine against cr-sqlite 0.16.
//
//   node driver.mjs [options] random            random scenarios (see --seeds)
//   node driver.mjs [options] pack              pk packing scenario
//   node driver.mjs [options] files F...        given scenario files
//   node driver.mjs [options] reduce F          shrink a failing scenario file
//
// Options:
//   --runner PATH       our runner (build dir/tests/differential/run_scenario)
//   --runner-flag F     pass F to every run of our runner (-b / -B: apply
//                       changes with bl_crdt_merge instead of crsql_changes)
//   --oracle-dir DIR    npm prefix holding @vlcn.io/wa-sqlite (default $BL_ORACLE_DIR)
//   --work DIR          where failing scenarios and outputs are written (default ./diff-work)
//   --seeds A-B|A,B,..  seeds for "random" (default 1-50)
//   --compare state|full  state: rows, SQL errors, convergence, cross-engine merges;
//                         full: also every crsql_changes row and crsql_db_version()
//                         (default: state for random, full otherwise)
//   --no-cross          skip the cross-engine change exchange (random mode)
//   --no-hybrid         skip the hybrid run (random mode): devices split between
//                       the engines, syncing with each other, must show the
//                       reference's state; --hybrid runs it for "files" too
//   --import            also the import test: each device's database as cr-sqlite
//                       wrote it, opened by our engine after crsql_as_crr, must
//                       show cr-sqlite's final rows, changes and clocks
//   --max-failures N    stop after N failing seeds (default 5)
//   --keep              keep every scenario file, not only failing ones
//   --convergence       (reduce) shrink a scenario on which the reference itself
//                       does not converge, instead of an engine difference
//   --devices N / --steps N / --skip-tables a,b / --no-pk-changes / --no-alter
//                       passed to the generator
//
// Exit status 0 when every scenario matched, 1 on a mismatch, 2 on a setup error.
import fs from 'fs';
import path from 'path';
import { spawn } from 'child_process';
import { fileURLToPath } from 'url';
import { loadOracle, runScenario, makeSession } from './oracle.mjs';
import { parseScenario } from './common.mjs';
import { generateRandom, generatePack } from './gen.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = { oracleDir: process.env.BL_ORACLE_DIR, work: 'diff-work', seeds: '1-50', cross: true, hybrid: true, runnerFlags: [], maxFailures: 5, keep: false, files: [], genOpts: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--runner') o.runner = next();
    else if (a === '--oracle-dir') { const v = next(); o.oracleDir = process.env.BL_ORACLE_DIR || v; }
    else if (a === '--work') o.work = next();
    else if (a === '--runner-flag') o.runnerFlags.push(next());
    else if (a === '--seeds') o.seeds = next();
    else if (a === '--compare') o.compare = next();
    else if (a === '--no-cross') o.cross = false;
    else if (a === '--no-hybrid') o.hybrid = false;
    else if (a === '--import') o.importCheck = true;
    else if (a === '--hybrid') o.hybridFiles = true;
    else if (a === '--max-failures') o.maxFailures = Number(next());
    else if (a === '--keep') o.keep = true;
    else if (a === '--convergence') o.reduceConvergence = true;
    else if (a === '--devices') o.genOpts.devices = Number(next());
    else if (a === '--steps') o.genOpts.steps = Number(next());
    else if (a === '--skip-tables') o.genOpts.skipTables = next().split(',');
    else if (a === '--no-pk-changes') o.genOpts.pkChanges = false;
    else if (a === '--no-alter') o.genOpts.alter = false;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else if (!o.mode) o.mode = a;
    else o.files.push(a);
  }
  if (process.env.BL_DIFF_SEEDS) o.seeds = process.env.BL_DIFF_SEEDS;
  if (!o.mode) throw new Error('missing mode (random | pack | files | reduce)');
  if (!o.runner) throw new Error('--runner is required');
  o.compare ??= o.mode === 'random' ? 'state' : 'full';
  return o;
}

function parseSeeds(s) {
  const out = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad --seeds ${s}`);
    const a = Number(m[1]), b = m[2] ? Number(m[2]) : a;
    for (let x = a; x <= b; x++) out.push(x);
  }
  return out;
}

// ------------------------------------------------------------------ running
const RUNNER_TIMEOUT_MS = 120000;

let RUNNER_FLAGS = [];

function runOurs(runner, file) {
  return new Promise((resolve) => {
    const p = spawn(runner, [...RUNNER_FLAGS, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [], err = [];
    const timer = setTimeout(() => {
      err.push(Buffer.from(`run_scenario: killed after ${RUNNER_TIMEOUT_MS / 1000} s\n`));
      p.kill('SIGKILL');
    }, RUNNER_TIMEOUT_MS);
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    p.on('close', (code, signal) => clearTimeout(timer) || resolve({
      out: Buffer.concat(out).toString('utf8'),
      err: Buffer.concat(err).toString('utf8'),
      code, signal,
    }));
    p.on('error', (e) => { clearTimeout(timer); resolve({ out: '', err: String(e), code: -1, signal: null }); });
  });
}

// Runs a scenario file on both engines concurrently (ours in a child process).
async function runBoth(ctx, file, text) {
  const oursP = runOurs(ctx.runner, file);
  let ref;
  try {
    ref = await runScenario(ctx.oracle, text);
  } catch (e) {
    ref = null;
    ctx.refError = e;
  }
  const ours = await oursP;
  return { ref, ours };
}

// ------------------------------------------------------------------ comparing
function filterLines(text, compare) {
  const lines = text.split('\n').filter((l) => l !== '');
  if (compare === 'full') return lines;
  return lines.filter((l) => !/^(change|dbversion|changes|clocks|clock|lookaside) /.test(l) && !/^error L\d+ (clock|lookaside) /.test(l));
}

// Line diff (Myers); returns printable lines, '-' reference, '+' ours, with
// up to 3 lines of context around each change.
function editScript(A, B, maxD = 3000) {
  const n = A.length, m = B.length, max = n + m, off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace = [];
  for (let d = 0; d <= Math.min(max, maxD); d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && A[x] === B[y]) { x++; y++; }
      v[off + k] = x;
      if (x >= n && y >= m) {
        // Backtrack.
        const ops = [];
        let cx = n, cy = m;
        for (let dd = d; dd > 0; dd--) {
          const pv = trace[dd];
          const kk = cx - cy;
          const prevK = kk === -dd || (kk !== dd && pv[off + kk - 1] < pv[off + kk + 1]) ? kk + 1 : kk - 1;
          const px = pv[off + prevK], py = px - prevK;
          while (cx > px && cy > py) { ops.push(['=', A[cx - 1]]); cx--; cy--; }
          if (cx === px) ops.push(['+', B[cy - 1]]); else ops.push(['-', A[cx - 1]]);
          cx = px; cy = py;
        }
        while (cx > 0 && cy > 0) { ops.push(['=', A[cx - 1]]); cx--; cy--; }
        return ops.reverse();
      }
    }
  }
  return null;
}

function diffLines(a, b, maxOut = 80) {
  let ops = editScript(a, b);
  if (!ops) ops = [...a.map((l) => ['-', l]), ...b.map((l) => ['+', l])];
  const out = [];
  let lastPrinted = -1;
  for (let i = 0; i < ops.length; i++) {
    if (ops[i][0] === '=') continue;
    const from = Math.max(lastPrinted + 1, i - 3);
    if (lastPrinted >= 0 && from > lastPrinted + 1) out.push('  ...');
    for (let j = from; j < i; j++) out.push('  ' + ops[j][1]);
    out.push(ops[i][0] + ' ' + ops[i][1]);
    lastPrinted = i;
    let j = i + 1;
    let ctx = 0;
    while (j < ops.length && ops[j][0] === '=' && ctx < 3) {
      // Print trailing context only when no change follows within it.
      let near = false;
      for (let k = j; k < Math.min(ops.length, j + 4); k++) if (ops[k][0] !== '=') near = true;
      if (near) break;
      out.push('  ' + ops[j][1]); lastPrinted = j; j++; ctx++;
    }
  }
  if (out.length > maxOut) return [...out.slice(0, maxOut), `  ... (${out.length - maxOut} more diff lines)`];
  return out;
}

// Rows of the last "check" block, per device: Map(dev -> [row text without "row dN "]).
function lastCheck(text) {
  const lines = text.split('\n');
  let start = -1;
  for (let i = 0; i < lines.length; i++) if (lines[i].startsWith('check ')) start = i;
  const m = new Map();
  if (start < 0) return m;
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i];
    if (!l.startsWith('row ') && !l.startsWith('error ')) break;
    const mm = /^row d(\d+) (.*)$/.exec(l);
    if (!mm) continue;
    const d = Number(mm[1]);
    if (!m.has(d)) m.set(d, []);
    m.get(d).push(mm[2]);
  }
  return m;
}

// Devices whose final rows differ from device 0's, or null when converged.
function convergence(text, ndev) {
  const m = lastCheck(text);
  const base = (m.get(0) ?? []).join('\n');
  const bad = [];
  for (let d = 1; d < ndev; d++) if ((m.get(d) ?? []).join('\n') !== base) bad.push(d);
  return bad.length ? bad : null;
}

function changesBlock(text, line) {
  const lines = text.split('\n');
  const i = lines.indexOf(`changes L${line}`);
  if (i < 0) return null;
  const per = new Map();
  for (let k = i + 1; k < lines.length; k++) {
    const l = lines[k];
    if (l.startsWith('dbversion ')) continue;
    const mm = /^change d(\d+) (.*)$/.exec(l);
    if (!mm) break;
    const d = Number(mm[1]);
    if (!per.has(d)) per.set(d, []);
    per.get(d).push(mm[2]);
  }
  return per;
}

// Cross-engine scenario: the scenario up to the checkpoint, one extra fresh
// device, then every device (old and new) merges every device's checkpoint
// change set produced by the OTHER engine, one transaction per source.
function crossScenario(text, checkpointLine, changes, ndev) {
  const lines = text.split('\n').slice(0, checkpointLine - 1);
  let lastDevice = -1;
  lines.forEach((l, i) => { if (l.startsWith('device ')) lastDevice = i; });
  lines.splice(lastDevice + 1, 0, `device ${ndev} ${'fe'.repeat(15)}${ndev.toString(16).padStart(2, '0')}`);
  lines.push('# cross-engine merge of the checkpoint change sets');
  for (let t = 0; t <= ndev; t++) {
    for (let s = 0; s < ndev; s++) {
      lines.push(`exec ${t} 0 BEGIN`);
      for (const c of changes.get(s) ?? []) lines.push(`merge ${t} ${c}`);
      lines.push(`exec ${t} 0 COMMIT`);
    }
  }
  lines.push('check');
  return lines.join('\n') + '\n';
}

// ndev: number of devices; checkpoint: line of the "changes" command that
// directly precedes the "# final all-to-all sync" section (no writes in
// between), or -1: the cross-engine test merges the change sets printed there.
function scenarioInfo(text) {
  let ndev = 0, checkpoint = -1;
  const lines = text.split('\n');
  lines.forEach((l) => {
    if (l.startsWith('device ')) ndev = Math.max(ndev, Number(l.split(/\s+/)[1]) + 1);
  });
  const fin = lines.indexOf('# final all-to-all sync');
  for (let i = fin - 1; i >= 0; i--) {
    const l = lines[i].trim();
    if (l === 'changes') { checkpoint = i + 1; break; }
    if (/^(exec|merge|sync|schema|device) /.test(l)) break;
  }
  return { ndev, checkpoint, hasFinal: fin >= 0 };
}

// ------------------------------------------------------------------ hybrid
// Our runner as an interactive session: one command per line in, its output
// lines and "%%END" out.
class OursSession {
  constructor(runner) {
    this.p = spawn(runner, [...RUNNER_FLAGS, '-i'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.buf = '';
    this.lines = [];
    this.waiting = null;
    this.err = '';
    this.dead = null;
    this.p.stdout.on('data', (d) => { this.buf += d.toString('utf8'); this.pump(); });
    this.p.stderr.on('data', (d) => { this.err += d.toString('utf8'); });
    this.p.on('close', (code, signal) => { this.dead = `exited with ${signal ?? code}`; this.pump(); });
    this.p.on('error', (e) => { this.dead = String(e); this.pump(); });
    this.p.stdin.on('error', () => {});
    this.p.stdout.on('error', () => {});
    this.p.stderr.on('error', () => {});
  }
  pump() {
    let i;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const l = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      if (l === '%%END') {
        const w = this.waiting, got = this.lines;
        this.waiting = null;
        this.lines = [];
        if (w) w.resolve(got);
      } else {
        this.lines.push(l);
      }
    }
    if (this.dead && this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w.reject(new Error(`our runner ${this.dead}: ${this.err.split('\n').filter(Boolean).slice(-5).join(' | ')}`));
    }
  }
  send(lineNo, text) {
    return new Promise((resolve, reject) => {
      if (this.dead) { reject(new Error(`our runner ${this.dead}: ${this.err}`)); return; }
      this.waiting = { resolve, reject };
      this.p.stdin.write(`@${lineNo} ${text}\n`);
    });
  }
  close() { try { this.p.stdin.end(); } catch { /* gone */ } }
}

const devOf = (l) => {
  const m = /^(?:row|change|dbversion|pk|clock|lookaside) d(\d+) /.exec(l) ?? /^error L\d+ \S+ d(\d+)/.exec(l);
  return m ? Number(m[1]) : -1;
};

// Runs a scenario with devices split between the two engines (owner(d) is
// 'ours' or 'ref'); syncs between engines go through typed change rows.
// Returns the output as the pure runs print it.
async function runHybrid(ctx, text, owner) {
  const ref = makeSession(ctx.oracle);
  const ours = new OursSession(ctx.runner);
  const out = [];
  const sites = new Map();
  const wm = new Map();
  const refRun = async (c) => { const n = ref.out.length; await ref.run(c); return ref.out.slice(n); };
  const on = async (who, lineNo, raw, c) => (who === 'ours' ? ours.send(lineNo, raw) : refRun(c));
  const both = async (lineNo, raw, c) => {
    const a = await refRun(c), b = await ours.send(lineNo, raw);
    // The pure runs print per device in device order (a header line first).
    const head = [...a, ...b].filter((l) => devOf(l) < 0 && !l.startsWith('error '));
    const head1 = head.length ? [head[0]] : [];
    const rest = [...a, ...b].filter((l) => !(devOf(l) < 0 && !l.startsWith('error ')));
    const keyed = rest.map((l, i) => [devOf(l), i, l]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    return [...head1, ...keyed.map((x) => x[2])];
  };
  const COLS = '"table", pk, cid, val, col_version, db_version, site_id, cl, seq';
  try {
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i].trim();
      const lineNo = i + 1;
      if (raw === '' || raw.startsWith('#')) continue;
      const [c] = parseScenario(raw, lineNo);
      switch (c.op) {
        case 'device':
          sites.set(c.dev, c.site);
          out.push(...(await on(owner(c.dev), lineNo, raw, c)));
          break;
        case 'exec': case 'query': case 'merge': case 'txbegin': case 'txend': case 'reopen':
          out.push(...(await on(owner(c.dev), lineNo, raw, c)));
          break;
        case 'pack':
          out.push(...(await on(owner(0), lineNo, raw, c)));
          break;
        case 'schema': case 'table': case 'check': case 'changes': case 'pks': case 'clocks':
          out.push(...(await both(lineNo, raw, c)));
          break;
        case 'sync': {
          const a = owner(c.from), b = owner(c.to);
          if (a === b) { out.push(...(await on(a, lineNo, raw, c))); break; }
          const key = `${c.from}>${c.to}`;
          let q;
          if (c.mode === 'full') q = `query ${c.from} 0 SELECT ${COLS} FROM crsql_changes WHERE db_version > 0`;
          else if (c.mode === 'range') q = `query ${c.from} 2 i:${c.lo} i:${c.hi} SELECT ${COLS} FROM crsql_changes WHERE db_version > ? AND db_version <= ?`;
          else q = `query ${c.from} 2 i:${wm.get(key) ?? 0n} b:${sites.get(c.to)} SELECT ${COLS} FROM crsql_changes WHERE db_version > ? AND site_id IS NOT ?`;
          const [qc] = parseScenario(q, lineNo);
          const got = await on(a, lineNo, q, qc);
          const err = got.find((l) => l.startsWith('error '));
          if (err) { out.push(`error L${lineNo} sync-read ${err.replace(/^.*(code=-?\d+).*$/, '$1')}`); break; }
          const rows = got.map((l) => l.replace(/^query L\d+ /, ''));
          const send = async (t) => { const [tc] = parseScenario(t, lineNo); return on(b, lineNo, t, tc); };
          let failed = null;
          failed ??= (await send(`txbegin ${c.to}`)).find((l) => l.startsWith('error '));
          for (const r of rows) {
            if (failed) break;
            failed = (await send(`merge ${c.to} ${r}`)).find((l) => l.startsWith('error '));
          }
          const endErr = (await send(`txend ${c.to}`)).find((l) => l.startsWith('error '));
          failed ??= endErr;
          if (failed) { out.push(`error L${lineNo} sync ${failed.replace(/^.*(code=-?\d+).*$/, '$1')}`); break; }
          if (c.mode === 'incr') {
            let w = wm.get(key) ?? 0n;
            for (const r of rows) { const m = /^(?:\S+ ){5}i:(-?\d+) /.exec(r); if (m && BigInt(m[1]) > w) w = BigInt(m[1]); }
            wm.set(key, w);
          }
          break;
        }
        default:
          throw new Error(`hybrid: unknown op ${c.op}`);
      }
    }
  } finally {
    ours.close();
    await ref.close();
  }
  return out.join('\n') + '\n';
}

// ------------------------------------------------------------------ import
// The contents of the check / changes / clocks blocks of an output, in order
// (headers dropped).
function blocks(out) {
  const res = [];
  let cur = null;
  for (const l of out.split('\n')) {
    const m = /^(check|changes|clocks|pks|pack|query|dumpsql|dumprow|error) /.exec(l);
    if (m && ['check', 'changes', 'clocks'].includes(m[1]) && /^\S+ L\d+$/.test(l)) {
      cur = [];
      res.push(cur);
    } else if (m || l === '') {
      if (m && m[1] === 'error' && cur) cur.push(l.replace(/^error L\d+/, 'error'));
      else cur = null;
    } else if (cur) {
      cur.push(l);
    }
  }
  return res;
}

// The import test: every device's database as cr-sqlite wrote it at the
// checkpoint (schema, rows, its clock and lookaside tables and triggers) is
// loaded into a plain SQLite connection, opened with our engine and
// crsql_as_crr'ed; then the final all-to-all sync runs on the converted
// databases. Rows, crsql_changes and the clock must be what cr-sqlite showed
// at the checkpoint and at the end.
function importScenario(text, dumpOut, checkpoint) {
  const lines = text.split('\n');
  const devices = lines.filter((l) => l.startsWith('device '));
  const tables = lines.filter((l) => l.startsWith('table '));
  const fin = lines.indexOf('# final all-to-all sync');
  const out = ['# import test: databases written by cr-sqlite (at the checkpoint), opened by our engine'];
  for (const l of dumpOut.split('\n')) {
    let m;
    if ((m = /^dumpsql d(\d+) (\S+)$/.exec(l))) out.push(`raw ${m[1]} ${m[2]}`);
    else if ((m = /^dumprow d(\d+) (.*)$/.exec(l))) out.push(`rawinsert ${m[1]} ${m[2]}`);
  }
  out.push(...devices);
  for (const t of tables) out.push(`schema SELECT crsql_as_crr('${t.split(/\s+/)[1].replace(/'/g, "''")}')`);
  out.push(...tables, 'check', 'changes', 'clocks');
  out.push(...lines.slice(fin).filter((l) => l.trim() !== ''));
  return out.join('\n') + '\n';
}

async function checkImport(ctx, rep, label, file, text, ref) {
  const { ndev, checkpoint } = scenarioInfo(text);
  const lines = text.split('\n');
  // Dumps right after the checkpoint's "clocks" (or "changes"); then every
  // device reopens (cr-sqlite recomputes its state from storage, as our
  // engine does for the imported database) and prints its state again.
  let at = checkpoint;
  if (lines[at] === 'clocks') at++;
  const dumped = [...lines.slice(0, at), ...Array.from({ length: ndev }, (_, d) => `dump ${d}`),
    ...Array.from({ length: ndev }, (_, d) => `reopen ${d}`), 'check', 'changes', 'clocks', ...lines.slice(at)].join('\n');
  let dumpOut;
  try {
    dumpOut = await runScenario(ctx.oracle, dumped);
  } catch (e) {
    rep.fail(`${label}: import test: the reference failed to dump: ${e.message}`, { scenario: file });
    return false;
  }
  const itext = importScenario(text, dumpOut, checkpoint);
  const ifile = writeScenario(ctx, path.basename(file).replace(/\.txt$/, '') + '.import.txt', itext);
  const r = await runOurs(ctx.runner, ifile);
  if (r.code !== 0 || r.signal) {
    rep.fail(`${label}: import test: our runner exited with ${r.signal ?? r.code}`, { scenario: ifile, extra: r.err.split('\n').filter(Boolean).slice(-15) });
    return false;
  }
  const want = blocks(dumpOut).slice(-6).flat(), got = blocks(r.out).slice(-6).flat();
  const errs = r.out.split('\n').filter((l) => l.startsWith('error '));
  if (errs.length || want.join('\n') !== got.join('\n')) {
    rep.fail(`${label}: import test: the devices' databases as cr-sqlite wrote them at the checkpoint, opened by our engine (crsql_as_crr), then synced all to all, ${errs.length ? 'gave errors' : 'differ from cr-sqlite'} (- cr-sqlite's check/changes/clocks at the checkpoint after reopening and at the end, + ours)`, {
      scenario: ifile, ours: r.out, extra: errs.slice(0, 6), diff: diffLines(want, got),
    });
    return false;
  }
  if (!ctx.keep) fs.rmSync(ifile, { force: true });
  return true;
}

// ------------------------------------------------------------------ reporting
class Reporter {
  constructor(ctx) { this.ctx = ctx; this.failures = 0; this.checked = 0; this.notes = 0; }
  note(msg) { this.notes++; console.log(`NOTE ${msg}`); }
  fail(title, { scenario, ref, ours, diff, extra = [] }) {
    this.failures++;
    const c = this.ctx;
    const lines = [`FAIL ${title}`];
    if (scenario) {
      lines.push(`  scenario:  ${scenario}`);
      const base = path.join(c.work, path.basename(scenario).replace(/\.txt$/, ''));
      if (ref !== undefined) fs.writeFileSync(base + '.reference.out', ref ?? '');
      if (ours !== undefined) fs.writeFileSync(base + '.ours.out', ours ?? '');
      if (ref !== undefined || ours !== undefined) lines.push(`  outputs:   ${base}.reference.out / .ours.out`);
      const rf = c.runnerFlags.map((f) => ` --runner-flag ${f}`).join('');
      lines.push(`  reproduce: node ${path.join(HERE, 'driver.mjs')} --runner ${c.runner}${rf} --oracle-dir ${c.oracleDir} --work ${c.work} --compare ${c.compare} files ${scenario}`);
      lines.push(`      or by hand: node ${path.join(HERE, 'oracle.mjs')} --oracle-dir ${c.oracleDir} ${scenario} > ref.out; ${c.runner}${c.runnerFlags.map((f) => ' ' + f).join('')} ${scenario} > ours.out; diff ref.out ours.out`);
      lines.push(`  shrink:    node ${path.join(HERE, 'driver.mjs')} --runner ${c.runner}${rf} --oracle-dir ${c.oracleDir} --work ${c.work} --compare ${c.compare} reduce ${scenario}`);
    }
    lines.push(...extra.map((l) => '  ' + l));
    if (diff) { lines.push('  diff (- reference cr-sqlite, + ours):'); lines.push(...diff.map((l) => '    ' + l)); }
    console.log(lines.join('\n'));
  }
}

function writeScenario(ctx, name, text) {
  const f = path.join(ctx.work, name);
  fs.writeFileSync(f, text);
  return f;
}

// Checks one scenario. Returns true when it matched. `label` names it in reports.
async function checkScenario(ctx, rep, label, file, text, { cross = false, expectConverged = false, hybrid = false } = {}) {
  rep.checked++;
  // A scenario may ask for a weaker comparison with a "# compare: state" line.
  const want = /^# compare: (state|full)\s*$/m.exec(text)?.[1];
  if (want === 'state' && ctx.compare === 'full') ctx = { ...ctx, compare: 'state' };
  ctx.refError = null;
  const { ref, ours } = await runBoth(ctx, file, text);
  if (ref === null) {
    rep.fail(`${label}: the reference engine failed to run the scenario: ${ctx.refError?.message}`, { scenario: file });
    return false;
  }
  if (ours.code !== 0 || ours.signal) {
    rep.fail(`${label}: our runner exited with ${ours.signal ?? ours.code}`, {
      scenario: file, ref, ours: ours.out, extra: ours.err.split('\n').filter(Boolean).slice(-15),
    });
    return false;
  }
  const a = filterLines(ref, ctx.compare), b = filterLines(ours.out, ctx.compare);
  let ok = true;
  if (a.join('\n') !== b.join('\n')) {
    rep.fail(`${label}: ${ctx.compare === 'full' ? 'output (state or change rows)' : 'visible state'} differs from the reference`, {
      scenario: file, ref, ours: ours.out, diff: diffLines(a, b),
    });
    return false;
  }
  const { ndev, checkpoint } = scenarioInfo(text);
  if (expectConverged) {
    const refBad = convergence(ref, ndev);
    const ourBad = convergence(ours.out, ndev);
    if (ourBad && !refBad) {
      rep.fail(`${label}: our devices did not converge after the final all-to-all sync (devices ${ourBad.join(',')} differ from device 0) while the reference's did`, { scenario: file, ref, ours: ours.out });
      ok = false;
    } else if (refBad) {
      // Same rows as the reference everywhere (checked above), and the
      // reference itself does not converge here: a cr-sqlite property
      // (e.g. a primary-key change around crsql_commit_alter), not ours.
      rep.note(`${label}: cr-sqlite itself does not converge on this scenario (devices ${refBad.join(',')} differ from device 0); ours matches it row for row`);
    }
  }
  if (ok && ctx.importCheck && checkpoint > 0) ok = await checkImport(ctx, rep, label, file, text, ref);
  if (ok && hybrid) {
    // Devices alternate between the engines (which one starts depends on the
    // scenario); the visible state must be the pure reference run's.
    const flip = text.length % 2;
    const owner = (d) => ((d + flip) % 2 === 0 ? 'ours' : 'ref');
    let hout = null;
    try {
      hout = await runHybrid(ctx, text, owner);
    } catch (e) {
      rep.fail(`${label}: hybrid run (devices ${[...Array(ndev).keys()].filter((d) => owner(d) === 'ours').join(',')} ours, the others cr-sqlite) failed: ${e.message}`, { scenario: file });
      ok = false;
    }
    if (hout !== null) {
      const a = filterLines(ref, 'state'), b = filterLines(hout, 'state');
      if (a.join('\n') !== b.join('\n')) {
        rep.fail(`${label}: hybrid run (devices ${[...Array(ndev).keys()].filter((d) => owner(d) === 'ours').join(',')} on our engine, the others on cr-sqlite, syncing with each other) differs from the pure reference run`, {
          scenario: file, extra: [`(reproduce: add --hybrid to the files command; + lines are the hybrid run)`], diff: diffLines(a, b),
        });
        ok = false;
      }
    }
  }
  if (ok && cross && checkpoint > 0) {
    // The change sets one engine printed at the checkpoint, merged into
    // every device (and a fresh one) of a replay up to the checkpoint: both
    // engines must end with the same rows. (Usually that is the converged
    // state, but cr-sqlite itself is not always order-insensitive, e.g.
    // around columns added by crsql_commit_alter, so the reference running
    // the same merges is the expectation.)
    for (const [dir, srcOut, tag] of [['reference->ours', ref, 'ref2ours'], ['ours->reference', ours.out, 'ours2ref']]) {
      const ch = changesBlock(srcOut, checkpoint);
      if (!ch) continue;
      const xtext = crossScenario(text, checkpoint, ch, ndev);
      const xfile = writeScenario(ctx, path.basename(file).replace(/\.txt$/, '') + `.cross-${tag}.txt`, xtext);
      ctx.refError = null;
      const x = await runBoth(ctx, xfile, xtext);
      const what = `${label}: cross-engine merge of the ${dir === 'reference->ours' ? "reference's" : 'our'} checkpoint change sets`;
      if (x.ref === null) {
        rep.fail(`${what}: the reference failed: ${ctx.refError?.message}`, { scenario: xfile });
        ok = false;
        break;
      }
      if (x.ours.code !== 0 || x.ours.signal) {
        rep.fail(`${what}: our runner exited with ${x.ours.signal ?? x.ours.code}`, { scenario: xfile, extra: x.ours.err.split('\n').filter(Boolean).slice(-15) });
        ok = false;
        break;
      }
      const firstMerge = xtext.split('\n').findIndex((l) => l.startsWith('merge ')) + 1;
      const mergeErrors = (out) => out.split('\n').filter((l) => { const m = /^error L(\d+)/.exec(l); return m && Number(m[1]) >= firstMerge; });
      const errs = [...mergeErrors(x.ref).map((l) => 'reference: ' + l), ...mergeErrors(x.ours.out).map((l) => 'ours: ' + l)];
      const a = filterLines(x.ref, 'state'), b = filterLines(x.ours.out, 'state');
      if (errs.length || a.join('\n') !== b.join('\n')) {
        rep.fail(`${what}: ${errs.length ? errs.length + ' merge errors' : 'the engines disagree'} (device ${ndev} is a fresh one)`, {
          scenario: xfile, ref: x.ref, ours: x.ours.out, extra: errs.slice(0, 6), diff: diffLines(a, b),
        });
        ok = false;
        break;
      }
      if (!ctx.keep) fs.rmSync(xfile, { force: true });
    }
  }
  return ok;
}

// ------------------------------------------------------------------ reduce
// Greedy delta debugging over the write/sync/check lines of a failing
// scenario: drops chunks while the two engines still disagree.
async function reduce(ctx, file) {
  const text = fs.readFileSync(file, 'utf8');
  let lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const fixed = (l) => /^(device|schema|table) /.test(l);
  const tmp = path.join(ctx.work, path.basename(file).replace(/\.txt$/, '') + '.reduce-tmp.txt');
  let finalSync = [];
  if (ctx.reduceConvergence) {
    // Shrink a scenario on which the REFERENCE does not converge: the lines
    // before the checkpoint shrink, the final sync section is kept as is.
    const all = text.split('\n');
    const fin = all.indexOf('# final all-to-all sync');
    if (fin < 0) { console.error('--convergence needs a generated scenario (with "# final all-to-all sync")'); return 2; }
    finalSync = all.slice(fin + 1).filter((l) => l.startsWith('sync '));
    lines = all.slice(0, fin).filter((l) => l.trim() !== '' && !l.startsWith('#') && l !== 'changes');
  }
  const ndevAll = scenarioInfo(lines.join('\n')).ndev;
  const differs = async (ls) => {
    if (ctx.reduceConvergence) {
      const t = [...ls, ...finalSync, 'check'].join('\n') + '\n';
      const ref = await runScenario(ctx.oracle, t);
      // A sync into a device left inside an open transaction (its COMMIT
      // dropped) is an artifact of shrinking, not the failure we look for.
      if (/^error L\d+ sync/m.test(ref)) return false;
      return convergence(ref, ndevAll) !== null;
    }
    const t = ls.join('\n') + '\n';
    fs.writeFileSync(tmp, t);
    ctx.refError = null;
    const { ref, ours } = await runBoth(ctx, tmp, t);
    if (ref === null || ours.code !== 0 || ours.signal) return ours.code !== 0 || !!ours.signal;
    return filterLines(ref, ctx.compare).join('\n') !== filterLines(ours.out, ctx.compare).join('\n');
  };
  if (!(await differs(lines))) { console.log('the scenario does not fail; nothing to reduce'); return 0; }
  // Keep a final check so state differences stay visible.
  if (lines[lines.length - 1] !== 'check') lines.push('check');
  let chunk = Math.max(1, Math.floor(lines.length / 2));
  while (chunk >= 1) {
    let changed = false;
    for (let i = 0; i < lines.length; ) {
      const cand = lines.filter((l, k) => k < i || k >= i + chunk || fixed(l) || (k === lines.length - 1));
      if (cand.length < lines.length && (await differs(cand))) { lines = cand; changed = true; }
      else i += chunk;
    }
    if (!changed) chunk = Math.floor(chunk / 2);
  }
  // Drop unused tables' schema lines.
  for (const l of lines.filter((x) => x.startsWith('table '))) {
    const name = l.split(/\s+/)[1];
    const cand = lines.filter((x) => x !== l && !x.includes(`CREATE TABLE ${name} `) && !x.includes(`crsql_as_crr('${name}')`));
    if (await differs(cand)) lines = cand;
  }
  if (ctx.reduceConvergence) lines = [...lines.filter((l) => l !== 'check'), ...finalSync, 'check'];
  const outFile = path.join(ctx.work, path.basename(file).replace(/\.txt$/, '') + '.min.txt');
  fs.writeFileSync(outFile, lines.join('\n') + '\n');
  fs.rmSync(tmp, { force: true });
  console.log(`reduced to ${lines.length} lines: ${outFile}`);
  console.log(lines.join('\n'));
  const { ref, ours } = await runBoth(ctx, outFile, lines.join('\n') + '\n');
  console.log('--- diff (- reference, + ours):');
  console.log(diffLines(filterLines(ref ?? '', ctx.compare), filterLines(ours.out, ctx.compare)).join('\n'));
  return 0;
}

// ------------------------------------------------------------------ main
async function main() {
  let ctx;
  try {
    ctx = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`driver.mjs: ${e.message}`);
    return 2;
  }
  if (!fs.existsSync(ctx.runner)) { console.error(`driver.mjs: runner not found: ${ctx.runner}`); return 2; }
  fs.mkdirSync(ctx.work, { recursive: true });
  ctx.work = path.resolve(ctx.work);
  ctx.runner = path.resolve(ctx.runner);
  RUNNER_FLAGS = ctx.runnerFlags;
  try {
    ctx.oracle = await loadOracle(ctx.oracleDir);
  } catch (e) {
    console.error(`driver.mjs: cannot load the reference engine: ${e.message}`);
    return 2;
  }
  ctx.oracleDir = path.resolve(ctx.oracleDir);
  const rep = new Reporter(ctx);
  const t0 = Date.now();
  if (ctx.mode === 'random') {
    const seeds = parseSeeds(ctx.seeds);
    let failedSeeds = [];
    for (const seed of seeds) {
      const text = generateRandom(seed, ctx.genOpts);
      const file = writeScenario(ctx, `seed-${seed}.txt`, text);
      // Cross-engine merges on even seeds, hybrid runs on odd ones (both with
      // --seeds of one seed), to keep the run time down.
      const one = seeds.length === 1;
      const ok = await checkScenario(ctx, rep, `seed ${seed}`, file, text, {
        cross: ctx.cross && (one || seed % 2 === 0), expectConverged: true, hybrid: ctx.hybrid && (one || seed % 2 === 1),
      });
      if (!ok) failedSeeds.push(seed);
      else if (!ctx.keep) fs.rmSync(file, { force: true });
      if (failedSeeds.length >= ctx.maxFailures) {
        console.log(`stopping after ${failedSeeds.length} failing seeds (--max-failures)`);
        break;
      }
    }
    console.log(`random (${ctx.compare}${ctx.cross ? ', cross-engine merges on even seeds' : ''}${ctx.hybrid ? ', hybrid runs on odd seeds' : ''}${ctx.importCheck ? ', import test' : ''}): ${rep.checked} seeds checked, ${failedSeeds.length} failed${failedSeeds.length ? ' (seeds ' + failedSeeds.join(',') + ')' : ''}${rep.notes ? `, ${rep.notes} on which cr-sqlite itself does not converge` : ''}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } else if (ctx.mode === 'pack') {
    const text = generatePack();
    const file = writeScenario(ctx, 'pack.txt', text);
    if (await checkScenario(ctx, rep, 'pk packing', file, text) && !ctx.keep) fs.rmSync(file, { force: true });
    console.log(`pack (${ctx.compare}): ${rep.failures ? 'FAILED' : 'ok'}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } else if (ctx.mode === 'files') {
    for (const f of ctx.files) {
      const text = fs.readFileSync(f, 'utf8');
      const { checkpoint, hasFinal } = scenarioInfo(text);
      await checkScenario(ctx, rep, path.basename(f), path.resolve(f), text, { cross: ctx.cross && checkpoint > 0, expectConverged: hasFinal, hybrid: ctx.hybridFiles });
    }
    console.log(`files (${ctx.compare}): ${rep.checked} checked, ${rep.failures} failed`);
  } else if (ctx.mode === 'reduce') {
    if (ctx.files.length !== 1) { console.error('reduce takes one scenario file'); return 2; }
    return await reduce(ctx, path.resolve(ctx.files[0]));
  } else {
    console.error(`driver.mjs: unknown mode ${ctx.mode}`);
    return 2;
  }
  return rep.failures ? 1 : 0;
}

process.stdout.on('error', (e) => { if (e.code !== 'EPIPE') throw e; });
// Never let an unsettled run end as a success (node exits 0 when nothing is
// left to wait for, even with main() still pending).
let settled = false;
process.on('exit', (code) => {
  if (!settled && code === 0) {
    console.error('driver.mjs: internal error: the run ended before finishing');
    process.exitCode = 2;
  }
});
main().then((code) => { settled = true; process.exit(code); }, (e) => { settled = true; console.error(`driver.mjs: ${e.stack || e}`); process.exit(2); });
