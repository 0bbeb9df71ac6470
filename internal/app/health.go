package app

import "net/http"

// healthz answers 200 while the process serves HTTP at all: a liveness
// probe that fails only when the process is wedged or gone.
func (a *App) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 between the start of serving and the start of
// shutdown, 503 otherwise, so a load balancer stops sending new clients
// before their connections are closed. It also answers 503 while the
// cluster broker reports itself unhealthy (disconnected, or its
// subscription probe unanswered): this node's clients would miss what
// other nodes publish, so new ones are better sent to a node that has the
// broker. The body names the reason.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !a.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	if err := a.srv.BrokerHealth(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}
