// gen_sync.mjs — deterministic random scenarios for the sync differential
// test (run_sync.mjs): a schema folder and a sequence of `backless exec` /
// `backless sync` steps on 2-4 devices sharing one remote folder.
//
//   node gen_sync.mjs <seed> [--no-pk-changes] [--pull-only-steps]
//                                  prints the scenario as a shell script (below)
//
// A scenario is a plain object:
//   { seed, devices, sites: [32 hex] (reference side only),
//     files: [{name: '1.sql', text, stmts: [sql]}],   the schema folder
//     synced: [table], tables: [{name, pk: [col], cols: [[col, kind]], synced}],
//     steps: [{op: 'exec', dev, sql: [stmt...]} | {op: 'sync', dev}
//             | {op: 'pull', dev} (sync --pull-only; only with pullOnly)
//             | {op: 'check', dev} | {op: 'final'}] }
// Every SQL statement is one line of literal SQL (no bound parameters: the
// CLI takes SQL text), valid in SQLite 3.40 and 3.44 with the same meaning.
// The steps end with two round-robin syncs of every device and `final`.
//
// toScript(scenario) renders it as a shell script that replays it with the
// CLI (BACKLESS=path/to/backless sh seed-N.sh in an empty directory): that is
// what a failure prints, and the reproduction.
import { pathToFileURL } from 'url';
import { Rng } from '../gen.mjs';

// ------------------------------------------------------------ SQL literals
const P63 = 2n ** 63n;
const INTS = [0n, 1n, -1n, 2n, 42n, 127n, 128n, -129n, 255n, 256n, 32767n, -32769n, 8388608n,
  2147483647n, 2147483648n, -2147483649n, 2n ** 40n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n,
  2n ** 56n, P63 - 1n, P63 - 2n, -P63, -P63 + 1n, 1234567890123456789n];

// Reals are written as exact decimal expansions of doubles (dyadic
// rationals with few digits), so that SQLite 3.40 and 3.44 parse them to the
// same bits; 9e999 is +Infinity. No -0.0: cr-sqlite compares it equal to
// 0.0 (concurrent writes of the two do not converge in cr-sqlite itself).
const REALS = ['0.0', '0.5', '-2.25', '1.0', '3.0', '-7.0', '123456789.125', '-0.0009765625', '1e15',
  '1.0e18', '-4.5e10', '9.5367431640625e-07', '1125899906842624.0', '4503599627370497.0',
  '9007199254740992.0', '1e22', '0.75', '-1048575.5'];

const TEXTS = ['', 'a', 'b', 'A', 'abc', "it's", 'say "hi"', 'h\u00e9llo', '\u65e5\u672c\u8a9e', '\u{1F642}',
  ' lead', 'trail ', '%41', 'NULL', '0', '12', "x'00'", '\u00e9', 'caf\u00e9 \u2014 na\u00efve', '-- not a comment',
  'x'.repeat(300)];
