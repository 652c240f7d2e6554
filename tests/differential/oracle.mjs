// oracle.mjs — runs a differential scenario on the reference engine
// (cr-sqlite 0.16 compiled to WebAssembly, npm @vlcn.io/wa-sqlite@0.22.0)
// and prints the canonical output (same format as run_scenario.c).
//
//   node oracle.mjs [--oracle-dir DIR] scenario.txt
//
// DIR is the npm prefix holding node_modules/@vlcn.io/wa-sqlite (default:
// $BL_ORACLE_DIR). As a module: loadOracle(dir) and runScenario(oracle, text).
import fs from 'fs';
import path from 'path';
import { pathToFileURL } from 'url';
import { bytesToHex, hexToBytes, realToBits, bitsToReal, encodeValue, parseScenario } from './common.mjs';

export const ORACLE_PACKAGE = '@vlcn.io/wa-sqlite@0.22.0';

export async function loadOracle(dir) {
  if (!dir) throw new Error('oracle directory not given (--oracle-dir or BL_ORACLE_DIR)');
  const pkg = path.join(path.resolve(dir), 'node_modules', '@vlcn.io', 'wa-sqlite');
  const wasmPath = path.join(pkg, 'dist', 'crsqlite-sync.wasm');
  if (!fs.existsSync(wasmPath)) throw new Error(`reference engine not installed: ${wasmPath} missing (npm install --prefix ${dir} ${ORACLE_PACKAGE})`);
  const { default: factory } = await import(pathToFileURL(path.join(pkg, 'dist', 'crsqlite-sync.mjs')).href);
  const SQLite = await import(pathToFileURL(path.join(pkg, 'src', 'sqlite-api.js')).href);
  const module = await factory({ wasmBinary: fs.readFileSync(wasmPath) });
  const sqlite3 = SQLite.Factory(module);
  const bindText = module.cwrap('sqlite3_bind_text', 'number', ['number', 'number', 'number', 'number', 'number']);
  const bindBlob = module.cwrap('sqlite3_bind_blob', 'number', ['number', 'number', 'number', 'number', 'number']);
  const sqliteFree = module._getSqliteFree();
  return { module, sqlite3, SQLite, bindText, bindBlob, sqliteFree, runs: 0, version: sqlite3.libversion() };
}

class StepError extends Error {
  constructor(code, msg) { super(msg); this.code = code; }
}

function errCode(e) {
  return typeof e?.code === 'number' ? (e.code & 0xff) : -1;
}

