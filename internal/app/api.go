package app

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/internal/events"
)

// The HTTP API lets other services reach connected clients, as Primus's
// omega-supreme plugin does: a backend handles a request and publishes the
// result to a room, a user's sparks or everyone.
//
// Every route needs "Authorization: Bearer <Config.APIToken>". Without a
// configured token the API is disabled (403 on every route), never open.
// Errors are JSON {"error": message, "code": code}:
//
//	403 api_disabled       no token configured
//	401 unauthorized       missing or wrong token (WWW-Authenticate: Bearer)
//	404 not_found          unknown route, room or spark
//	405 method_not_allowed (Allow names the method)
//	413 too_large          body over Config.APIMaxBody, or data over MaxLength
//	400 bad_json, unknown_field, invalid_request, reserved
const (
	codeDisabled     = "api_disabled"
	codeUnauthorized = "unauthorized"
	codeNotFound     = "not_found"
	codeMethod       = "method_not_allowed"
	codeTooLarge     = "too_large"
	codeBadJSON      = "bad_json"
	codeUnknownField = "unknown_field"
	codeInvalid      = "invalid_request"
	codeReserved     = "reserved"
	codeInternal     = "internal"
	codeUnavailable  = "unavailable"
)

// apiError is a failed API request: its status and JSON body.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"error"`
}

func (e *apiError) Error() string { return e.Message }

func errorf(status int, code, format string, a ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

// PublishRequest is the body of POST /api/publish. Exactly one way of
// choosing receivers must be used: Rooms and/or Sparks, or All.
type PublishRequest struct {
	Rooms  []string `json:"rooms,omitempty"`  // members of these rooms (each spark once)
	Sparks []string `json:"sparks,omitempty"` // these spark ids
	All    bool     `json:"all,omitempty"`    // every spark, on every node
	Except []string `json:"except,omitempty"` // spark ids to leave out
	// Event, when set, sends a named event (docs/events.md) whose single
	// argument is Data (none when Data is absent). When empty, Data is
	// written as a plain message, as Spark.Write does.
	Event string          `json:"event,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// PublishResponse answers a successful publish.
type PublishResponse struct {
	Delivered int `json:"delivered"` // sparks the message was queued for
}

// RoomSummary is one entry of GET /api/rooms.
type RoomSummary struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
}

// Member is one entry of GET /api/rooms/{name}.
type Member struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"` // Spark.User (the demo's user name), when set
	Node string `json:"node,omitempty"` // the node it is connected to
}

// maxRoomBytes mirrors the server's room name limit, so a bad name is a
// 400 here rather than an empty result.
const maxRoomBytes = 256

func (a *App) apiRoutes() {
	a.mux.Handle("/api/publish", a.api("publish", http.MethodPost, a.publish))
	a.mux.Handle("/api/rooms", a.api("rooms", http.MethodGet, a.listRooms))
	a.mux.Handle("/api/rooms/{name}", a.api("room", http.MethodGet, a.room))
	a.mux.Handle("/api/rooms/{name}/history", a.api("history", http.MethodGet, a.history))
	a.mux.Handle("/api/sparks/{id}", a.api("spark", http.MethodDelete, a.disconnect))
	a.mux.Handle("/api/", a.api("unknown", "", func(r *http.Request) (any, error) {
		return nil, errorf(http.StatusNotFound, codeNotFound, "no API route %s", r.URL.Path)
	}))
}

// api wraps a route: token check, method check, JSON reply, metrics. The
// route's own function returns the reply value or an *apiError.
func (a *App) api(route, method string, fn func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, reply := a.serveAPI(w, r, method, fn)
		a.metrics.apiRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // replies are read by programs and people, not embedded in HTML
		_ = enc.Encode(reply)
	})
}

func (a *App) serveAPI(w http.ResponseWriter, r *http.Request, method string, fn func(*http.Request) (any, error)) (int, any) {
	if a.cfg.APIToken == "" {
		return http.StatusForbidden, errorf(http.StatusForbidden, codeDisabled,
			"the HTTP API is disabled: start the server with ALLSPARK_API_TOKEN (or --api-token) set")
	}
	if !a.authorized(r) {
		a.metrics.apiAuthFails.Inc()
		challenge := `Bearer realm="allspark"`
		msg := "missing bearer token: send Authorization: Bearer <token>"
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token"`
			msg = "invalid bearer token"
		}
		w.Header().Set("WWW-Authenticate", challenge)
		return http.StatusUnauthorized, errorf(http.StatusUnauthorized, codeUnauthorized, "%s", msg)
	}
	if method != "" && r.Method != method {
		w.Header().Set("Allow", method)
		return http.StatusMethodNotAllowed, errorf(http.StatusMethodNotAllowed, codeMethod,
			"%s %s: use %s", r.Method, r.URL.Path, method)
	}
	reply, err := fn(r)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			a.log.Error("api", "path", r.URL.Path, "err", err)
			ae = errorf(http.StatusInternalServerError, codeInternal, "%v", err)
		}
		return ae.Status, ae
	}
	return http.StatusOK, reply
}