// Texts with bytes that are not printable (or not UTF-8), written as CAST(x'..' AS TEXT).
const RAW_TEXTS = [[0x6c, 0x0a, 0x62], [0x74, 0x09], [0x61, 0x00, 0x62], [0xff, 0xfe, 0x41], [0x00]];
const BLOBS = [[], [0], [0xff], [0, 1, 2], [0xde, 0xad, 0xbe, 0xef], [0x27, 0x22, 0x00, 0x0a], [0x31]];

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export function intLit(v) { return BigInt(v).toString(); }
export function textLit(s) { return "'" + s.replace(/'/g, "''") + "'"; }
export function blobLit(bytes) { return `x'${hex(bytes)}'`; }
export function rawTextLit(bytes) { return `CAST(x'${hex(bytes)}' AS TEXT)`; }

// m * 2^-k as its exact decimal expansion.
function dyadicLit(m, k) {
  const neg = m < 0n;
  let digits = ((neg ? -m : m) * 5n ** BigInt(k)).toString();
  if (k === 0) return (neg ? '-' : '') + digits + '.0';
  digits = digits.padStart(k + 1, '0');
  const s = digits.slice(0, digits.length - k) + '.' + digits.slice(digits.length - k);
  return (neg ? '-' : '') + s;
}

function intValue(rng) {
  if (rng.chance(0.12)) return intLit(BigInt.asIntN(64, rng.u64()));
  if (rng.chance(0.45)) return intLit(rng.range(-20, 100));
  return intLit(rng.pick(INTS));
}
function realValue(rng) {
  if (rng.chance(0.03)) return rng.pick(['9e999', '-9e999']);
  if (rng.chance(0.35)) {
    let m = BigInt(rng.range(1, 1 << 20));
    if (rng.chance(0.5)) m = -m;
    return dyadicLit(m, rng.range(0, 10));
  }
  return rng.pick(REALS);
}
function textValue(rng) {
  if (rng.chance(0.06)) return rawTextLit(rng.pick(RAW_TEXTS));
  if (rng.chance(0.01)) return textLit('L' + 'abc\u00e9'.repeat(rng.range(2000, 5000)));
  if (rng.chance(0.12)) return textLit('r' + rng.u32().toString(36));
  return textLit(rng.pick(TEXTS));
}
function blobValue(rng) {
  if (rng.chance(0.01)) return blobLit(rng.bytes(rng.range(5000, 20000)));
  if (rng.chance(0.06)) return blobLit(rng.bytes(rng.range(200, 400)));
  if (rng.chance(0.3)) return blobLit(rng.bytes(rng.range(1, 20)));
  return blobLit(rng.pick(BLOBS));
}

// A value for a column of this kind: mostly of that type, sometimes NULL or
// another type (the column's affinity then applies the same way in both
// engines). No REAL into a TEXT column: SQLite 3.43 changed how a real is
// turned into text (the reference embeds 3.44, we link the system's).
function valueFor(rng, kind) {
  if (rng.chance(0.1)) return 'NULL';
  let k = kind === 'any' || rng.chance(0.15) ? rng.pick(['int', 'real', 'text', 'blob']) : kind;
  if (kind === 'text' && k === 'real') k = 'int';
  switch (k) {
    case 'int': return intValue(rng);
    case 'real': return realValue(rng);
    case 'text': return textValue(rng);
    case 'blob': return blobValue(rng);
  }
  throw new Error(kind);
}

// ------------------------------------------------------------ tables
// Column kinds: int real text blob any (no declared type); key kinds ikey
// tkey bkey draw from the scenario's small key pools (so that devices write
// the same rows concurrently).
const CATALOG = [
  {
    name: 'items',
    ddl: 'CREATE TABLE items (id INTEGER PRIMARY KEY NOT NULL, n INTEGER, r REAL, s TEXT, b BLOB, x)',
    pk: ['id'], keys: { id: 'ikey' },
    cols: [['n', 'int'], ['r', 'real'], ['s', 'text'], ['b', 'blob'], ['x', 'any']],
  },
  {
    name: 'notes',
    ddl: "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL DEFAULT '', done INTEGER NOT NULL DEFAULT 0, score REAL DEFAULT 1.5, data BLOB)",
    pk: ['id'], keys: { id: 'tkey' },
    cols: [['title', 'text'], ['done', 'int'], ['score', 'real'], ['data', 'blob']],
    notnull: ['title', 'done'],
  },
  {
    name: 'pairs',
    ddl: "CREATE TABLE pairs (g INTEGER NOT NULL, h TEXT NOT NULL, v, w INTEGER DEFAULT 7, z TEXT DEFAULT 'dflt', PRIMARY KEY (g, h))",
    pk: ['g', 'h'], keys: { g: 'ikey', h: 'tkey' },
    cols: [['v', 'any'], ['w', 'int'], ['z', 'text']],
  },
  {
    name: 'bk',
    ddl: 'CREATE TABLE bk (k BLOB NOT NULL, val TEXT, j INTEGER NOT NULL, amount INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (j, k)) WITHOUT ROWID',
    pk: ['j', 'k'], keys: { j: 'ikey', k: 'bkey' },
    cols: [['val', 'text'], ['amount', 'int']],
    notnull: ['amount'],
  },
  {
    name: 'tags',
    ddl: 'CREATE TABLE tags (a TEXT NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b))',
    pk: ['a', 'b'], keys: { a: 'tkey', b: 'ikey' },
    cols: [],
  },
  {
    name: 'odd',
    ddl: 'CREATE TABLE odd ("select" INTEGER PRIMARY KEY NOT NULL, "a b" TEXT, "v\u00e4lue", "x\'y" INTEGER DEFAULT 1)',
    pk: ['select'], keys: { select: 'ikey' },
    cols: [['a b', 'text'], ['v\u00e4lue', 'any'], ["x'y", 'int']],
  },
];
// A table that is not synced (plain SQLite on every device).
const LOCAL = {
  name: 'prefs', ddl: 'CREATE TABLE prefs (k TEXT PRIMARY KEY, v)',
  pk: ['k'], keys: { k: 'tkey' }, cols: [['v', 'any']], local: true,
};

export const qid = (s) => '"' + s.replace(/"/g, '""') + '"';

// ------------------------------------------------------------ statements
function makeGen(rng, pools, opts) {
  const key = (kind) => rng.pick(pools[kind]);
  const keyRow = (t) => t.pk.map((c) => key(t.keys[c]));
  const where = (t, k) => t.pk.map((c, i) => `${qid(c)} = ${k[i]}`).join(' AND ');
  const val = (t, c, kind) => {
    // NULL into a NOT NULL column only rarely (the exec then fails and rolls back).
    const v = valueFor(rng, kind);
    if (v === 'NULL' && t.notnull?.includes(c) && !rng.chance(0.1)) return valueFor(rng, kind === 'any' ? 'int' : kind).replace(/^NULL$/, '0');
    return v;
  };
  const someCols = (t, min = 0) => rng.subset(t.cols, min);

  function insertRow(t, cols) {
    return '(' + keyRow(t).concat(cols.map(([c, k]) => val(t, c, k))).join(', ') + ')';
  }

  function insert(t) {
    const verb = rng.pick(['INSERT', 'INSERT', 'INSERT OR REPLACE', 'INSERT OR IGNORE', 'REPLACE']);
    // INTEGER PRIMARY KEY left out: SQLite picks max(id) + 1 (only while
    // the pool has no large keys, which would make it pick a random id).
    if (t.name === 'items' && !pools.bigInts && rng.chance(0.1)) {
      const cols = someCols(t, 1);
      return `${verb} INTO items (${cols.map(([c]) => qid(c)).join(', ')}) VALUES (${cols.map(([c, k]) => val(t, c, k)).join(', ')})`;
    }
    const cols = someCols(t);
    const names = t.pk.concat(cols.map(([c]) => c)).map(qid).join(', ');
    const rows = [insertRow(t, cols)];
    if (rng.chance(0.2)) rows.push(insertRow(t, cols));
    return `${verb} INTO ${qid(t.name)} (${names}) VALUES ${rows.join(', ')}`;
  }

  function upsert(t) {
    const cols = someCols(t);
    const names = t.pk.concat(cols.map(([c]) => c)).map(qid).join(', ');
    const head = `INSERT INTO ${qid(t.name)} (${names}) VALUES ${insertRow(t, cols)} ON CONFLICT (${t.pk.map(qid).join(', ')})`;
    if (t.cols.length === 0 || rng.chance(0.2)) return `${head} DO NOTHING`;
    const sets = [];
    for (const [c, k] of rng.subset(t.cols, 1)) {
      const r = rng.int(4);
      if (r === 0 && cols.some(([x]) => x === c)) sets.push(`${qid(c)} = excluded.${qid(c)}`);
      else if (r === 1 && k === 'int') sets.push(`${qid(c)} = ${qid(c)} + 1`);
      else sets.push(`${qid(c)} = ${val(t, c, k)}`);
    }
    return `${head} DO UPDATE SET ${sets.join(', ')}`;
  }

  // A WHERE that may match several rows.
  function wideWhere(t) {
    const r = rng.int(3);
    const c = rng.pick(t.pk);
    if (r === 0) return `${qid(c)} ${rng.pick(['<', '>', '<=', '>='])} ${key(t.keys[c])}`;
    if (r === 1 && t.cols.length) {
      const [col, kind] = rng.pick(t.cols);
      return rng.chance(0.5) ? `${qid(col)} IS NULL` : `${qid(col)} IS NOT ${valueFor(rng, kind)}`;
    }
    return `${qid(c)} IN (${key(t.keys[c])}, ${key(t.keys[c])})`;
  }

  function update(t) {
    if (t.cols.length === 0) return del(t);
    const sets = rng.subset(t.cols, 1).map(([c, k]) => {
      const r = rng.int(10);
      if (r === 0) return `${qid(c)} = ${qid(c)}`; // same value: no change recorded
      if (r === 1 && k === 'int') return `${qid(c)} = ${qid(c)} + 1`;
      return `${qid(c)} = ${val(t, c, k)}`;
    });
    const w = rng.chance(0.8) ? where(t, keyRow(t)) : wideWhere(t);
    return `UPDATE${rng.chance(0.1) ? ' OR IGNORE' : ''} ${qid(t.name)} SET ${sets.join(', ')} WHERE ${w}`;
  }

  function del(t) {
    if (rng.chance(0.03)) return `DELETE FROM ${qid(t.name)}`;
    return `DELETE FROM ${qid(t.name)} WHERE ${rng.chance(0.8) ? where(t, keyRow(t)) : wideWhere(t)}`;
  }

  // UPDATE of a primary-key column (cr-sqlite: delete of the old key, create
  // of the new one, the row's entries moved).
  function pkUpdate(t) {
    const c = rng.pick(t.pk);
    const kind = t.keys[c];
    const sets = [`${qid(c)} = ${key(kind)}`];
    if (kind === 'ikey' && !pools.bigInts && rng.chance(0.15)) {
      // Several rows at once.
      return `UPDATE ${qid(t.name)} SET ${qid(c)} = ${qid(c)} + ${rng.pick([10, 20, -10])} WHERE ${qid(c)} ${rng.pick(['<', '>'])} ${key(kind)}`;
    }
    if (t.cols.length && rng.chance(0.3)) {
      const [col, k] = rng.pick(t.cols);
      sets.push(`${qid(col)} = ${val(t, col, k)}`);
    }
    return `UPDATE${rng.chance(0.3) ? ' OR REPLACE' : ''} ${qid(t.name)} SET ${sets.join(', ')} WHERE ${where(t, keyRow(t))}`;
  }

  // Delete then insert the same key in one transaction.
  function deleteReinsert(t) {
    const k = keyRow(t);
    const cols = someCols(t);
    const names = t.pk.concat(cols.map(([c]) => c)).map(qid).join(', ');
    return [`DELETE FROM ${qid(t.name)} WHERE ${where(t, k)}`,
      `INSERT INTO ${qid(t.name)} (${names}) VALUES (${k.concat(cols.map(([c, kk]) => val(t, c, kk))).join(', ')})`];
  }

  // Many rows at once (changesets of thousands of changes; the CLI merges
  // them in batches): keys outside the pools, values computed from x.
  function bulk(t) {
    const n = rng.chance(0.3) ? rng.range(900, 1600) : rng.range(20, 300);
    const r = rng.int(4);
    if (r === 1) {
      const w = t.pk.map((c) => (t.keys[c] === 'ikey' ? `${qid(c)} >= 1000` : null)).find((x) => x) ?? 'true';
      if (t.cols.length === 0) return `DELETE FROM ${qid(t.name)} WHERE ${w}`;
      const [c, k] = rng.pick(t.cols);
      return `UPDATE ${qid(t.name)} SET ${qid(c)} = ${k === 'int' ? `${qid(c)} + 1` : val(t, c, k)} WHERE ${w}`;
    }
    if (r === 2) return `DELETE FROM ${qid(t.name)} WHERE ${t.pk.map((c) => (t.keys[c] === 'ikey' ? `${qid(c)} % 3 = 0` : `length(${qid(c)}) > 3`))[0]}`;
    const off = rng.pick([1000, 1000, 1500]);
    const keyExpr = { ikey: `${off} + x`, tkey: "'bulk' || x", bkey: "CAST('b' || x AS BLOB)" };
    const colExpr = {
      int: 'x * 7', real: `x / ${rng.pick(['4.0', '8.0', '2.0'])}`, text: "'v' || x", blob: 'CAST(x AS BLOB)',
      any: "CASE x % 4 WHEN 0 THEN x WHEN 1 THEN 'a' || x WHEN 2 THEN x / 2.0 ELSE NULL END",
    };
    const cols = someCols(t);
    const names = t.pk.concat(cols.map(([c]) => c)).map(qid).join(', ');
    const exprs = t.pk.map((c) => keyExpr[t.keys[c]]).concat(cols.map(([, k]) => colExpr[k]));
    return `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) ` +
      `INSERT OR REPLACE INTO ${qid(t.name)} (${names}) SELECT ${exprs.join(', ')} FROM c`;
  }

  return function statement(t) {
    if (rng.chance(0.025)) return [bulk(t)];
    const r = rng.int(100);
    if (r < 28) return [insert(t)];
    if (r < 42) return [upsert(t)];
    if (r < 66) return [update(t)];
    if (r < 80) return [del(t)];
    if (r < 88) return deleteReinsert(t);
    if (opts.pkChanges) return [pkUpdate(t)];
    return [update(t)];
  };
}

// ------------------------------------------------------------ scenarios
function keyPools(rng) {
  const uniq = (arr) => [...new Set(arr)];
  let ints = [];
  const bigInts = rng.chance(0.25);
  const n = rng.range(3, 6);
  for (let i = 1; ints.length < n; i++) ints.push(intLit(rng.range(-2, 9)));
  ints = uniq(ints);
  if (bigInts) ints.push(...rng.subset(['9223372036854775807', '-9223372036854775808', '9007199254740993', '4294967296'], 1));
  let texts = rng.subset(['a', 'b', 'c', 'k1', 'Z', "o'k", '\u00e9', '', '10'], 3);
  if (rng.chance(0.15)) texts.push('long-key-' + 'k'.repeat(rng.range(30, 300)));
  texts = uniq(texts.map(textLit));
  const blobs = uniq(rng.subset([[0], [0xff, 1], [0x61, 0x62, 0x63], [], [0, 0, 0, 0], [0x10]], 2).map(blobLit));
  return { ikey: ints, tkey: texts, bkey: blobs, bigInts };
}

export function generateSyncScenario(seed, opts = {}) {
  const o = { pkChanges: true, ...opts };
  const rng = new Rng(seed);
  const devices = rng.range(2, 4);
  const sites = [];
  for (let d = 0; d < devices; d++) sites.push(Array.from(rng.bytes(16), (b) => b.toString(16).padStart(2, '0')).join(''));

  // Tables: 1-3 synced, sometimes the local one.
  const synced = rng.subset(CATALOG.filter((t) => t.name !== 'odd' || rng.chance(0.3)), 1).slice(0, 3);
  rng.shuffle(synced);
  const tables = synced.map((t) => ({ ...t, synced: true }));
  if (rng.chance(0.4)) tables.push({ ...LOCAL, synced: false });
  const pools = keyPools(rng);

  // The schema folder: 1.sql, sometimes 2.sql (tables split between the
  // files, an index); the `-- sync:` line in one of them; sometimes rows
  // inserted by the schema itself (before the tables become CRRs: every
  // device then has them, as backfilled local writes of its own).
  const nfiles = tables.length > 1 && rng.chance(0.35) ? 2 : 1;
  const files = [];
  for (let f = 0; f < nfiles; f++) files.push({ name: `${f + 1}.sql`, stmts: [] });
  tables.forEach((t, i) => files[nfiles === 2 && i === tables.length - 1 ? 1 : 0].stmts.push(t.ddl));
  if (rng.chance(0.3)) {
    const t = rng.pick(tables);
    files[files.length - 1].stmts.push(`CREATE INDEX ${t.name}_idx ON ${qid(t.name)} (${qid(t.pk[t.pk.length - 1])})`);
  }
  const gen = makeGen(rng, pools, o);
  if (rng.chance(0.25)) {
    const t = rng.pick(tables);
    files[files.length - 1].stmts.push(`INSERT OR IGNORE INTO ${qid(t.name)} (${t.pk.map(qid).join(', ')}) VALUES (${t.pk.map((c) => rng.pick(pools[t.keys[c]])).join(', ')})`);
  }
  const syncFile = rng.int(nfiles);
  for (let f = 0; f < nfiles; f++) {
    const body = files[f].stmts.map((s) => s + ';').join('\n');
    files[f].text = f === syncFile
      ? `-- generated schema, version ${nfiles}\n-- sync: ${synced.map((t) => t.name).join(', ')}\n${body}\n`
      : `-- generated schema\n${body}\n`;
  }

  // Steps.
  const steps = [];
  const nsteps = rng.range(8, opts.maxSteps ?? 40);
  const syncP = rng.pick([0.15, 0.3, 0.45]);
  for (let s = 0; s < nsteps; s++) {
    const dev = rng.int(devices);
    const r = rng.u32() / 4294967296;
    if (r < syncP) { steps.push({ op: o.pullOnly && rng.chance(0.2) ? 'pull' : 'sync', dev }); continue; }
    if (r < syncP + 0.04) { steps.push({ op: 'check', dev }); continue; }
    const sql = [];
    const n = rng.chance(0.6) ? 1 : rng.range(2, 5);
    const savepoint = n > 1 && rng.chance(0.15);
    if (savepoint) sql.push('SAVEPOINT sp');
    for (let i = 0; i < n; i++) sql.push(...gen(rng.pick(tables)));
    if (savepoint) {
      if (rng.chance(0.5)) sql.push('ROLLBACK TO sp');
      sql.push('RELEASE sp');
      if (rng.chance(0.5)) sql.push(...gen(rng.pick(tables)));
    }
    steps.push({ op: 'exec', dev, sql });
  }
  // The end: every device syncs twice, round-robin; then all must agree.
  for (let round = 0; round < 2; round++)
    for (let d = 0; d < devices; d++) steps.push({ op: 'sync', dev: d });
  steps.push({ op: 'final' });

  return {
    seed, devices, sites, files, synced: synced.map((t) => t.name),
    tables: tables.map((t) => ({ name: t.name, pk: t.pk, cols: t.cols, synced: t.synced })),
    steps,
  };
}

// ------------------------------------------------------------ dump query
// The query both runners use to read a table: per column its typeof() and
// an exact text of the value (integers in decimal, text and blobs in hex),
// except reals, returned as they are (the CLI prints them with 17
// significant digits, which read back exactly; the reference gives the
// double itself).
export function dumpQuery(t) {
  const cols = t.pk.concat(t.cols.map(([c]) => c).filter((c) => !t.pk.includes(c)));
  const parts = [];
  cols.forEach((c, i) => {
    const q = qid(c);
    parts.push(`typeof(${q}) AS "t${i}"`,
      `CASE typeof(${q}) WHEN 'integer' THEN CAST(${q} AS TEXT) WHEN 'real' THEN ${q} WHEN 'null' THEN NULL ELSE hex(${q}) END AS "v${i}"`);
  });
  return `SELECT ${parts.join(', ')} FROM ${qid(t.name)} ORDER BY ${t.pk.map(qid).join(', ')}`;
}

// ------------------------------------------------------------ script form
const sh = (s) => "'" + s.replace(/'/g, "'\\''") + "'";

export function toScript(sc) {
  const out = [];
  out.push('#!/bin/sh');
  out.push(`# backless sync differential scenario, seed ${sc.seed}: ${sc.devices} devices, synced: ${sc.synced.join(', ')}`);
  out.push('# Replays it with the CLI in an empty directory:  BACKLESS=/path/to/backless sh THIS_FILE');
  out.push('# (each `# check dN` prints dN\'s tables with the query the test compares).');
  out.push('set -u');
  out.push('B=${BACKLESS:-backless}');
  out.push('mkdir -p schema remote');
  for (const f of sc.files) {
    out.push(`cat > schema/${f.name} <<'BL_EOF'`);
    out.push(f.text.replace(/\n$/, ''));
    out.push('BL_EOF');
  }
  for (let d = 0; d < sc.devices; d++) out.push(`"$B" init --db d${d}.db --schema schema >/dev/null`);
  const dump = (d) => {
    for (const t of sc.tables) out.push(`"$B" exec --json --db d${d}.db ${sh(dumpQuery(t))}`);
  };
  sc.steps.forEach((st, i) => {
    switch (st.op) {
      case 'exec':
        out.push(`# step ${i}`);
        out.push(`"$B" exec --db d${st.dev}.db \\\n  ${st.sql.map(sh).join(' \\\n  ')}`);
        break;
      case 'sync':
      case 'pull':
        out.push(`# step ${i}`);
        out.push(`"$B" sync --db d${st.dev}.db --remote "$PWD/remote"${st.op === 'pull' ? ' --pull-only' : ''} >/dev/null`);
        break;
      case 'check':
        out.push(`# step ${i}: check d${st.dev}`);
        dump(st.dev);
        break;
      case 'final':
        out.push(`# step ${i}: final state of every device`);
        for (let d = 0; d < sc.devices; d++) { out.push(`echo "== d${d}"`); dump(d); }
        break;
    }
  });
  return out.join('\n') + '\n';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const seed = Number(args.find((a) => /^[0-9]+$/.test(a)));
  if (!Number.isInteger(seed)) {
    process.stderr.write('usage: node gen_sync.mjs <seed> [--no-pk-changes] [--pull-only-steps]\n');
    process.exit(2);
  }
  process.stdout.write(toScript(generateSyncScenario(seed, { pkChanges: !args.includes('--no-pk-changes'), pullOnly: args.includes('--pull-only-steps') })));
}
