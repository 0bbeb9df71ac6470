// Package channels is the publish layer of Feathers-style real-time apps,
// built on Allspark rooms: connections sit in named channels according to who
// they are, and the application says, per event, which channels an event
// goes to.
//
// The life of a connection:
//
//	connect            → "anonymous"
//	Login(user, roles) → leaves "anonymous"; joins "authenticated",
//	                     "user/<id>" and "role/<r>" for each role
//	Logout             → back to "anonymous"
//
// Applications add their own channels with Spark.Join (for example
// "room/<id>" when a user opens a chat room).
//
// Publishing: Publish(ctx, event, data) asks the publisher registered for
// the event, else the global one, which channels should receive it, and emits
// the event to their union (each connection once, encoded once, on every node
// of the cluster). The default global publisher routes by the data's fields:
// "userId" → user/<id>, else "projectId" → project/<id>, else
// "authenticated". A per-event publisher overrides it, as the seed app does
// for chat messages: "roomId" → room/<id>.
package channels
