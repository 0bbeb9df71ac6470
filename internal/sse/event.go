package sse

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// Field names of the event stream format (WHATWG HTML §9.2.5). A field is
// one line: name, a colon, a space, the value, LF. The client strips one
// space after the colon, so a value that starts with a space keeps it.
const (
	fieldID    = "id: "
	fieldEvent = "event: "
	fieldData  = "data: "
	fieldRetry = "retry: "
)

// PreludeSize is the length of the padding comment a stream starts with:
// 2 KiB, as SockJS pads its streaming transports, for proxies and old
// browser polyfills that hold back the first bytes of a response.
const PreludeSize = 2048

// AppendEvent appends one event: an "event:" field when name is not empty
// (an empty name is the default type, "message"), then data as "data:"
// fields, then the blank line that dispatches it. The id field, when the
// event has one, is written before it by the caller (the order of fields
// in an event does not matter to the client).
//
// data is split into lines at CRLF, CR and LF, one data field each, as the
// client splits its input, so a payload with line breaks arrives whole:
// the client joins the lines with LF, which is how every line break of the
// payload is reported (a CR or CRLF arrives as LF). name must be a valid
// event name (ValidName); the caller checks it.
func AppendEvent(dst []byte, name string, data []byte) []byte {
	if name != "" {
		dst = append(dst, fieldEvent...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	dst = AppendData(dst, data)
	return append(dst, '\n')
}

// AppendData appends data as one "data:" field per line (see AppendEvent).
// An empty data is one empty field: the event is still dispatched, with
// the empty string as its data.
func AppendData(dst []byte, data []byte) []byte {
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			dst = append(dst, fieldData...)
			dst = append(dst, data...)
			return append(dst, '\n')
		}
		dst = append(dst, fieldData...)
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
}

// AppendID appends an "id:" field. id must be a valid id (ValidID).
func AppendID(dst []byte, id string) []byte {
	dst = append(dst, fieldID...)
	dst = append(dst, id...)
	return append(dst, '\n')
}

// AppendRetry appends a "retry:" field: the client waits d, in whole
// milliseconds, before it reconnects after the stream ends.
func AppendRetry(dst []byte, d time.Duration) []byte {
	dst = append(dst, fieldRetry...)
	dst = strconv.AppendInt(dst, d.Milliseconds(), 10)
	return append(dst, '\n')
}

// AppendComment appends a comment line: a colon, then text. The client
// ignores it; a stream sends one as a heartbeat, so proxies and the client
// see traffic on an idle stream. text must not hold CR or LF.
func AppendComment(dst []byte, text string) []byte {
	dst = append(dst, ':')
	dst = append(dst, text...)
	return append(dst, '\n')
}

// AppendPrelude appends the stream's opening bytes: a comment of
// PreludeSize spaces.
func AppendPrelude(dst []byte) []byte {
	dst = append(dst, ':')
	for range PreludeSize {
		dst = append(dst, ' ')
	}
	return append(dst, '\n')
}

// ValidName reports whether name can be an "event:" field: a line break
// would end the field early, and the rest would be read as another field.
func ValidName(name string) bool { return !strings.ContainsAny(name, "\r\n") }

// ValidID reports whether id can be an "id:" field: no line break, and no
// NUL, since the client ignores an id field holding one.
func ValidID(id string) bool { return !strings.ContainsAny(id, "\r\n\x00") }
