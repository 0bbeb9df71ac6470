'use strict';
// Command-line flags of the reference servers, in the same spelling as
// cmd/allspark's (Go flag syntax: -name value, --name value, --name=value;
// durations as Go writes them: 100ms, 2s, 1m), so one launcher in helpers.mjs
// can start either server with the same arguments.

const UNITS = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration string ("250ms", "1.5s", "1m30s") into milliseconds. */
function durationMs(text) {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m;
  let at = 0;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * UNITS[m[2]];
    at = re.lastIndex;
  }
  if (text === '0') return 0;
  if (at === 0 || at !== text.length) throw new Error(`bad duration ${JSON.stringify(text)}`);
  return total;
}

/**
 * Parses argv against spec, a map of flag name → 'string' | 'int' | 'bool' |
 * 'duration'; returns { name: value } for the flags given. Unknown flags are an
 * error, as with Go's flag package.
 */
function parse(argv, spec) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !(m[1] in spec)) throw new Error(`unknown flag ${argv[i]}`);
    const type = spec[m[1]];
    let value = m[2];
    if (value === undefined) value = type === 'bool' ? 'true' : argv[++i];
    if (value === undefined) throw new Error(`flag needs a value: ${argv[i - 1]}`);
    if (type === 'int') out[m[1]] = Number.parseInt(value, 10);
    else if (type === 'bool') out[m[1]] = value === 'true' || value === '1';
    else if (type === 'duration') out[m[1]] = durationMs(value);
    else out[m[1]] = value;
  }
  return out;
}

/** Prints LISTEN <addr> once server listens on 127.0.0.1:port; exits when stdin closes (the fixture's contract). */
function listen(server, port = 0) {
  server.listen(port, '127.0.0.1', () => {
    const { address, port: p } = server.address();
    process.stdout.write(`LISTEN ${address}:${p}\n`);
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

module.exports = { parse, durationMs, listen };