// authorized compares the bearer token in constant time. Hashing both sides
// first makes the comparison independent of the token's length too.
func (a *App) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	want := sha256.Sum256([]byte(a.cfg.APIToken))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// decodePublish reads and checks a publish body: at most limit bytes, one
// JSON object, no unknown fields, no trailing data. The Content-Type is not
// checked: the body must be JSON whatever it says (curl -d sends a form
// type by default, and refusing that helps nobody).
func decodePublish(r *http.Request, limit int64) (PublishRequest, error) {
	var req PublishRequest
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return req, errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "body over %d bytes", limit)
		}
		return req, errorf(http.StatusBadRequest, codeBadJSON, "reading body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return req, errorf(http.StatusBadRequest, codeUnknownField, "unknown field %s (known: rooms, sparks, all, except, event, data)", field)
		}
		if errors.Is(err, io.EOF) {
			return req, errorf(http.StatusBadRequest, codeBadJSON, "empty body: send a JSON object")
		}
		return req, errorf(http.StatusBadRequest, codeBadJSON, "invalid JSON: %v", err)
	}
	if dec.More() {
		return req, errorf(http.StatusBadRequest, codeBadJSON, "data after the JSON object")
	}
	return req, req.validate()
}

// validate checks what the JSON types cannot express.
func (p PublishRequest) validate() error {
	bad := func(format string, a ...any) error { return errorf(http.StatusBadRequest, codeInvalid, format, a...) }
	targeted := len(p.Rooms) > 0 || len(p.Sparks) > 0
	switch {
	case !targeted && !p.All:
		return bad(`no receivers: name "rooms", "sparks", or set "all": true`)
	case targeted && p.All:
		return bad(`"all" cannot be combined with "rooms" or "sparks"`)
	}
	for _, r := range p.Rooms {
		if r == "" || len(r) > maxRoomBytes {
			return bad("room name %q: must be 1 to %d bytes", r, maxRoomBytes)
		}
	}
	for _, lists := range [][]string{p.Sparks, p.Except} {
		for _, id := range lists {
			if id == "" {
				return bad("empty spark id")
			}
		}
	}
	if p.Event == "" {
		if len(p.Data) == 0 {
			return bad(`"data" is required when there is no "event"`)
		}
		return nil
	}
	if !events.ValidName(p.Event) {
		return errorf(http.StatusBadRequest, codeReserved, "event name %q is reserved or invalid (1 to 256 bytes, not a Primus event name)", p.Event)
	}
	return nil
}

func (a *App) publish(r *http.Request) (any, error) {
	req, err := decodePublish(r, a.cfg.APIMaxBody)
	if err != nil {
		return nil, err
	}
	var data any
	if len(req.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(req.Data))
		if a.cfg.Parser == "json" {
			dec.UseNumber() // integers beyond 2^53 pass through exactly
		}
		if err := dec.Decode(&data); err != nil {
			return nil, errorf(http.StatusBadRequest, codeBadJSON, "data: %v", err)
		}
	}
	var t allspark.Target
	if req.All {
		t = a.srv.All()
	} else {
		t = a.srv.Room(req.Rooms...).To(req.Sparks...)
	}
	t = t.Except(req.Except...)
	var n int
	switch {
	case req.Event == "":
		n, err = t.Write(data)
	case len(req.Data) == 0:
		n, err = t.Emit(req.Event)
	default:
		n, err = t.Emit(req.Event, data)
	}
	switch {
	case errors.Is(err, allspark.ErrTooLarge):
		return nil, errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "the encoded message exceeds the server's max-length (%d bytes)", a.cfg.MaxLength)
	case errors.Is(err, allspark.ErrReserved) && req.Event != "":
		return nil, errorf(http.StatusBadRequest, codeReserved, "event name %.40q is reserved or too long", req.Event)
	case errors.Is(err, allspark.ErrReserved):
		return nil, errorf(http.StatusBadRequest, codeReserved, "data is a reserved Primus control string")
	case errors.Is(err, allspark.ErrHistoryTarget):
		return nil, errorf(http.StatusBadRequest, codeInvalid, "a room that keeps history must be published to alone (one room, no sparks)")
	case err != nil && n == 0:
		return nil, err
	case err != nil: // delivered locally, the broker failed: report both
		a.log.Warn("publish partly failed", "delivered", n, "err", err)
	}
	a.metrics.delivered.Add(float64(n))
	a.log.Debug("published", "rooms", req.Rooms, "sparks", len(req.Sparks), "all", req.All, "event", req.Event, "delivered", n)
	return PublishResponse{Delivered: n}, nil
}

