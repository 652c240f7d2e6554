// h.mjs — helpers to run SQL on cr-sqlite 0.16 (its wasm build, npm package
// @vlcn.io/wa-sqlite 0.22) from Node. Used to establish the expected values of
// the C tests in tests/crdt. ORACLE_DIR names a directory where
// `npm install @vlcn.io/wa-sqlite@0.22.0` was run (default /tmp/oracle).
import { createRequire } from 'module';
import { pathToFileURL } from 'url';
import fs from 'fs';
const dir = process.env.ORACLE_DIR || '/tmp/oracle';
const require = createRequire(dir + '/package.json');
const pkg = require.resolve('@vlcn.io/wa-sqlite/package.json').replace(/package\.json$/, '');
const { default: SQLiteESMFactory } = await import(pathToFileURL(pkg + 'dist/crsqlite-sync.mjs'));
const SQLite = await import(pathToFileURL(pkg + 'src/sqlite-api.js'));
const wasmBinary = fs.readFileSync(pkg + 'dist/crsqlite-sync.wasm');
const module = await SQLiteESMFactory({ wasmBinary });
export const sqlite3 = SQLite.Factory(module);
export async function open(name = ':memory:') { return await sqlite3.open_v2(name); }
export async function q(db, sql) { const rows = []; await sqlite3.exec(db, sql, (r) => rows.push(r)); return rows; }
export async function e(db, sql) { try { return await q(db, sql); } catch (x) { return 'ERR: ' + x.message; } }
export async function changes(db, where = '') {
  return await q(db, `select "table", quote(pk), cid, quote(val), col_version, db_version, quote(site_id), cl, seq from crsql_changes ${where}`);
}
// Copies changes as SQL literals (reals go through quote(): fine for the
// values these scripts use, not bit-exact in general).
export async function apply(to, ch) {
  for (const r of ch) await q(to, `insert into crsql_changes values ('${r[0].replace(/'/g, "''")}', ${r[1]}, '${r[2].replace(/'/g, "''")}', ${r[3]}, ${r[4]}, ${r[5]}, ${r[6]}, ${r[7]}, ${r[8]})`);
}
export async function sync(from, to, where = '') { const ch = await changes(from, where); await q(to, 'BEGIN'); await apply(to, ch); await q(to, 'COMMIT'); return ch.length; }
