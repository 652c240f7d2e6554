// backless_sync.mjs — runs a sync scenario (gen_sync.mjs) through the
// backless CLI: one database per device in `dir`, one remote folder they all
// sync through.
//
//   init   backless init --db dN.db --schema DIR
//   exec   backless exec --db dN.db -- SQL...    (one transaction; exit 0 or 1)
//   sync   backless sync --db dN.db --remote DIR/remote --json
//   pull   the same with --pull-only
//   check  backless exec --json --db dN.db <dumpQuery per table>
//
// runBackless(bin, scenario, dir) returns the same shape as runOracle
// (oracle_sync.mjs): { execs, checks, final }, plus `log` (every command
// with its exit status; stderr of failures) and `problems` (a sync that
// reported errors or warnings, an exec that exited with neither 0 nor 1).
import fs from 'fs';
import path from 'path';
import { execFile } from 'child_process';
import { realToBits } from '../common.mjs';
import { dumpQuery } from './gen_sync.mjs';
import { canonRow } from './oracle_sync.mjs';

function run(bin, args, cwd) {
  return new Promise((resolve) => {
    execFile(bin, args, { cwd, maxBuffer: 256 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : (err.signal ? `signal ${err.signal}` : String(err.code))) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export class HarnessError extends Error {}

// A value of the dump query as the CLI prints it (JSON) -> canonRow input.
function jsonValue(type, v) {
  if (v === null) return null;
  if (type === 'real') {
    if (typeof v === 'number') return realToBits(v);
    if (v && typeof v === 'object' && typeof v.real === 'string') return realToBits(v.real === 'Infinity' ? Infinity : -Infinity);
    throw new HarnessError(`unexpected JSON for a real: ${JSON.stringify(v)}`);
  }
  if (typeof v !== 'string') throw new HarnessError(`unexpected JSON for a ${type}: ${JSON.stringify(v)}`);
  return v;
}

export async function runBackless(bin, sc, dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'schema'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'remote'), { recursive: true });
  for (const f of sc.files) fs.writeFileSync(path.join(dir, 'schema', f.name), f.text);
  const remote = path.join(dir, 'remote');
  const db = (d) => `d${d}.db`;
  const log = [];
  const problems = [];
  const cli = async (args, step) => {
    const r = await run(bin, args, dir);
    log.push({ step, args, code: r.code, stderr: r.stderr });
    return r;
  };

  for (let d = 0; d < sc.devices; d++) {
    const r = await cli(['init', '--db', db(d), '--schema', 'schema'], 'init');
    if (r.code !== 0) throw new HarnessError(`backless init of d${d} failed (exit ${r.code}): ${r.stderr.trim()}`);
  }

  async function dumpDevice(d, step) {
    const r = await cli(['exec', '--json', '--db', db(d), '--', ...sc.tables.map(dumpQuery)], step);
    if (r.code !== 0) throw new HarnessError(`reading d${d}'s tables failed (exit ${r.code}): ${r.stderr.trim()}`);
    let res;
    try {
      res = JSON.parse(r.stdout);
    } catch (e) {
      throw new HarnessError(`backless exec --json printed something that is not JSON: ${e.message}: ${r.stdout.slice(0, 300)}`);
    }
    const tables = {};
    sc.tables.forEach((t, i) => {
      const ncols = t.pk.length + t.cols.filter(([c]) => !t.pk.includes(c)).length;
      tables[t.name] = (res[i] ?? []).map((row) => {
        const vals = [];
        for (let c = 0; c < ncols; c++) {
          const type = row[`t${c}`];
          vals.push(type, jsonValue(type, row[`v${c}`]));
        }
        return canonRow(vals);
      });
    });
    return tables;
  }

  const result = { execs: [], checks: [], final: null, log, problems };
  for (let i = 0; i < sc.steps.length; i++) {
    const st = sc.steps[i];
    switch (st.op) {
      case 'exec': {
        const r = await cli(['exec', '--db', db(st.dev), '--', ...st.sql], i);
        if (r.code !== 0 && r.code !== 1) problems.push(`step ${i}: backless exec on d${st.dev} exited ${r.code}: ${r.stderr.trim()}`);
        result.execs.push(r.code === 0);
        break;
      }
      case 'sync':
      case 'pull': {
        const r = await cli(['sync', '--db', db(st.dev), '--remote', remote, '--json', ...(st.op === 'pull' ? ['--pull-only'] : [])], i);
        let j = null;
        try { j = JSON.parse(r.stdout); } catch { /* reported below */ }
        if (r.code !== 0 || !j) {
          problems.push(`step ${i}: backless sync on d${st.dev} exited ${r.code}: ${r.stderr.trim()} ${r.stdout.trim()}`);
        } else if ((j.errors?.length ?? 0) + (j.warnings?.length ?? 0) > 0) {
          problems.push(`step ${i}: backless sync on d${st.dev} reported ${JSON.stringify({ errors: j.errors, warnings: j.warnings })}`);
        }
        break;
      }
      case 'check':
        result.checks.push({ step: i, dev: st.dev, tables: await dumpDevice(st.dev, i) });
        break;
      case 'final':
        result.final = [];
        for (let d = 0; d < sc.devices; d++) result.final.push(await dumpDevice(d, i));
        break;
    }
  }
  return result;
}
