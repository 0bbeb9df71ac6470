// Primus control messages travel as JSON string literals.
export const PREFIX = 'primus::';

export type Control =
  | { kind: 'ping'; value: string }
  | { kind: 'id'; value: string }
  | { kind: 'server'; value: string };

export function parseControl(data: unknown): Control | null {
  if (typeof data !== 'string' || !data.startsWith(PREFIX)) return null;
  const rest = data.slice(PREFIX.length);
  const sep = rest.indexOf('::');
  if (sep < 0) return null;
  const kind = rest.slice(0, sep);
  const value = rest.slice(sep + 2);
  if (kind === 'ping' || kind === 'id' || kind === 'server') return { kind, value };
  return null;
}

/** encode is JSON.stringify with U+2028/U+2029 escaped, as Primus does. */
export function encode(data: unknown): string {
  return JSON.stringify(data).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
