export { Primus, Primus as Allspark, AuthorizationError, OPENING, CLOSED, OPEN, defaults } from './client';
export type { Options, Events, EventNames, ReservedName, Attempt, Strategy, Defaults, WebSocketConstructor, Transport } from './client';
export { EventError, Args, isReserved } from './events';
export type { EventsMap, DefaultEventsMap, ReplyArgs, Handler } from './events';
export { backoffDelay, defaultReconnect } from './backoff';
export type { ReconnectOptions } from './backoff';
export { Emitter } from './emitter';
export type { SessionInfo } from './recovery';
