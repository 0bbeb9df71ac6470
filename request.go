package allspark

import "net/http"

// handshakeOnly are request headers that served the WebSocket upgrade and mean
// nothing afterwards; a spark does not keep them (see Spark.Request).
var handshakeOnly = [...]string{"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions"}

// retainRequest returns the copy of the upgrade request a spark keeps for its
// lifetime: what Spark.Request documents, nothing that only served the
// upgrade. The headers are copied into one compact map so the original
// request, its parsing scratch and whatever middleware hung on it can be
// collected.
func retainRequest(r *http.Request) *http.Request {
	c := new(http.Request)
	*c = *r // keeps the unexported context and path values
	c.Body = http.NoBody
	c.GetBody = nil
	c.ContentLength = 0
	c.TransferEncoding = nil
	c.Form, c.PostForm, c.MultipartForm = nil, nil, nil
	c.Trailer = nil
	c.Response = nil
	h := r.Header.Clone()
	for _, k := range handshakeOnly {
		delete(h, k)
	}
	c.Header = h
	return c
}
