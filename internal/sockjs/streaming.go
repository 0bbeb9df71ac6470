package sockjs

import (
	"io"
	"net/http"
	"strings"
)

// The streaming receivers (xhr_streaming, eventsource, htmlfile) keep one
// response open and write frame after frame into it until the response
// limit, when the response ends and the client opens the next one: a
// browser's XHR keeps a streamed response's whole text in memory, so an
// endless stream would grow it without bound. Their preludes defeat the
// buffering of old browsers and proxies: 2 KiB of "h" for xhr_streaming,
// "\r\n" for EventSource (Opera), a padded HTML head over 1 KiB for
// htmlfile (Internet Explorer).

// h64 is a 64th of the xhr_streaming prelude.
const h64 = "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"

// writePrelude writes the xhr_streaming prelude: 2048 × "h", then "\n".
func writePrelude(w io.Writer) {
	for range 2048 / len(h64) {
		_, _ = io.WriteString(w, h64)
	}
	_, _ = io.WriteString(w, "\n")
}

// htmlfileTemplate is the htmlfile response's head; {{ callback }} is the
// client's callback name, a function of the parent page.
const htmlfileTemplate = "<!doctype html>\n<html><head>\n" +
	"  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n" +
	"  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n" +
	"</head><body><h2>Don't panic!</h2>\n" +
	"  <script>\n" +
	"    document.domain = document.domain;\n" +
	"    var c = parent.{{ callback }};\n" +
	"    c.start();\n" +
	"    function p(d) {c.message(d);};\n" +
	"    window.onload = function() {c.stop();};\n" +
	"  </script>"

// htmlfileHead is the template for callback, padded with spaces as the
// reference pads it (to 1037 bytes before the callback is put in), then
// "\r\n\r\n".
func htmlfileHead(callback string) []byte {
	pad := 1024 - len(htmlfileTemplate) + 13
	head := strings.ReplaceAll(htmlfileTemplate, "{{ callback }}", callback)
	return []byte(head + strings.Repeat(" ", pad) + "\r\n\r\n")
}

// callbackParam reads the c (or callback) query parameter of htmlfile and
// jsonp, answering 500 as the reference does when it is missing or has a
// character other than letters, digits, '-', '_' and '.' (or, for jsonp,
// is over 32 characters).
func callbackParam(w http.ResponseWriter, r *http.Request, jsonp bool) (string, bool) {
	q := r.URL.Query()
	cb, ok := q["c"]
	if !ok {
		cb, ok = q["callback"]
	}
	if !ok {
		answerText(w, http.StatusInternalServerError, `"callback" parameter required`)
		return "", false
	}
	c := cb[0]
	valid := !(jsonp && len(c) > 32)
	for i := 0; i < len(c) && valid; i++ {
		ch := c[i]
		valid = ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.'
	}
	if !valid {
		answerText(w, http.StatusInternalServerError, `invalid "callback" parameter`)
		return "", false
	}
	return c, true
}
