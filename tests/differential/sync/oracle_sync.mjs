// oracle_sync.mjs — runs a sync scenario (gen_sync.mjs) on the reference:
// one cr-sqlite 0.16 database per device (npm @vlcn.io/wa-sqlite@0.22.0, via
// ../oracle.mjs), with backless's sync modelled on top of crsql_changes as
// the seed README ("How sync works") and SPEC section 6 describe it:
//
//   init   the schema files run in order, then crsql_as_crr on every synced
//          table; last_pushed = 0, no changeset published, every cursor 0.
//   exec   BEGIN; every statement; COMMIT — or ROLLBACK at the first error
//          (the CLI runs its SQL in one transaction).
//   sync   pull: for every other device, each changeset it published after
//          our cursor for it, in publication order, merged in one
//          transaction (INSERT INTO crsql_changes, row by row), cursor
//          advanced; then push: D = the highest db_version of a change
//          above last_pushed (not crsql_db_version(), see below); the
//          changes db_version in (last_pushed, D] AND site_id =
//          crsql_site_id(), plus the sync rule of docs/CRDT.md section 4 —
//          for every key with a '-1' change of odd cl among them, the key's
//          whole row (all its entries, any db_version, any site); nothing
//          of ours: not published; last_pushed = D.
//   pull   (only with --pull-only steps) the pull alone.
//
// Why not last_pushed = crsql_db_version(), as the seed says: cr-sqlite
// reports a version it did not use (after a transaction that recorded
// nothing, or writes rolled back to a savepoint) and gives that same
// version to the next real write — which a cursor set to the reported
// value never pushes; cr-sqlite would then lose writes by itself. backless
// takes the same high-water (src/sync/push.c).
//
// With opts.wholeRows = false the push is the plain cursor query (cr-sqlite
// alone): then cr-sqlite does not converge after some primary-key changes.
//
// Each exec and sync step opens a new connection to the device's database,
// as each CLI command does.
//
// runOracle(oracle, scenario, opts) returns what run_sync.mjs compares:
//   { execs: [ok...] (one per exec step), checks: [{step, dev, tables}],
//     final: [tables per device] }  where tables = {name: [row strings]}.
import { makeSession } from '../oracle.mjs';
import { encodeValue, decodeValue, bytesToHex } from '../common.mjs';
import { dumpQuery } from './gen_sync.mjs';

const CHANGE_COLS = 'SELECT "table", pk, cid, val, col_version, db_version, site_id, cl, seq FROM crsql_changes';
const MERGE = 'INSERT INTO crsql_changes ("table", pk, cid, val, col_version, db_version, site_id, cl, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)';

// Canonical form of one dumped row: "integer:5 real:3ff0000000000000 text:6162 blob: null".
// Values come from dumpQuery (typeof, then an exact text of the value).
export function canonRow(values) {
  const out = [];
  for (let i = 0; i < values.length; i += 2) {
    const type = values[i];
    const v = values[i + 1];
    if (type === 'null') out.push('null');
    else if (type === 'real') out.push('real:' + v);
    else out.push(`${type}:${v}`);
  }
  return out.join(' ');
}

