#!/usr/bin/env node
// reference_crsqlite.mjs — the figures of bench_crdt.c measured on the
// reference engine, cr-sqlite 0.16 (npm @vlcn.io/wa-sqlite@0.22.0, its
// WebAssembly build), with plain SQLite measured in the same wasm run, so
// the ratios can be put side by side with ours (docs/PERFORMANCE.md).
//
// WebAssembly is slower than native code and every call from JavaScript into
// the wasm module costs something, so only the RATIOS (CRR / plain in the
// same run) are comparable with bench_crdt, never the absolute rates.
//
// Modes, as in bench_crdt:
//   stmt  one prepared statement (sqlite3.statements + bind + step + reset)
//         per row / change. The per-call JS<->wasm overhead is added to the
//         plain and the CRR side alike, which flattens the ratios a little.
//   sql   one set-based statement per phase (recursive CTE insert, UPDATE of
//         every row, INSERT INTO crsql_changes SELECT from a temp table): no
//         per-row JS at all; the SPEC's "pure-SQL loops".
// Storage: ":memory:" (the wasm build's file system lives in memory anyway).
//
// The package is installed into a cache directory on first use
// (npm install --no-save --prefix <dir> @vlcn.io/wa-sqlite@0.22.0); nothing
// is installed into the repository.
//
// usage: node bench/reference_crsqlite.mjs [--rows N] [--repeat R]
//          [--shape int|text|all] [--mode stmt|sql|all] [--json]
//          [--json-out FILE] [--cache DIR] [--quiet]

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const PKG = '@vlcn.io/wa-sqlite';
const PKG_VERSION = '0.22.0';
const TARGETS = { insert: 2.0, update: 3.0, merge: 1.0 };

// ------------------------------------------------------------------ options
const opt = {
  rows: 100000, repeat: 3, shapes: ['int', 'text'], modes: ['stmt', 'sql'],
  json: false, jsonOut: null, quiet: false,
  cache: process.env.BL_BENCH_CACHE ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'),
      'backless', `wa-sqlite-${PKG_VERSION}`),
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = () => { if (i + 1 >= argv.length) fail(`${a} needs a value`); return argv[++i]; };
  const sel = (x, all) => (x === 'all' ? all : all.includes(x) ? [x] : fail(`bad ${a} ${x}`));
  if (a === '--rows') opt.rows = parseInt(v(), 10);
  else if (a === '--repeat') opt.repeat = parseInt(v(), 10);
  else if (a === '--shape') opt.shapes = sel(v(), ['int', 'text']);
  else if (a === '--mode') opt.modes = sel(v(), ['stmt', 'sql']);
  else if (a === '--json') opt.json = true;
  else if (a === '--json-out') opt.jsonOut = v();
  else if (a === '--cache') opt.cache = v();
  else if (a === '--quiet') opt.quiet = true;
  else if (a === '--storage') { const s = v(); if (s === 'file') fail('the wasm reference runs in :memory: only'); }
  else if (a === '-h' || a === '--help') {
    console.log('usage: node reference_crsqlite.mjs [--rows N] [--repeat R] [--shape int|text|all] ' +
      '[--mode stmt|sql|all] [--json] [--json-out FILE] [--cache DIR] [--quiet]');
    process.exit(0);
  } else fail(`unknown option ${a}`);
}
if (!(opt.rows > 0) || !(opt.repeat > 0)) fail('--rows and --repeat must be positive');

function fail(msg) { console.error(`reference_crsqlite: ${msg}`); process.exit(2); }
function progress(s) { if (!opt.quiet) process.stderr.write(s); }

