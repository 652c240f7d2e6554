#!/usr/bin/env node
// compare.mjs — prints the figures of bench_crdt (ours) and
// reference_crsqlite.mjs (cr-sqlite 0.16, wasm) side by side from their
// --json-out files. Only ratios are compared: each is CRR / plain measured in
// the same process, so native vs wasm speed cancels out.
//
// usage: node bench/compare.mjs OURS.json [REFERENCE.json] [--markdown]

import fs from 'node:fs';

const args = process.argv.slice(2);
const markdown = args.includes('--markdown');
const files = args.filter((a) => !a.startsWith('--'));
if (files.length < 1) {
  console.error('usage: node compare.mjs OURS.json [REFERENCE.json] [--markdown]');
  process.exit(2);
}
const ours = JSON.parse(fs.readFileSync(files[0], 'utf8'));
const ref = files[1] && fs.existsSync(files[1]) ? JSON.parse(fs.readFileSync(files[1], 'utf8')) : null;

const key = (r) => `${r.shape}/${r.storage}/${r.mode}`;
const refBy = new Map((ref?.results ?? []).map((r) => [`${r.shape}/${r.mode}`, r]));
const rate = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M/s` : `${(x / 1e3).toFixed(0)}k/s`);
const x = (v) => `${v.toFixed(2)}×`;

const FIGS = [
  { name: 'insert', ratio: 'insert_ratio', target: '≤ 2.0×', ok: (v) => v <= ours.targets.insert,
    abs: (r) => `${rate(r.rows / r.crr_insert_s)} vs ${rate(r.rows / r.plain_insert_s)}` },
  { name: 'update 1 col', ratio: 'update_ratio', target: '≤ 3.0×', ok: (v) => v <= ours.targets.update,
    abs: (r) => `${rate(r.rows / r.crr_update_s)} vs ${rate(r.rows / r.plain_update_s)}` },
  { name: 'merge', ratio: 'merge_ratio', target: '≥ 1.0×', ok: (v) => v >= ours.targets.merge,
    abs: (r) => `${rate(r.merge_changes_per_s)} chg vs ${rate(r.plain_insert_rows_per_s)} rows` },
  { name: 'meta B/row', ratio: 'meta_bytes_per_row', target: 'report', ok: null,
    abs: () => '' },
];

const rowsOut = [];
for (const fig of FIGS) {
  for (const r of ours.results) {
    r.rows = ours.rows;
    const rr = refBy.get(`${r.shape}/${r.mode}`);
    if (rr) rr.rows = ref.rows;
    const fmt = fig.ok ? x : (v) => `${v.toFixed(1)} B`;
    rowsOut.push([
      fig.name, r.shape, r.storage, r.mode,
      fmt(r[fig.ratio]),
      fig.abs(r),
      rr && r.storage === 'memory' ? fmt(rr[fig.ratio]) : rr ? `(${fmt(rr[fig.ratio])} in memory)` : 'n/a',
      fig.target,
      fig.ok ? (fig.ok(r[fig.ratio]) ? 'PASS' : 'FAIL') : '',
    ]);
  }
}
const head = ['figure', 'pk', 'storage', 'loop', 'ours', 'ours: CRR vs plain', 'cr-sqlite', 'target', 'ours'];

if (markdown) {
  console.log(`| ${head.join(' | ')} |`);
  console.log(`| ${head.map(() => '---').join(' | ')} |`);
  for (const r of rowsOut) console.log(`| ${r.join(' | ')} |`);
} else {
  const w = head.map((h, i) => Math.max(h.length, ...rowsOut.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => c.padEnd(w[i])).join('  ');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  let last = '';
  for (const r of rowsOut) {
    if (last && r[0] !== last) console.log('');
    last = r[0];
    console.log(line(r));
  }
}
console.log('');
console.log('ratios: insert/update = CRR time / plain time (lower is better); merge = changes/s / plain insert rows/s (higher is better)');
console.log(`ours: ${ours.rows} rows, best of ${ours.repeat}, SQLite ${ours.sqlite_version}, peak RSS ${(ours.peak_rss_kib / 1024).toFixed(0)} MiB`);
if (ref) console.log(`reference: ${ref.engine}, ${ref.rows} rows, best of ${ref.repeat}, SQLite ${ref.sqlite_version}, peak RSS ${(ref.peak_rss_kib / 1024).toFixed(0)} MiB (node + wasm heap)`);
