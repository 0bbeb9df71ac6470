// Package services is a Feathers-style service layer on top of package
// channels: services implemented in Go, each at a path with the methods
// find, get, create, update, patch and remove, called by stock Feathers
// clients over Allspark's wires, with service events published through
// the channel publisher.
//
// Who calls:
//
//   - Feathers v5 (@feathersjs/socketio-client) over Socket.IO:
//     socket.emit(method, path, ...args, cb);
//   - Feathers v4 (@feathersjs/primus-client) over the stock Primus client
//     with primus-emitter: primus.send(method, path, ...args, cb).
//
// Both reach the server as named events (the method's name, the path as
// first argument) and are answered by the ack cb(error, result): error is
// null on success, a Feathers error object {name, message, code,
// className, data, errors} otherwise. The arguments are those of
// Feathers' socket protocol:
//
//	find(path, query)            get(path, id, query)
//	create(path, data, query)    update(path, id, data, query)
//	patch(path, id, data, query) remove(path, id, query)
//
// A service implements the methods it has (Finder, Getter, Creator,
// Updater, Patcher, Remover); the others are answered MethodNotAllowed,
// an unknown path NotFound, too many arguments or a query that is not an
// object BadRequest. A method's error is sent as the *Error it is (see
// NewError), or as GeneralError (500) with its text.
//
// Service events: a successful create, update, patch or remove publishes
// "<path> created" (updated, patched, removed) with the result, once per
// element when the result is a slice, as Feathers does, through
// channels.Channels.Publish: the publisher registered for the event (App.Publish
// for every event of one service), else the global one (by default:
// "userId" → user/<id>, "projectId" → project/<id>, else authenticated; so
// anonymous connections get nothing unless a publisher says so). Clients
// listen with service.on('created', fn).
//
// App registers the six method names as event handlers of the server's
// main namespace: the application must not use them for events of its own.
// Feathers' legacy "<path>::<method>" events and its authentication
// client are not implemented; an "authentication" service whose Create
// calls channels.Login does what a login needs (see the example).
package services