// ------------------------------------------------------------------ package
function ensurePackage(dir) {
  const pkgDir = path.join(dir, 'node_modules', ...PKG.split('/'));
  const pj = path.join(pkgDir, 'package.json');
  let ok = false;
  try { ok = JSON.parse(fs.readFileSync(pj, 'utf8')).version === PKG_VERSION; } catch { /* missing */ }
  if (!ok) {
    fs.mkdirSync(dir, { recursive: true });
    progress(`installing ${PKG}@${PKG_VERSION} into ${dir}\n`);
    execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', dir,
      `${PKG}@${PKG_VERSION}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  return pkgDir;
}

const pkgDir = ensurePackage(opt.cache);
const { default: SQLiteESMFactory } =
  await import(pathToFileURL(path.join(pkgDir, 'dist', 'crsqlite-sync.mjs')).href);
const SQLite = await import(pathToFileURL(path.join(pkgDir, 'src', 'sqlite-api.js')).href);
const wasmBinary = fs.readFileSync(path.join(pkgDir, 'dist', 'crsqlite-sync.wasm'));
const module = await SQLiteESMFactory({ wasmBinary });
const sqlite3 = SQLite.Factory(module);
const { SQLITE_ROW, SQLITE_DONE } = SQLite;

// ------------------------------------------------------------------ data
// xorshift32, same seed and formats as bench_crdt.c.
let xs = 2463534242;
function xs32() {
  let x = xs;
  x = (x ^ (x << 13)) >>> 0;
  x = (x ^ (x >>> 17)) >>> 0;
  x = (x ^ (x << 5)) >>> 0;
  return (xs = x);
}
const hex = (v, w) => v.toString(16).padStart(w, '0');
const rows = [];
for (let i = 0; i < opt.rows; i++) {
  const u0 = xs32(), u1 = xs32(), u2 = xs32(), u3 = xs32();
  const idText = `${hex(u0, 8)}-${hex(u1 >>> 16, 4)}-4${hex(u1 & 0xfff, 3)}-` +
    `${hex(((u2 >>> 16) & 0x3fff) | 0x8000, 4)}-${hex(u3, 8)}${hex(u2 & 0xffff, 4)}`;
  const a = `todo item ${i} ${hex(xs32(), 8)}`;
  const b = xs32() & 0x7fffffff;
  const c = (xs32() % 1000000) / 100.0 + 0.005;
  const b2 = xs32() & 0x7fffffff;
  rows.push({ idInt: i + 1, idText, a, b, c, b2 });
}

const SHAPES = {
  int: 'CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a TEXT, b INTEGER, c REAL)',
  text: 'CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, a TEXT, b INTEGER, c REAL)',
};

// ------------------------------------------------------------------ sqlite helpers
async function q(db, sql) {
  const out = [];
  await sqlite3.exec(db, sql, (r) => out.push(r));
  return out;
}
async function openDb(shape, crr) {
  const db = await sqlite3.open_v2(':memory:');
  await q(db, SHAPES[shape]);
  if (crr) await q(db, "SELECT crsql_as_crr('t')");
  return db;
}
async function closeDb(db, crr) {
  // The extension is loaded on every connection of this build (plain ones
  // too) and caches statements: crsql_finalize() must run before close.
  await q(db, 'SELECT crsql_finalize()');
  await sqlite3.close(db);
}
async function dbBytes(db) {
  return (await q(db, 'PRAGMA page_count'))[0][0] * (await q(db, 'PRAGMA page_size'))[0][0];
}
async function checksum(db) {
  return JSON.stringify((await q(db, 'SELECT count(*), total(b), total(c), total(length(a)), ' +
    'total(length(id)) FROM t'))[0]);
}
// Runs fn(stmt) with `sql` prepared once.
async function withStmt(db, sql, fn) {
  for await (const stmt of sqlite3.statements(db, sql)) return await fn(stmt);
  throw new Error(`no statement in ${sql}`);
}
async function stepReset(stmt) {
  const rc = await sqlite3.step(stmt);
  if (rc !== SQLITE_DONE && rc !== SQLITE_ROW) throw new Error(`step returned ${rc}`);
  await sqlite3.reset(stmt);
}
const now = () => performance.now() / 1e3;

// ------------------------------------------------------------------ phases
async function insertStmt(db, textPk) {
  return withStmt(db, 'INSERT INTO t (id, a, b, c) VALUES (?, ?, ?, ?)', async (st) => {
    const t0 = now();
    await q(db, 'BEGIN');
    for (const r of rows) {
      if (textPk) sqlite3.bind_text(st, 1, r.idText); else sqlite3.bind_int(st, 1, r.idInt);
      sqlite3.bind_text(st, 2, r.a);
      sqlite3.bind_int(st, 3, r.b);
      sqlite3.bind_double(st, 4, r.c);
      await stepReset(st);
    }
    await q(db, 'COMMIT');
    return now() - t0;
  });
}
async function updateStmt(db, textPk) {
  return withStmt(db, 'UPDATE t SET b = ? WHERE id = ?', async (st) => {
    const t0 = now();
    await q(db, 'BEGIN');
    for (const r of rows) {
      sqlite3.bind_int(st, 1, r.b2);
      if (textPk) sqlite3.bind_text(st, 2, r.idText); else sqlite3.bind_int(st, 2, r.idInt);
      await stepReset(st);
    }
    await q(db, 'COMMIT');
    return now() - t0;
  });
}
// Same statements as bench_crdt.c's phase_insert_sql / phase_update_sql.
async function insertSql(db, textPk) {
  const id = textPk
    ? "printf('%08x-%04x-4%03x-%04x-%012x', (i * 2654435761) % 4294967296, (i * 40503) % 65536, " +
      '(i * 977) % 4096, 32768 + (i * 7919) % 16384, (i * 2246822519) % 281474976710656)'
    : 'i + 1';
  const sql = `WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${opt.rows - 1}) ` +
    `INSERT INTO t (id, a, b, c) SELECT ${id}, 'todo item ' || i || ' ' || ` +
    "printf('%08x', (i * 40503) % 4294967296), (i * 2654435761) % 2147483648, " +
    '((i * 7919) % 1000000) / 100.0 + 0.005 FROM s';
  const t0 = now();
  await q(db, 'BEGIN');
  await q(db, sql);
  await q(db, 'COMMIT');
  return now() - t0;
}
async function updateSql(db) {
  const t0 = now();
  await q(db, 'BEGIN');
  await q(db, 'UPDATE t SET b = b + 1');
  await q(db, 'COMMIT');
  return now() - t0;
}

// Changes as JS values; integers beyond 2^53 would come back as BigInt
// (never here: versions and seqs are small).
async function readChanges(db) {
  const out = [];
  await withStmt(db, 'SELECT "table", pk, cid, val, col_version, db_version, site_id, cl, seq ' +
    'FROM crsql_changes', async (st) => {
    while ((await sqlite3.step(st)) === SQLITE_ROW) out.push(sqlite3.row(st));
  });
  return out;
}
function bindValue(st, i, v) {
  // sqlite3.bind would bind numbers beyond int32 as doubles; keep types exact.
  if (typeof v === 'number' && Number.isInteger(v) && (v | 0) !== v) return sqlite3.bind_int64(st, i, BigInt(v));
  return sqlite3.bind(st, i, v);
}
async function mergeStmt(db, changes) {
  return withStmt(db, 'INSERT INTO crsql_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', async (st) => {
    const t0 = now();
    await q(db, 'BEGIN');
    for (const ch of changes) {
      for (let j = 0; j < 9; j++) bindValue(st, j + 1, ch[j]);
      await stepReset(st);
    }
    await q(db, 'COMMIT');
    return now() - t0;
  });
}
async function mergeSql(db, changes) {
  await q(db, 'CREATE TEMP TABLE ch ("table", pk, cid, val, col_version, db_version, site_id, cl, seq)');
  await q(db, 'BEGIN');
  await withStmt(db, 'INSERT INTO temp.ch VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', async (st) => {
    for (const ch of changes) {
      for (let j = 0; j < 9; j++) bindValue(st, j + 1, ch[j]);
      await stepReset(st);
    }
  });
  await q(db, 'COMMIT');
  const t0 = now();
  await q(db, 'BEGIN');
  await q(db, 'INSERT INTO crsql_changes SELECT * FROM temp.ch');
  await q(db, 'COMMIT');
  const t = now() - t0;
  await q(db, 'DROP TABLE temp.ch');
  return t;
}

// ------------------------------------------------------------------ runs
async function runConfig(shape, mode) {
  const textPk = shape === 'text';
  const ins = mode === 'sql' ? insertSql : insertStmt;
  const upd = mode === 'sql' ? updateSql : updateStmt;
  const mrg = mode === 'sql' ? mergeSql : mergeStmt;
  const best = { plainInsert: Infinity, crrInsert: Infinity, plainUpdate: Infinity, crrUpdate: Infinity, merge: Infinity };
  const r = { shape, storage: 'memory', mode };
  for (let k = 0; k < opt.repeat; k++) {
    progress(`  ${shape}-pk memory ${mode} run ${k + 1}/${opt.repeat}:`);
    let db = await openDb(shape, false);
    let t = await ins(db, textPk);
    best.plainInsert = Math.min(best.plainInsert, t);
    r.plain_bytes = await dbBytes(db);
    progress(` plain-ins ${(t * 1e3).toFixed(0)}ms`);
    t = await upd(db, textPk);
    best.plainUpdate = Math.min(best.plainUpdate, t);
    r.plain_bytes_upd = await dbBytes(db);
    progress(` plain-upd ${(t * 1e3).toFixed(0)}ms`);
    const sumPlain = await checksum(db);
    await closeDb(db, false);

    db = await openDb(shape, true);
    t = await ins(db, textPk);
    best.crrInsert = Math.min(best.crrInsert, t);
    r.crr_bytes = await dbBytes(db);
    progress(` crr-ins ${(t * 1e3).toFixed(0)}ms`);
    t = await upd(db, textPk);
    best.crrUpdate = Math.min(best.crrUpdate, t);
    r.crr_bytes_upd = await dbBytes(db);
    progress(` crr-upd ${(t * 1e3).toFixed(0)}ms`);
    const sumCrr = await checksum(db);
    if (sumCrr !== sumPlain) fail(`CRR table differs from the plain one: ${sumCrr} vs ${sumPlain}`);
    const changes = await readChanges(db);
    await closeDb(db, true);
    r.changes = changes.length;

    db = await openDb(shape, true);
    t = await mrg(db, changes);
    best.merge = Math.min(best.merge, t);
    progress(` merge ${(t * 1e3).toFixed(0)}ms (${changes.length} changes)\n`);
    const sumMerged = await checksum(db);
    if (sumMerged !== sumCrr) fail(`merged table differs from its source: ${sumMerged} vs ${sumCrr}`);
    await closeDb(db, true);
  }
  const n = opt.rows;
  Object.assign(r, {
    plain_insert_s: best.plainInsert, crr_insert_s: best.crrInsert,
    insert_ratio: best.crrInsert / best.plainInsert,
    plain_update_s: best.plainUpdate, crr_update_s: best.crrUpdate,
    update_ratio: best.crrUpdate / best.plainUpdate,
    merge_s: best.merge, merge_changes_per_s: r.changes / best.merge,
    plain_insert_rows_per_s: n / best.plainInsert,
    merge_ratio: (r.changes / best.merge) / (n / best.plainInsert),
    meta_bytes_per_row: (r.crr_bytes - r.plain_bytes) / n,
    meta_bytes_per_row_after_update: (r.crr_bytes_upd - r.plain_bytes_upd) / n,
    peak_rss_kib: Math.round(process.resourceUsage().maxRSS),
  });
  r.pass = {
    insert: r.insert_ratio <= TARGETS.insert,
    update: r.update_ratio <= TARGETS.update,
    merge: r.merge_ratio >= TARGETS.merge,
  };
  return r;
}

const probe = await sqlite3.open_v2(':memory:');
const [[sqliteVersion]] = await q(probe, 'SELECT sqlite_version()');
const crsqlVersion = '0.16';
await closeDb(probe);
progress(`reference_crsqlite: cr-sqlite ${crsqlVersion} (wasm, ${PKG}@${PKG_VERSION}), SQLite ${sqliteVersion}, ` +
  `${opt.rows} rows, best of ${opt.repeat}\n`);

const results = [];
for (const shape of opt.shapes) for (const mode of opt.modes) results.push(await runConfig(shape, mode));

const report = {
  engine: `cr-sqlite ${crsqlVersion} (wasm, ${PKG}@${PKG_VERSION}, node ${process.version})`,
  sqlite_version: sqliteVersion,
  machine: `${os.type()} ${os.release()} ${os.arch()}`,
  rows: opt.rows, repeat: opt.repeat,
  peak_rss_kib: Math.round(process.resourceUsage().maxRSS),
  targets: TARGETS,
  results,
};
if (opt.jsonOut) fs.writeFileSync(opt.jsonOut, JSON.stringify(report, null, 2) + '\n');
if (opt.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const f = (x) => x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`;
  console.log(`\n${report.engine} vs plain SQLite ${sqliteVersion} (same wasm) — ${opt.rows} rows, best of ${opt.repeat}`);
  console.log('pk     store  mode figure               plain                CRR    ratio   target  result');
  const line = (r, fig, p, c, ratio, tgt, ok) => console.log(
    `${r.shape.padEnd(6)} ${r.storage.padEnd(6)} ${r.mode.padEnd(4)} ${fig.padEnd(8)} ${p.padStart(18)} ` +
    `${c.padStart(18)} ${ratio.toFixed(2).padStart(7)}x ${tgt.padStart(8)}  ${ok ? 'PASS' : 'FAIL'}`);
  for (const r of results) {
    const n = opt.rows;
    line(r, 'insert', `${f(n / r.plain_insert_s)} rows/s`, `${f(n / r.crr_insert_s)} rows/s`, r.insert_ratio, '<= 2.0x', r.pass.insert);
    line(r, 'update', `${f(n / r.plain_update_s)} rows/s`, `${f(n / r.crr_update_s)} rows/s`, r.update_ratio, '<= 3.0x', r.pass.update);
    line(r, 'merge', `${f(r.plain_insert_rows_per_s)} rows/s`, `${f(r.merge_changes_per_s)} chg/s`, r.merge_ratio, '>= 1.0x', r.pass.merge);
    console.log(`${r.shape.padEnd(6)} ${r.storage.padEnd(6)} ${r.mode.padEnd(4)} ${'B/row'.padEnd(8)} ` +
      `${(r.plain_bytes / n).toFixed(1).padStart(18)} ${(r.crr_bytes / n).toFixed(1).padStart(18)}` +
      `                   (${r.changes} changes; after update: +${r.meta_bytes_per_row_after_update.toFixed(1)} B/row)`);
  }
  console.log(`peak RSS: ${report.peak_rss_kib} KiB`);
}
