package allspark

import "net/http"

// retainRequest returns the copy of the upgrade request a spark keeps for its
// lifetime: what Spark.Request documents, without what only an HTTP request
// with a body needs (body, parsed forms, trailers). It is a shallow copy: the
// header map is the one net/http parsed, which nobody else touches once the
// connection is hijacked, so keeping it costs nothing extra (a clone was
// measured to cost ~0.7 KB of garbage per connection and saved nothing: the
// headers are what Headers exposes). Every header stays, as Primus's
// spark.headers has them.
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
	return c
}
