// common.mjs — value encoding and scenario parsing shared by the Node side of
// the differential suite (oracle.mjs, gen.mjs, driver.mjs). The C runner
// (run_scenario.c) implements the same format; see README.md.
//
// Typed value tokens (never contain whitespace):
//   n                 NULL
//   i:<decimal>       64-bit integer, e.g. i:-9223372036854775808
//   r:<16 hex>        REAL by its IEEE-754 bits (lower-case hex), e.g. r:3ff0000000000000
//   t:<pct>           TEXT: bytes 0x21..0x7e except '%' literally, every other byte %XX
//                     (upper-case hex); the empty text is "t:"
//   b:<hex>           BLOB, lower-case hex; the empty blob is "b:"

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

const HEX = '0123456789abcdef';

export function bytesToHex(bytes) {
  let s = '';
  for (const b of bytes) s += HEX[b >> 4] + HEX[b & 15];
  return s;
}

export function hexToBytes(hex) {
  if (hex.length % 2) throw new Error(`odd hex length: ${hex}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const v = parseInt(hex.substr(i * 2, 2), 16);
    if (Number.isNaN(v)) throw new Error(`bad hex: ${hex}`);
    out[i] = v;
  }
  return out;
}

export function pctEncode(bytes) {
  let s = '';
  for (const b of bytes) {
    if (b >= 0x21 && b <= 0x7e && b !== 0x25) s += String.fromCharCode(b);
    else s += '%' + HEX[b >> 4].toUpperCase() + HEX[b & 15].toUpperCase();
  }
  return s;
}

export function pctDecode(s) {
  const out = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const h = s.substr(i + 1, 2);
      if (!/^[0-9A-Fa-f]{2}$/.test(h)) throw new Error(`bad %-escape in ${s}`);
      const v = parseInt(h, 16);
      out.push(v);
      i += 2;
    } else {
      if (c < 0x21 || c > 0x7e) throw new Error(`bad character in text token ${s}`);
      out.push(c);
    }
  }
  return Uint8Array.from(out);
}

export function realToBits(x) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  return dv.getBigUint64(0).toString(16).padStart(16, '0');
}

export function bitsToReal(hex) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, BigInt('0x' + hex));
  return dv.getFloat64(0);
}

const utf8enc = new TextEncoder();
export function utf8(s) {
  return utf8enc.encode(s);
}

// Value objects: {type:'n'} {type:'i', v:BigInt} {type:'r', bits:'hex16'}
// {type:'t', bytes:Uint8Array} {type:'b', bytes:Uint8Array}
export const V = {
  null: () => ({ type: 'n' }),
  int: (v) => ({ type: 'i', v: BigInt(v) }),
  real: (x) => ({ type: 'r', bits: realToBits(x) }),
  realBits: (hex) => ({ type: 'r', bits: hex.toLowerCase().padStart(16, '0') }),
  text: (s) => ({ type: 't', bytes: typeof s === 'string' ? utf8(s) : s }),
  blob: (b) => ({ type: 'b', bytes: b instanceof Uint8Array ? b : Uint8Array.from(b) }),
};

export function encodeValue(v) {
  switch (v.type) {
    case 'n': return 'n';
    case 'i': return 'i:' + v.v.toString();
    case 'r': return 'r:' + v.bits;
    case 't': return 't:' + pctEncode(v.bytes);
    case 'b': return 'b:' + bytesToHex(v.bytes);
  }
  throw new Error('bad value ' + JSON.stringify(v));
}

export function decodeValue(tok) {
  if (tok === 'n') return V.null();
  const p = tok.indexOf(':');
  if (p !== 1) throw new Error(`bad value token: ${tok}`);
  const body = tok.slice(2);
  switch (tok[0]) {
    case 'i': {
      if (!/^-?[0-9]+$/.test(body)) throw new Error(`bad integer token: ${tok}`);
      const v = BigInt(body);
      if (v < INT64_MIN || v > INT64_MAX) throw new Error(`integer out of range: ${tok}`);
      return { type: 'i', v };
    }
    case 'r':
      if (!/^[0-9a-f]{16}$/.test(body)) throw new Error(`bad real token: ${tok}`);
      return { type: 'r', bits: body };
    case 't': return { type: 't', bytes: pctDecode(body) };
    case 'b': return { type: 'b', bytes: hexToBytes(body) };
  }
  throw new Error(`bad value token: ${tok}`);
}

// Splits a scenario line into its first `n` whitespace-separated tokens and
// the rest of the line (trimmed of leading whitespace).
export function splitTokens(line, n) {
  const toks = [];
  let i = 0;
  while (toks.length < n) {
    while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i >= line.length) break;
    let j = i;
    while (j < line.length && line[j] !== ' ' && line[j] !== '\t') j++;
    toks.push(line.slice(i, j));
    i = j;
  }
  while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
  return { toks, rest: line.slice(i) };
}

// Parses a scenario into commands: {line (1-based), op, ...}. See README.md.
export function parseScenario(text, firstLine = 1) {
  const cmds = [];
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const raw = lines[ln].replace(/\r$/, '');
    const line = raw.trim();
    const lineNo = ln + firstLine;
    if (line === '' || line.startsWith('#')) continue;
    const { toks: [op] } = splitTokens(line, 1);
    const fail = (msg) => { throw new Error(`scenario line ${lineNo}: ${msg}: ${line}`); };
    const int = (s) => { if (!/^[0-9]+$/.test(s ?? '')) fail(`expected a number, got ${s}`); return Number(s); };
    switch (op) {
      case 'device': {
        const { toks } = splitTokens(line, 3);
        if (toks.length !== 3 || !/^[0-9a-f]{32}$/.test(toks[2])) fail('expected: device <n> <32 hex site id>');
        cmds.push({ line: lineNo, op, dev: int(toks[1]), site: toks[2] });
        break;
      }
      case 'schema': {
        const { rest } = splitTokens(line, 1);
        cmds.push({ line: lineNo, op, sql: rest });
        break;
      }
      case 'table': {
        const toks = line.split(/\s+/);
        if (toks.length < 3) fail('expected: table <name> <pk column>...');
        cmds.push({ line: lineNo, op, name: toks[1], pks: toks.slice(2) });
        break;
      }
      case 'exec': {
        const { toks } = splitTokens(line, 3);
        const nargs = int(toks[2]);
        const { toks: all, rest } = splitTokens(line, 3 + nargs);
        if (all.length !== 3 + nargs || rest === '') fail('expected: exec <dev> <nargs> <args> <sql>');
        cmds.push({ line: lineNo, op, dev: int(toks[1]), args: all.slice(3).map(decodeValue), sql: rest });
        break;
      }
      case 'query': {
        const { toks } = splitTokens(line, 3);
        const nargs = int(toks[2]);
        const { toks: all, rest } = splitTokens(line, 3 + nargs);
        if (all.length !== 3 + nargs || rest === '') fail('expected: query <dev> <nargs> <args> <sql>');
        cmds.push({ line: lineNo, op, dev: int(toks[1]), args: all.slice(3).map(decodeValue), sql: rest });
        break;
      }
      case 'sync': {
        const toks = line.split(/\s+/);
        if (toks[3] === 'range' && toks.length === 6) {
          cmds.push({ line: lineNo, op, from: int(toks[1]), to: int(toks[2]), mode: 'range', lo: BigInt(int(toks[4])), hi: BigInt(int(toks[5])) });
          break;
        }
        if (toks.length !== 4 || (toks[3] !== 'full' && toks[3] !== 'incr')) fail('expected: sync <from> <to> full|incr|range <lo> <hi>');
        cmds.push({ line: lineNo, op, from: int(toks[1]), to: int(toks[2]), mode: toks[3] });
        break;
      }
      case 'dump': case 'reopen': {
        const toks = line.split(/\s+/);
        if (toks.length !== 2) fail(`expected: ${op} <dev>`);
        cmds.push({ line: lineNo, op, dev: int(toks[1]) });
        break;
      }
      case 'txbegin': case 'txend': {
        const toks = line.split(/\s+/);
        if (toks.length !== 2) fail(`expected: ${op} <dev>`);
        cmds.push({ line: lineNo, op, dev: int(toks[1]) });
        break;
      }
      case 'check': case 'changes': case 'pks': case 'clocks':
        cmds.push({ line: lineNo, op });
        break;
      case 'pack': {
        const { toks } = splitTokens(line, 2);
        const nargs = int(toks[1]);
        const { toks: all, rest } = splitTokens(line, 2 + nargs);
        if (all.length !== 2 + nargs || rest !== '') fail('expected: pack <nargs> <args>');
        cmds.push({ line: lineNo, op, args: all.slice(2).map(decodeValue) });
        break;
      }
      case 'merge': {
        const toks = line.split(/\s+/);
        if (toks.length !== 11) fail('expected: merge <dev> <table> <pk> <cid> <val> <col_version> <db_version> <site_id> <cl> <seq>');
        cmds.push({ line: lineNo, op, dev: int(toks[1]), row: toks.slice(2).map(decodeValue) });
        break;
      }
      default:
        fail(`unknown command ${op}`);
    }
  }
  return cmds;
}
