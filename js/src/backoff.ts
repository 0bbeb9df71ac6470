// Primus's randomized exponential back-off: attempt 1 waits exactly min;
// attempt n waits min(round((rand+1)·min·factor^(n−1)), max).
export interface ReconnectOptions {
  min: number;
  max: number;
  retries: number;
  factor: number;
  'reconnect timeout': number;
}

export const defaultReconnect: ReconnectOptions = {
  min: 500,
  max: Infinity,
  retries: 10,
  factor: 2,
  'reconnect timeout': 30000,
};

export function backoffDelay(attempt: number, o: ReconnectOptions, rand: () => number = Math.random): number {
  if (attempt <= 1) return o.min;
  return Math.min(Math.round((rand() + 1) * o.min * Math.pow(o.factor, attempt - 1)), o.max);
}
