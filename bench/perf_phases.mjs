#!/usr/bin/env node
// perf_phases.mjs — splits a `perf script` call-graph dump of bench_crdt by
// phase (plain/CRR insert, plain/CRR update, merge) and prints, per phase,
// the share of samples and the functions where the time goes: self time
// (leaf) and inclusive time of the engine's own functions and of key SQLite
// functions. Used by bench/profile.sh.
//
// usage: perf script -i perf.data | node bench/perf_phases.mjs [--top N] [--engine-syms FILE]
//   --engine-syms FILE  names of the engine's functions, one per line (from
//                       nm on the src/crdt objects); they are listed apart.

import fs from 'node:fs';
import readline from 'node:readline';

const args = process.argv.slice(2);
let top = 25;
let engineSyms = new Set();
const callees = []; // --callees F: break F's inclusive time down by the function it called
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = parseInt(args[++i], 10);
  else if (args[i] === '--callees') callees.push(args[++i]);
  else if (args[i] === '--engine-syms') {
    engineSyms = new Set(fs.readFileSync(args[++i], 'utf8').split('\n').map((s) => s.trim()).filter(Boolean));
  }
}

// Phase of a stack (frames leaf first).
function phaseOf(frames) {
  let side = null, phase = null;
  for (const f of frames) {
    if (!phase && f.startsWith('phase_')) phase = f.replace(/^phase_/, '').replace(/\.(part|isra|constprop).*$/, '');
    if (f === 'on_plain' || f.startsWith('on_plain.')) side = 'plain';
    else if (f === 'on_crr' || f.startsWith('on_crr.')) side = 'crr';
  }
  if (!phase) return frames.some((f) => f === 'main') ? 'other (setup, reading changes, checks)' : 'other';
  if (phase.startsWith('merge')) return phase;
  return `${side ?? '?'} ${phase}`;
}

const phases = new Map(); // phase -> { n, self: Map, incl: Map, callees: Map(F -> Map) }
let total = 0;
function record(frames) {
  if (!frames.length) return;
  total++;
  const p = phaseOf(frames);
  let ph = phases.get(p);
  if (!ph) phases.set(p, (ph = { n: 0, self: new Map(), incl: new Map(), callees: new Map() }));
  for (const F of callees) {
    const i = frames.findIndex((f) => f.replace(/\.(part|isra|constprop|cold)[.0-9]*$/g, '') === F);
    if (i < 0) continue;
    const below = i === 0 ? '(self)' : frames[i - 1];
    let m = ph.callees.get(F);
    if (!m) ph.callees.set(F, (m = new Map()));
    m.set(below, (m.get(below) ?? 0) + 1);
  }
  ph.n++;
  ph.self.set(frames[0], (ph.self.get(frames[0]) ?? 0) + 1);
  for (const f of new Set(frames)) ph.incl.set(f, (ph.incl.get(f) ?? 0) + 1);
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let frames = [];
for await (const line of rl) {
  if (!line.trim()) { record(frames); frames = []; continue; }
  if (!/^\s/.test(line)) { record(frames); frames = []; continue; } // sample header
  const m = line.trim().match(/^[0-9a-f]+\s+(.+?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)$/);
  if (!m) continue;
  let sym = m[1];
  if (sym === '[unknown]') sym = `[${m[2].split('/').pop()}]`;
  frames.push(sym);
}
record(frames);

const pct = (n, d) => `${((100 * n) / d).toFixed(1)}%`.padStart(6);
const base = (s) => s.replace(/\.(part|isra|constprop|cold)[.0-9]*$/g, '');
const SKIP = /^(main|__libc_start|_start|on_plain|on_crr|run_config|phase_|\[)/;
const SQLITE_KEY = /^(sqlite3(VdbeExec|_step|BtreeInsert|BtreeDelete|BtreeTableMoveto|BtreeIndexMoveto|VdbeHalt|_prepare|LockAndPrepare|RunParser|Select|VdbeMemGrow|VdbeRecordCompare|VdbeRecordUnpack|VdbeSerialGet|VdbeMemRelease|_reset|VdbeReset|_bind|_value|_result|_column|CodeRowTrigger|Update|Insert|DeleteFrom)|subjournalPage|vtab|xUpdate|balance|pager|sqlite3Pager|sqlite3Pcache|memjrnl|vdbeCloseStatement|sqlite3VdbeTransferError|sqlite3VtabSavepoint|sqlite3_create_function|sqlite3Malloc|sqlite3DbMalloc|malloc|free|_int_)/;

console.log(`${total} samples`);
const order = [...phases.entries()].sort((a, b) => b[1].n - a[1].n);
for (const [name, ph] of order) {
  console.log(`\n=== ${name}: ${ph.n} samples (${pct(ph.n, total).trim()} of all)`);
  const selfRows = [...ph.self.entries()].reduce((m, [k, v]) => m.set(base(k), (m.get(base(k)) ?? 0) + v), new Map());
  console.log('  self time (leaf function):');
  for (const [f, n] of [...selfRows.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`    ${pct(n, ph.n)}  ${f}${engineSyms.has(f) ? '  [engine]' : ''}`);
  }
  const incl = [...ph.incl.entries()].reduce((m, [k, v]) => m.set(base(k), Math.max(m.get(base(k)) ?? 0, v)), new Map());
  const eng = [...incl.entries()].filter(([f]) => engineSyms.has(f)).sort((a, b) => b[1] - a[1]);
  if (eng.length) {
    console.log('  inclusive, engine functions:');
    for (const [f, n] of eng.slice(0, top)) console.log(`    ${pct(n, ph.n)}  ${f}`);
  }
  for (const [F, m] of ph.callees) {
    const tot = [...m.values()].reduce((a, b) => a + b, 0);
    console.log(`  ${F}: ${pct(tot, ph.n).trim()} of the phase, by callee:`);
    for (const [f, n] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(n, ph.n)}  ${f}`);
  }
  const sq = [...incl.entries()].filter(([f]) => !engineSyms.has(f) && !SKIP.test(f) && SQLITE_KEY.test(f))
    .sort((a, b) => b[1] - a[1]);
  console.log('  inclusive, SQLite / libc:');
  for (const [f, n] of sq.slice(0, top)) console.log(`    ${pct(n, ph.n)}  ${f}`);
}