export async function runOracle(o, sc, opts = {}) {
  const wholeRows = opts.wholeRows ?? true;
  const s = makeSession(o);
  let line = 0;
  const text = (v) => new TextDecoder().decode(v.bytes);

  // Runs one command; returns its rows (query) or throws a StepError-like
  // {code, message} when it failed.
  async function cmd(c) {
    c.line = ++line;
    const before = s.out.length;
    await s.run(c);
    const lines = s.out.splice(before);
    const err = lines.find((l) => l.startsWith('error '));
    if (err) {
      const e = new Error(`${c.sql ?? c.op}: ${err}`);
      e.sqlError = true;
      throw e;
    }
    return lines;
  }
  const exec = (dev, sql, args = []) => cmd({ op: 'exec', dev, args, sql });
  // Rows of a query as arrays of value objects.
  async function query(dev, sql, args = []) {
    // makeSession prints rows as typed tokens; decode them back.
    const lines = await cmd({ op: 'query', dev, args, sql });
    return lines.map((l) => l.split(' ').slice(2).map(decodeValue));
  }

  const dev = [];
  try {
    for (let d = 0; d < sc.devices; d++) {
      await cmd({ op: 'device', dev: d, site: sc.sites[d] });
      for (const f of sc.files) for (const st of f.stmts) await exec(d, st);
      for (const t of sc.synced) await exec(d, `SELECT crsql_as_crr('${t}')`);
      dev.push({ lastPushed: 0n, published: [], cursors: new Array(sc.devices).fill(0) });
    }

    async function dumpDevice(d) {
      const tables = {};
      for (const t of sc.tables) {
        const rows = await query(d, dumpQuery(t));
        tables[t.name] = rows.map((r) => canonRow(r.map((v) => {
          if (v.type === 'n') return null;
          if (v.type === 'r') return v.bits;
          return text(v);
        })));
      }
      return tables;
    }

    async function sync(d, pullOnly = false) {
      // Pull.
      for (let p = 0; p < sc.devices; p++) {
        if (p === d) continue;
        const pub = dev[p].published;
        for (let k = dev[d].cursors[p]; k < pub.length; k++) {
          await exec(d, 'BEGIN');
          for (const row of pub[k]) await cmd({ op: 'merge', dev: d, row });
          await exec(d, 'COMMIT');
          dev[d].cursors[p] = k + 1;
        }
      }
      if (pullOnly) return;
      // Push.
      const hw = (await query(d, 'SELECT max(db_version) FROM crsql_changes WHERE db_version > ?', [{ type: 'i', v: dev[d].lastPushed }]))[0][0];
      const D = hw.type === 'i' ? hw.v : dev[d].lastPushed;
      const own = await query(d, `${CHANGE_COLS} WHERE db_version > ? AND db_version <= ? AND site_id = crsql_site_id()`,
        [{ type: 'i', v: dev[d].lastPushed }, { type: 'i', v: D }]);
      if (own.length === 0) { dev[d].lastPushed = D; return; }
      const seen = new Set(own.map((r) => r.map(encodeValue).join(' ')));
      const rows = [...own];
      const keys = new Map();
      for (const r of own) {
        if (wholeRows && text(r[2]) === '-1' && (r[7].v & 1n) === 1n) keys.set(`${text(r[0])}\0${bytesToHex(r[1].bytes)}`, [r[0], r[1]]);
      }
      for (const [tbl, pk] of keys.values()) {
        for (const r of await query(d, `${CHANGE_COLS} WHERE "table" = ? AND pk = ? AND db_version <= ?`, [tbl, pk, { type: 'i', v: D }])) {
          const k = r.map(encodeValue).join(' ');
          if (!seen.has(k)) { seen.add(k); rows.push(r); }
        }
      }
      dev[d].published.push(rows);
      dev[d].lastPushed = D;
    }

    const result = { execs: [], checks: [], final: null };
    for (let i = 0; i < sc.steps.length; i++) {
      const st = sc.steps[i];
      // Every CLI command is a new process, so a new connection: reopen.
      // (cr-sqlite keeps its db_version in memory, and counts writes rolled
      // back to a savepoint in it until a connection reads it back from
      // the tables: with one long-lived connection a device's
      // crsql_db_version() can go down, and the next local write gets a
      // db_version <= last_pushed, never pushed.)
      if (st.op === 'exec' || st.op === 'sync' || st.op === 'pull') await cmd({ op: 'reopen', dev: st.dev });
      switch (st.op) {
        case 'exec': {
          let ok = true;
          await exec(st.dev, 'BEGIN');
          for (const q of st.sql) {
            try {
              await exec(st.dev, q);
            } catch (e) {
              if (!e.sqlError) throw e;
              ok = false;
              break;
            }
          }
          if (ok) await exec(st.dev, 'COMMIT');
          else await exec(st.dev, 'ROLLBACK').catch((e) => { if (!e.sqlError) throw e; }); // may be gone already
          result.execs.push(ok);
          break;
        }
        case 'sync':
          await sync(st.dev);
          break;
        case 'pull':
          await sync(st.dev, true);
          break;
        case 'check':
          result.checks.push({ step: i, dev: st.dev, tables: await dumpDevice(st.dev) });
          break;
        case 'final':
          result.final = [];
          for (let d = 0; d < sc.devices; d++) result.final.push(await dumpDevice(d));
          break;
      }
    }
    return result;
  } finally {
    await s.close();
  }
}