// Low-level helpers over the wa-sqlite API with exact typed values.
function makeApi(o) {
  const { sqlite3, SQLite, module } = o;

  function bind(stmt, i, v) {
    switch (v.type) {
      case 'n': return sqlite3.bind_null(stmt, i);
      case 'i': return sqlite3.bind_int64(stmt, i, v.v);
      case 'r': return sqlite3.bind_double(stmt, i, bitsToReal(v.bits));
      case 'b': case 't': {
        // Own copy (never a NULL pointer: wa-sqlite's bind_blob binds an
        // empty blob as NULL because sqlite3_malloc(0) returns NULL).
        const n = v.bytes.length;
        const ptr = module._sqlite3_malloc(n + 1);
        module.HEAPU8.set(v.bytes, ptr);
        module.HEAPU8[ptr + n] = 0;
        const rc = (v.type === 't' ? o.bindText : o.bindBlob)(stmt, i, ptr, n, o.sqliteFree);
        if (rc !== 0) throw new StepError(rc, 'bind failed');
        return rc;
      }
    }
    throw new Error('bad value');
  }

  function column(stmt, i) {
    switch (sqlite3.column_type(stmt, i)) {
      case SQLite.SQLITE_NULL: return { type: 'n' };
      case SQLite.SQLITE_INTEGER: return { type: 'i', v: sqlite3.column_int64(stmt, i) };
      case SQLite.SQLITE_FLOAT: return { type: 'r', bits: realToBits(sqlite3.column_double(stmt, i)) };
      case SQLite.SQLITE_TEXT: return { type: 't', bytes: sqlite3.column_blob(stmt, i) };
      case SQLite.SQLITE_BLOB: return { type: 'b', bytes: sqlite3.column_blob(stmt, i) };
    }
    throw new Error('unknown column type');
  }

  // Runs one statement with bindings; returns rows (arrays of value objects).
  // Throws StepError (with .code) on failure.
  // Prepared statements kept for reuse (the merge INSERT runs thousands of
  // times), per connection: key "db\0sql".
  const cache = new Map();

  async function finalizeCached(db) {
    for (const [k, stmt] of cache) {
      if (k.startsWith(`${db}\0`)) {
        await sqlite3.finalize(stmt);
        cache.delete(k);
      }
    }
  }

  async function run(db, sql, args = [], wantRows = true, reuse = false) {
    const key = `${db}\0${sql}`;
    if (reuse && cache.has(key)) return runStmt(cache.get(key), sql, args, wantRows, true);
    let prepared;
    const n = module.lengthBytesUTF8(sql);
    const zSql = module._sqlite3_malloc(n + 1);
    module.stringToUTF8(sql, zSql, n + 1);
    try {
      prepared = await sqlite3.prepare_v2(db, zSql);
    } catch (e) {
      throw new StepError(errCode(e), e.message);
    } finally {
      module._sqlite3_free(zSql);
    }
    if (!prepared) return [];
    if (reuse) cache.set(key, prepared.stmt);
    return runStmt(prepared.stmt, sql, args, wantRows, reuse);
  }

  async function runStmt(stmt, sql, args, wantRows, reuse) {
    const rows = [];
    try {
      if (sqlite3.bind_parameter_count(stmt) !== args.length)
        throw new StepError(-2, `statement wants ${sqlite3.bind_parameter_count(stmt)} arguments, got ${args.length}: ${sql}`);
      args.forEach((v, k) => bind(stmt, k + 1, v));
      for (;;) {
        let rc;
        try {
          rc = await sqlite3.step(stmt);
        } catch (e) {
          throw new StepError(errCode(e), e.message);
        }
        if (rc !== SQLite.SQLITE_ROW) break;
        if (wantRows) {
          const n = sqlite3.column_count(stmt);
          const row = [];
          for (let c = 0; c < n; c++) row.push(column(stmt, c));
          rows.push(row);
        }
      }
    } finally {
      if (reuse) {
        try { await sqlite3.reset(stmt); } catch { /* the step error, already reported */ }
      } else {
        await sqlite3.finalize(stmt);
      }
    }
    return rows;
  }
  return { run, finalizeCached };
}

const FLAGS_URI = 0x40; // SQLITE_OPEN_URI

