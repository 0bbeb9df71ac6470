// Package directupgrade reads WebSocket upgrade requests straight off
// accepted connections, without net/http's per-connection machinery.
//
// net/http gives every connection a conn struct, a 4 KiB bufio.Reader and,
// on Hijack, a fresh 4 KiB bufio.Writer; a hijacked connection returns
// none of them to net/http's pools. For a server that holds tens of
// thousands of WebSockets that is ~10 KB of garbage per connect, which sets
// how far the heap grows past its live size while connections arrive
// (docs/benchmarks.md, "Idle memory"). A Listener wraps the net.Listener an
// http.Server serves: for each accepted TCP connection it reads the request
// head into a pooled buffer and, when the head is a WebSocket upgrade its
// Takes function accepts, parses it (http.ReadRequest on those bytes) and
// runs the handler on the connection itself, with a ResponseWriter whose
// Hijack hands over the raw *net.TCPConn — so the WebSocket engine can poll
// its descriptor. Everything else is returned by Accept to the http.Server,
// with the bytes read so far replayed in front of the connection: anything
// unusual (another method, a head over MaxHeadBytes, a head that does not
// arrive within HeadTimeout, TLS, a parse error) is served by net/http
// exactly as before.
//
// A handler served directly sees a request whose context is
// context.Background: no http.ServerContextKey (there is no http.Server)
// nor http.LocalAddrContextKey (setting a context copies the request, and
// a spark keeps its request context for its lifetime), and it is not
// cancelled when the client goes away; a response it
// writes instead of hijacking is sent with "Connection: close" and the
// connection is closed after it.
package directupgrade
