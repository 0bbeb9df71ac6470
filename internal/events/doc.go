// Package events reads and builds the envelopes that carry named events and
// acknowledgements as ordinary Primus data (docs/events.md). The server and
// the Go client share it, so both ends agree on one definition of the wire
// format, its limits and its reserved names.
package events
