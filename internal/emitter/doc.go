// Package emitter is the primus-emitter dialect: named events and acks as
// the npm plugin primus-emitter (3.x) puts them inside ordinary Primus
// data, so a stock Primus client with that plugin (and the Feathers v4
// primus-client on top of it) talks to the server's event machinery.
//
// Wire facts (primus-emitter 3.1.1, lib/emitter.js):
//
//   - an event is {"type":0,"data":[<name>,<args>...]} and, when the
//     sender passed a callback as last argument, "id":<n> with n counted
//     from 1 per connection side;
//   - the reply to event n is {"type":1,"id":<n>,"data":[<args>...]}: the
//     callback's arguments. There is no error packet: a failure is
//     whatever the arguments say (Feathers sends cb(error, result));
//   - a receiver ignores a packet whose data is not an array or whose id
//     is set but not a number, and an ack whose id it did not ask for.
//
// The package reads those packets into the server's event envelopes
// (packet.go: Parse) so handlers, acks, transforms and the inbound bounds
// see one shape whatever the client speaks, and frames the server's
// canonical encoding of an envelope back into a packet (protocol.go: the
// transport.Protocol in Slot, once per broadcast for every receiver that
// speaks the dialect). Plain data is never touched: it is the same Primus
// data in both dialects.
//
// Which sparks speak the dialect, and what happens on ambiguity (plain
// data shaped like a packet), is the root package's business:
// docs/events.md, "primus-emitter".
package emitter
