#!/usr/bin/env node
// callgrind_phases.mjs — instructions per row (per change for the merge) of
// each bench_crdt phase, from a callgrind profile of ONE configuration
// (one --shape, --storage and --mode) and the run's --json-out file.
// Instruction counts do not depend on machine load, so these ratios are a
// noise-free check of the wall-time ones (they do not see cache misses, I/O
// or syscalls' kernel time). Used by bench/profile.sh --callgrind.
//
// usage: node bench/callgrind_phases.mjs callgrind.out bench.json
//        node bench/callgrind_phases.mjs callgrind.out --floor ROWS
//          (a `bench_crdt --floor-variant K --repeat 1` run: the variant is
//           reported in the CRR column, the merge line is left out)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const [cgFile, jsonFile, floorRows] = process.argv.slice(2);
if (!cgFile || !jsonFile) {
  console.error('usage: node callgrind_phases.mjs callgrind.out (bench.json | --floor ROWS)');
  process.exit(2);
}
const floor = jsonFile === '--floor';
const bench = floor
  ? { rows: Number(floorRows), repeat: 1, results: [{ shape: '?', storage: '?', mode: 'stmt', changes: 0 }] }
  : JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
if (bench.results.length !== 1) {
  console.error('callgrind_phases: profile exactly one configuration (--shape, --storage, --mode)');
  process.exit(2);
}
const res = bench.results[0];
const rows = bench.rows * bench.repeat;
const changes = res.changes * bench.repeat;

const txt = execFileSync('callgrind_annotate', ['--inclusive=yes', '--tree=calling', '--threshold=100', cgFile],
  { encoding: 'utf8', maxBuffer: 1 << 28 });
const num = (s) => Number(s.replace(/,/g, ''));
const calls = new Map(); // caller -> Map(callee -> Ir)
const incl = new Map();
let cur = null;
for (const line of txt.split('\n')) {
  let m = line.match(/^\s*([\d,]+)\s+\([^)]*\)\s+\*\s+\S*?:(\w+)[\s.]/);
  if (m) { cur = m[2]; incl.set(cur, (incl.get(cur) ?? 0) + num(m[1])); continue; }
  m = line.match(/^\s*([\d,]+)\s+\([^)]*\)\s+>\s+\S*?:(\w+)[\s.]/);
  if (m && cur) {
    if (!calls.has(cur)) calls.set(cur, new Map());
    const c = calls.get(cur);
    c.set(m[2], (c.get(m[2]) ?? 0) + num(m[1]));
    continue;
  }
  if (!line.trim()) cur = null;
}
const mode = res.mode;
const ins = `phase_insert_${mode}`, upd = `phase_update_${mode}`, mrg = `phase_merge_${mode}`;
const get = (side, f) => calls.get(side)?.get(f) ?? NaN;
const pi = get('on_plain', ins) / rows, ci = get('on_crr', ins) / rows;
const pu = get('on_plain', upd) / rows, cu = get('on_crr', upd) / rows;
const mg = (incl.get(mrg) ?? NaN) / changes;
const f = (x) => Math.round(x).toLocaleString('en-US').padStart(10);
console.log(floor ? `instructions (callgrind Ir), --floor variant vs plain, ${bench.rows} rows`
  : `instructions (callgrind Ir), ${res.shape} pk, ${res.storage}, ${mode} loop, ${bench.rows} rows x ${bench.repeat}`);
console.log(`  insert   plain ${f(pi)} /row   CRR ${f(ci)} /row      ratio ${(ci / pi).toFixed(2)}x  (target <= 2.0x)`);
console.log(`  update   plain ${f(pu)} /row   CRR ${f(cu)} /row      ratio ${(cu / pu).toFixed(2)}x  (target <= 3.0x)`);
if (!floor) console.log(`  merge    plain ${f(pi)} /row   merge ${f(mg)} /change  ratio ${(pi / mg).toFixed(2)}x  (target >= 1.0x, changes per instruction vs rows per instruction)`);
