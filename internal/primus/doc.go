// Package primus holds the Primus control messages that server and client
// exchange as ordinary data: JSON string literals such as "primus::ping::<ms>".
//
// Both sides decode a message with their parser first and then ask Parse
// whether the decoded value is a control message. Only the server and the Go
// client import this package; the wire facts live here once.
package primus