// listRooms answers the rooms with members on any node of the cluster.
// When some node did not answer in time the rooms it holds are missing
// from the counts, and missing_nodes names it.
func (a *App) listRooms(r *http.Request) (any, error) {
	rooms, err := a.srv.ClusterRooms(r.Context(), "")
	missing, err := partial(err)
	if err != nil {
		return nil, err
	}
	out := struct {
		Rooms   []RoomSummary `json:"rooms"`
		Missing []string      `json:"missing_nodes,omitempty"`
	}{Rooms: make([]RoomSummary, 0, len(rooms)), Missing: missing}
	for _, rc := range rooms {
		out.Rooms = append(out.Rooms, RoomSummary{Name: rc.Name, Members: rc.Members})
	}
	return out, nil
}

// partial splits a cluster operation's error: the nodes a *PartialError
// names (the result is still worth answering), or any other error.
func partial(err error) ([]string, error) {
	var pe *allspark.PartialError
	if errors.As(err, &pe) {
		return pe.Missing, nil
	}
	return nil, err
}

func (a *App) room(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if name == "" || len(name) > maxRoomBytes {
		return nil, errorf(http.StatusBadRequest, codeInvalid, "room name must be 1 to %d bytes", maxRoomBytes)
	}
	infos, err := a.srv.Room(name).Fetch(r.Context())
	missing, err := partial(err)
	if err != nil {
		return nil, err
	}
	if len(infos) == 0 && len(missing) == 0 {
		return nil, errorf(http.StatusNotFound, codeNotFound, "room %q has no members", name)
	}
	out := struct {
		Name    string   `json:"name"`
		Members []Member `json:"members"`
		Missing []string `json:"missing_nodes,omitempty"`
	}{Name: name, Members: make([]Member, 0, len(infos)), Missing: missing}
	for _, info := range infos {
		out.Members = append(out.Members, Member{ID: info.ID, Name: info.User, Node: info.Node})
	}
	sortMembers(out.Members)
	return out, nil
}

// HistoryResponse answers GET /api/rooms/{name}/history.
type HistoryResponse struct {
	Room     string           `json:"room"`
	Position HistoryPosition  `json:"position"` // the room's current position
	Messages []HistoryMessage `json:"messages"` // after ?after=, oldest first, at most ?limit=
}

// HistoryPosition is a place in a room's stream.
type HistoryPosition struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// HistoryMessage is one stored message: a plain one's data, or a named
// event's name and arguments.
type HistoryMessage struct {
	Offset uint64 `json:"offset"`
	Data   any    `json:"data,omitempty"`
	Event  string `json:"event,omitempty"`
	Args   []any  `json:"args,omitempty"`
}

// maxHistoryLimit bounds one history answer.
const maxHistoryLimit = 1000

// history answers a room's stream: what an application reads before it
// subscribes from the position (docs/recovery.md).
func (a *App) history(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if name == "" || len(name) > maxRoomBytes {
		return nil, errorf(http.StatusBadRequest, codeInvalid, "room name must be 1 to %d bytes", maxRoomBytes)
	}
	q := allspark.HistoryQuery{Limit: 100}
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, codeInvalid, "after must be an offset (a non-negative integer)")
		}
		q.After = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistoryLimit {
			return nil, errorf(http.StatusBadRequest, codeInvalid, "limit must be 1 to %d", maxHistoryLimit)
		}
		q.Limit = n
	}
	msgs, top, err := a.srv.History(r.Context(), name, q)
	if errors.Is(err, allspark.ErrNoHistory) {
		return nil, errorf(http.StatusNotFound, codeNotFound, "room %q keeps no history", name)
	}
	if err != nil {
		return nil, err
	}
	out := HistoryResponse{Room: name, Position: HistoryPosition{top.Offset, top.Epoch}, Messages: make([]HistoryMessage, 0, len(msgs))}
	for _, m := range msgs {
		hm := HistoryMessage{Offset: m.Pos.Offset}
		if ev, ok := m.Data.(*allspark.Event); ok {
			hm.Event, hm.Args = ev.Name, ev.Args
		} else {
			hm.Data = m.Data
		}
		out.Messages = append(out.Messages, hm)
	}
	return out, nil
}

// disconnect ends a spark wherever it is connected.
func (a *App) disconnect(r *http.Request) (any, error) {
	id := r.PathValue("id")
	// "primus::server::close": the client does not come back.
	n, err := a.srv.To(id).Disconnect(r.Context(), false)
	if n == 0 {
		var pe *allspark.PartialError
		if errors.As(err, &pe) {
			return nil, errorf(http.StatusServiceUnavailable, codeUnavailable, "spark %q not found on the nodes that answered; no answer from %s", id, strings.Join(pe.Missing, ", "))
		}
		return nil, errorf(http.StatusNotFound, codeNotFound, "no spark %q is connected", id)
	}
	a.log.Info("spark disconnected by the API", "spark", id)
	return struct {
		Disconnected string `json:"disconnected"`
	}{id}, nil
}

// roomCount is the rooms gauge of /metrics.
func (a *App) roomCount() int { return len(a.srv.RoomNames()) }
