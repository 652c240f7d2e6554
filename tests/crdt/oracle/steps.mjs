// steps.mjs — runs a script of SQL steps on cr-sqlite and prints results in
// the format of tests/crdt/helpers.h (CT_CHANGES: table|hex(pk)|cid|quote(val)|
// col_version|db_version|site ("local" for ours)|cl|seq).
//
//   node steps.mjs script.txt
//
// Script lines: "@name" switches to (and creates) database name; "?SQL" prints
// the rows of a query; "!SQL" expects an error and prints it; "%" prints
// crsql_changes ("%WHERE ..." with a filter); ">a b [WHERE ...]" copies the
// changes of a into b; "--" starts a comment; any other line is executed.
import { open, e, sync } from './h.mjs';
import fs from 'fs';
const C = `select "table", hex(pk), cid, quote(val), col_version, db_version, CASE WHEN site_id = crsql_site_id() THEN 'local' ELSE hex(site_id) END, cl, seq from crsql_changes `;
const O = ' order by db_version, seq, "table", pk, cid';
const dbs = {};
let cur = null;
const get = async (n) => (dbs[n] ??= await open());
const show = (r) => (typeof r === 'string' ? r : r.map((x) => x.map((v) => (v === null ? 'NULL' : v)).join('|')).join('\n'));
for (const raw of fs.readFileSync(process.argv[2], 'utf8').split('\n')) {
  const l = raw.trim();
  if (!l || l.startsWith('--')) continue;
  if (l.startsWith('@')) { cur = await get(l.slice(1)); console.log(l); continue; }
  if (l.startsWith('>')) { const [a, b, ...w] = l.slice(1).trim().split(' '); console.log(`sync ${a}->${b}: ${await sync(await get(a), await get(b), w.join(' '))}`); continue; }
  if (l.startsWith('%')) { console.log('% ' + l.slice(1)); console.log(show(await e(cur, C + l.slice(1) + O))); continue; }
  if (l.startsWith('?')) { console.log(l); console.log(show(await e(cur, l.slice(1)))); continue; }
  if (l.startsWith('!')) { const r = await e(cur, l.slice(1)); console.log(l); console.log(typeof r === 'string' ? r : 'NO ERROR'); continue; }
  const r = await e(cur, l);
  if (typeof r === 'string') console.log('UNEXPECTED ' + l + ' ' + r);
}