// A session runs commands one at a time (the hybrid mode of driver.mjs
// interleaves it with our engine); `out` collects the output lines.
export function makeSession(o, opts = {}) {
  const { sqlite3, SQLite } = o;
  const api = makeApi(o);
  const out = [];
  const devs = []; // {db, site}
  const tables = [];
  const watermark = new Map();
  const runId = ++o.runs;
  const log = opts.verbose ? (m) => process.stderr.write(m + '\n') : () => {};
  const flags = SQLite.SQLITE_OPEN_READWRITE | SQLite.SQLITE_OPEN_CREATE | FLAGS_URI;

  const dev = (c, d) => {
    if (!devs[d]) throw new Error(`scenario line ${c.line}: device ${d} not declared`);
    return devs[d];
  };

  const txOwn = new Map(); // dev -> whether txbegin opened the transaction

  async function run(c) {
      switch (c.op) {
        case 'device': {
          if (devs[c.dev]) throw new Error(`scenario line ${c.line}: device ${c.dev} declared twice`);
          // Deterministic site id: cr-sqlite reads it from crsql_site_id
          // (ordinal 0) when a connection opens. A first connection creates
          // the tables, we set the id, a second connection loads it.
          const uri = `file:/bl_oracle_${runId}_${c.dev}?vfs=memdb`;
          const a = await sqlite3.open_v2(uri, flags);
          await api.run(a, 'UPDATE crsql_site_id SET site_id = ? WHERE ordinal = 0', [{ type: 'b', bytes: hexToBytes(c.site) }]);
          const db = await sqlite3.open_v2(uri, flags);
          await api.run(a, 'SELECT crsql_finalize()');
          await sqlite3.close(a);
          const got = await api.run(db, 'SELECT crsql_site_id()');
          if (bytesToHex(got[0][0].bytes) !== c.site) throw new Error(`site id not applied on device ${c.dev}`);
          devs[c.dev] = { db, site: c.site, uri };
          break;
        }
        case 'schema':
          for (let d = 0; d < devs.length; d++) {
            if (!devs[d]) continue;
            try {
              await api.run(devs[d].db, c.sql);
            } catch (e) {
              out.push(`error L${c.line} schema d${d} code=${e.code}`);
              log(`L${c.line} d${d}: ${e.message}`);
            }
          }
          break;
        case 'table':
          tables.push(c);
          break;
        case 'exec':
          try {
            await api.run(dev(c, c.dev).db, c.sql, c.args, false);
          } catch (e) {
            if (!(e instanceof StepError)) throw e;
            out.push(`error L${c.line} exec code=${e.code}`);
            log(`L${c.line} d${c.dev}: ${e.message}`);
          }
          break;
        case 'query':
          try {
            for (const r of await api.run(dev(c, c.dev).db, c.sql, c.args))
              out.push(`query L${c.line} ${r.map(encodeValue).join(' ')}`);
          } catch (e) {
            if (!(e instanceof StepError)) throw e;
            out.push(`error L${c.line} query code=${e.code}`);
            log(`L${c.line} d${c.dev}: ${e.message}`);
          }
          break;
        case 'merge':
          try {
            await api.run(dev(c, c.dev).db,
              'INSERT INTO crsql_changes ("table", pk, cid, val, col_version, db_version, site_id, cl, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
              c.row, false, true);
          } catch (e) {
            if (!(e instanceof StepError)) throw e;
            out.push(`error L${c.line} merge code=${e.code}`);
            log(`L${c.line} d${c.dev}: ${e.message}`);
          }
          break;
        case 'sync': {
          const from = dev(c, c.from), to = dev(c, c.to);
          const key = `${c.from}>${c.to}`;
          let rows;
          try {
            if (c.mode === 'full') {
              rows = await api.run(from.db, 'SELECT "table", pk, cid, val, col_version, db_version, site_id, cl, seq FROM crsql_changes WHERE db_version > 0');
            } else if (c.mode === 'range') {
              rows = await api.run(from.db,
                'SELECT "table", pk, cid, val, col_version, db_version, site_id, cl, seq FROM crsql_changes WHERE db_version > ? AND db_version <= ?',
                [{ type: 'i', v: c.lo }, { type: 'i', v: c.hi }]);
            } else {
              rows = await api.run(from.db,
                'SELECT "table", pk, cid, val, col_version, db_version, site_id, cl, seq FROM crsql_changes WHERE db_version > ? AND site_id IS NOT ?',
                [{ type: 'i', v: watermark.get(key) ?? 0n }, { type: 'b', bytes: hexToBytes(to.site) }]);
            }
          } catch (e) {
            if (!(e instanceof StepError)) throw e;
            out.push(`error L${c.line} sync-read code=${e.code}`);
            log(`L${c.line}: ${e.message}`);
            break;
          }
          // Into a device inside an open transaction: merge within it.
          const own = sqlite3.get_autocommit(to.db) !== 0;
          try {
            if (own) await api.run(to.db, 'BEGIN');
            for (const r of rows)
              await api.run(to.db,
                'INSERT INTO crsql_changes ("table", pk, cid, val, col_version, db_version, site_id, cl, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
                r, false, true);
            if (own) await api.run(to.db, 'COMMIT');
            if (c.mode !== 'incr' || !own) break;
            let wm = watermark.get(key) ?? 0n;
            for (const r of rows) if (r[5].type === 'i' && r[5].v > wm) wm = r[5].v;
            watermark.set(key, wm);
          } catch (e) {
            if (!(e instanceof StepError)) throw e;
            out.push(`error L${c.line} sync code=${e.code}`);
            log(`L${c.line}: ${e.message}`);
            if (own) try { await api.run(to.db, 'ROLLBACK'); } catch { /* no transaction */ }
          }
          break;
        }
        case 'check':
          out.push(`check L${c.line}`);
          for (let d = 0; d < devs.length; d++) {
            if (!devs[d]) continue;
            for (const t of tables) {
              const q = `SELECT * FROM "${t.name.replace(/"/g, '""')}" ORDER BY ${t.pks.map((p) => `"${p.replace(/"/g, '""')}"`).join(', ')}`;
              try {
                for (const r of await api.run(devs[d].db, q))
                  out.push(`row d${d} ${t.name} ${r.map(encodeValue).join(' ')}`);
              } catch (e) {
                if (!(e instanceof StepError)) throw e;
                out.push(`error L${c.line} check d${d} ${t.name} code=${e.code}`);
              }
            }
          }
          break;
        case 'changes':
          out.push(`changes L${c.line}`);
          for (let d = 0; d < devs.length; d++) {
            if (!devs[d]) continue;
            try {
              const v = await api.run(devs[d].db, 'SELECT crsql_db_version()');
              out.push(`dbversion d${d} ${encodeValue(v[0][0])}`);
              for (const r of await api.run(devs[d].db,
                'SELECT "table", pk, cid, val, col_version, db_version, site_id, cl, seq FROM crsql_changes ORDER BY db_version, seq, "table", pk, cid'))
                out.push(`change d${d} ${r.map(encodeValue).join(' ')}`);
            } catch (e) {
              if (!(e instanceof StepError)) throw e;
              out.push(`error L${c.line} changes d${d} code=${e.code}`);
            }
          }
          break;
        case 'reopen': {
          // A new connection to the same database (its state is recomputed
          // from storage), then the old one closed.
          const d = dev(c, c.dev);
          const db = await sqlite3.open_v2(d.uri, flags);
          await api.finalizeCached(d.db);
          await api.run(d.db, 'SELECT crsql_finalize()');
          await sqlite3.close(d.db);
          d.db = db;
          break;
        }
        case 'dump': {
          // The whole database of a device, as SQL and typed rows (for the
          // import test: our engine converting a database cr-sqlite wrote).
          const db = dev(c, c.dev).db;
          const master = await api.run(db,
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' " +
            "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, rowid");
          const text = (v) => new TextDecoder().decode(v.bytes);
          for (const [type, name, sql] of master) {
            if (text(type) !== 'table') continue;
            if (/^CREATE VIRTUAL TABLE/i.test(text(sql))) continue;
            out.push(`dumpsql d${c.dev} ${encodeValue(sql)}`);
            for (const r of await api.run(db, `SELECT * FROM "${text(name).replace(/"/g, '""')}"`))
              out.push(`dumprow d${c.dev} ${encodeValue(name)} ${r.length} ${r.map(encodeValue).join(' ')}`);
          }
          for (const [type, , sql] of master)
            if (text(type) !== 'table') out.push(`dumpsql d${c.dev} ${encodeValue(sql)}`);
          break;
        }
        case 'clocks':
          // cr-sqlite's own metadata tables (our engine offers the same
          // layouts as views): rows of <t>__crsql_clock and <t>__crsql_pks.
          out.push(`clocks L${c.line}`);
          for (let d = 0; d < devs.length; d++) {
            if (!devs[d]) continue;
            for (const t of tables) {
              const qn = (x) => `"${x.replace(/"/g, '""')}"`;
              // Keys of the lookaside and site ordinals are local numbers
              // (ours are rowids): shown as primary key values and site ids.
              const pk = t.pks.map((x) => `p.${qn(x)}`).join(', ');
              for (const [kind, q] of [['clock', `SELECT ${pk}, c.col_name, c.col_version, c.db_version, (SELECT s.site_id FROM crsql_site_id AS s WHERE s.ordinal = c.site_id), c.seq FROM ${qn(t.name + '__crsql_clock')} AS c LEFT JOIN ${qn(t.name + '__crsql_pks')} AS p ON p.__crsql_key = c.key ORDER BY ${pk}, c.col_name`],
                ['lookaside', `SELECT ${pk} FROM ${qn(t.name + '__crsql_pks')} AS p ORDER BY ${pk}`]]) {
                try {
                  for (const r of await api.run(devs[d].db, q))
                    out.push(`${kind} d${d} ${t.name} ${r.map(encodeValue).join(' ')}`);
                } catch (e) {
                  if (!(e instanceof StepError)) throw e;
                  out.push(`error L${c.line} ${kind} d${d} ${t.name} code=${e.code}`);
                }
              }
            }
          }
          break;
        case 'pks':
          out.push(`pks L${c.line}`);
          for (let d = 0; d < devs.length; d++) {
            if (!devs[d]) continue;
            try {
              for (const r of await api.run(devs[d].db, 'SELECT DISTINCT "table", pk FROM crsql_changes ORDER BY "table", pk'))
                out.push(`pk d${d} ${r.map(encodeValue).join(' ')}`);
            } catch (e) {
              if (!(e instanceof StepError)) throw e;
              out.push(`error L${c.line} pks d${d} code=${e.code}`);
            }
          }
          break;
        case 'pack': {
          const db = devs.find((x) => x)?.db;
          if (!db) throw new Error(`scenario line ${c.line}: pack needs a device`);
          const q = `SELECT crsql_pack_columns(${c.args.map(() => '?').join(', ')})`;
          try {
            const r = await api.run(db, q, c.args);
            out.push(`pack L${c.line} ${encodeValue(r[0][0])}`);
          } catch (e) {
            if (!(e instanceof StepError)) throw e;
            out.push(`pack L${c.line} error code=${e.code}`);
          }
          break;
        }
        case 'txbegin': {
          const own = sqlite3.get_autocommit(dev(c, c.dev).db) !== 0;
          txOwn.set(c.dev, own);
          if (own) {
            try { await api.run(devs[c.dev].db, 'BEGIN'); } catch (e) {
              if (!(e instanceof StepError)) throw e;
              out.push(`error L${c.line} txbegin code=${e.code}`);
            }
          }
          break;
        }
        case 'txend':
          if (txOwn.get(c.dev)) {
            try { await api.run(dev(c, c.dev).db, 'COMMIT'); } catch (e) {
              if (!(e instanceof StepError)) throw e;
              out.push(`error L${c.line} txend code=${e.code}`);
              try { await api.run(devs[c.dev].db, 'ROLLBACK'); } catch { /* none */ }
            }
          }
          txOwn.delete(c.dev);
          break;
        default:
          throw new Error(`unknown op ${c.op}`);
      }
  }

  async function close() {
    for (const d of devs) {
      if (!d) continue;
      await api.finalizeCached(d.db);
      try { await api.run(d.db, 'SELECT crsql_finalize()'); } catch { /* ignore */ }
      try { await sqlite3.close(d.db); } catch { /* ignore */ }
    }
  }
  return { run, close, out, devs };
}

// Runs a scenario; returns the canonical output text.
export async function runScenario(o, text, opts = {}) {
  const cmds = typeof text === 'string' ? parseScenario(text) : text;
  const session = makeSession(o, opts);
  try {
    for (const c of cmds) await session.run(c);
  } finally {
    await session.close();
  }
  return session.out.join('\n') + '\n';
}

async function main() {
  const argv = process.argv.slice(2);
  let dir = process.env.BL_ORACLE_DIR;
  let file = null, verbose = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--oracle-dir') dir = argv[++i];
    else if (argv[i] === '-v') verbose = true;
    else file = argv[i];
  }
  if (!file) {
    process.stderr.write('usage: node oracle.mjs [--oracle-dir DIR] [-v] scenario.txt\n');
    process.exit(2);
  }
  const o = await loadOracle(dir);
  process.stdout.write(await runScenario(o, fs.readFileSync(file, 'utf8'), { verbose }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => { process.stderr.write(`oracle.mjs: ${e.stack || e}\n`); process.exit(1); });
}
