export { Primus, Primus as Allspark, AuthorizationError, OPENING, CLOSED, OPEN, defaults } from './client';
export type { Options, Events, Attempt, Strategy, Defaults, WebSocketConstructor } from './client';
export { backoffDelay, defaultReconnect } from './backoff';
export type { ReconnectOptions } from './backoff';
export { Emitter } from './emitter';
