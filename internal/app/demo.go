package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/allspark/allspark"
)

// The chat demo: a page at / (demo/index.html, demo/style.css and
// demo/chat.ts bundled to demo/dist/chat.js) using the client library the
// server serves at <pathname>/primus.js, and the server side below. It is a
// small real app on the public API: rooms, named events and acks.
//
// Client → server events (all acknowledged):
//
//	join    {room}        → {room, members}   joins; members are the room's users on every
//	                                          node; too_many_rooms past Options.MaxRoomsPerSpark
//	leave   {room}        → (no args)         leaves
//	message {room, text}  → Message           the others in the room get "message"
//	typing  {room, typing} → (no args)        the others get "typing" {room, id, name, typing}
//	history {room}        → RoomHistory       members and last messages, to reload (demo_history.go)
//
// The user's name comes from the connection's query (?name=…) and is the
// spark's User. With recovery (--recovery, the default) a reconnecting page
// gets its spark back, rooms included, and the messages of its rooms it
// missed (the demo's rooms keep history, --history): it joins nothing
// again. When the session is new (expired, or recovery off) the page joins
// its rooms again; when what was missed cannot be replayed it reloads each
// room with history. The page learns whether the server keeps sessions
// from the page's "recovery" meta tag (loadAsset). The rooms of the main namespace are tracked by
// presence (demoPresence): every member, on any node, gets the server's
// presence_diff event (allspark.PresenceEvent) for each join and leave, and
// the page keeps its member list, one entry per user, from them.
// Opened as /?client=socketio the page speaks Socket.IO with the stock
// socket.io-client instead: the same events and acks, the same rooms.

//go:generate go tool esbuild demo/chat.ts --bundle --format=iife --target=es2020 --legal-comments=none --outfile=demo/dist/chat.js

//go:embed demo/index.html demo/style.css demo/dist/chat.js demo/vendor/socket.io.min.js
var demoFiles embed.FS

// socketIOClient is the stock socket.io-client browser bundle, vendored
// byte for byte from npm (demo/vendor/README.md says how it is pinned);
// the page loads it from socketIOClientRoute when opened as
// /?client=socketio, and then chats over Socket.IO in the same rooms.
const (
	socketIOClient      = "demo/vendor/socket.io.min.js"
	socketIOClientRoute = "/demo/vendor/socket.io.min.js"
)

// Limits of the demo's inputs.
const (
	maxNameRunes    = 32
	maxDemoRoomLen  = 40
	maxMessageRunes = 2000
)

// demoPresence is the demo's presence tracking: every room of the main
// namespace (where the chat's Primus and Socket.IO pages meet).
func demoPresence() allspark.PresenceOptions {
	return allspark.PresenceOptions{Track: func(ns, _ string) bool { return ns == allspark.MainNamespace }}
}

// cleanName trims a user-chosen name and cuts it to maxNameRunes; control
// characters are removed so names cannot break log lines or the layout.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if utf8.RuneCountInString(s) > maxNameRunes {
		s = string([]rune(s)[:maxNameRunes])
	}
	return strings.TrimSpace(s)
}

func sortMembers(m []Member) {
	slices.SortFunc(m, func(a, b Member) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// RoomIn names a room in join, leave and typing.
type RoomIn struct {
	Room   string `json:"room"`
	Typing bool   `json:"typing,omitempty"` // typing only
}

// Validate makes a bad room name an invalid_argument answer.
func (in RoomIn) Validate() error {
	if in.Room == "" || len(in.Room) > maxDemoRoomLen || strings.ContainsFunc(in.Room, func(r rune) bool { return r < 0x20 }) {
		return fmt.Errorf("room: 1 to %d bytes, no control characters", maxDemoRoomLen)
	}
	return nil
}

// MessageIn is the argument of the message event.
type MessageIn struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// Validate rejects empty and oversized messages.
func (in MessageIn) Validate() error {
	if err := (RoomIn{Room: in.Room}).Validate(); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(in.Text)); n == 0 || n > maxMessageRunes {
		return fmt.Errorf("text: 1 to %d characters", maxMessageRunes)
	}
	return nil
}

// Message is a chat line as members receive it.
type Message struct {
	// ID is unique per line, so a page that reloads a room's history while
	// live lines arrive shows each once.
	ID   string `json:"id,omitempty"`
	Room string `json:"room"`
	From string `json:"from"` // spark id
	Name string `json:"name"`
	Text string `json:"text"`
	TS   int64  `json:"ts"` // Unix milliseconds, server time
}

// RoomState answers join: the room's users on every node.
type RoomState struct {
	Room    string   `json:"room"`
	Members []Member `json:"members"`
}

// Typing is the typing event's argument.
type Typing struct {
	Room   string `json:"room"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	Typing bool   `json:"typing"`
}

// newMessageID is 12 random bytes, base64url.
func newMessageID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// demoError is an application error code sent in an ack error.
func demoError(code, format string, a ...any) error {
	return &allspark.EventError{Code: code, Message: fmt.Sprintf(format, a...)}
}

// roomState lists the room's users on every node, one member per user (its
// first spark's id). A node that does not answer leaves its users out; the
// page's presence events fill them in as they change.
func (a *App) roomState(ctx context.Context, room string) RoomState {
	st := RoomState{Room: room, Members: []Member{}}
	entries, err := a.srv.Presence(ctx, room)
	if err != nil {
		a.log.Warn("presence", "room", room, "err", err)
	}
	seen := make(map[string]bool)
	for _, e := range entries {
		if e.User != "" && !seen[e.User] {
			seen[e.User] = true
			st.Members = append(st.Members, Member{ID: e.SparkID, Name: e.User})
		}
	}
	sortMembers(st.Members)
	return st
}

// typingTarget is who gets sp's typing event in room: the room's other
// members, false when there is none. A room that keeps history would store
// every typing event and replay it after a reconnect, crowding out the
// chat lines its history is for, so the event goes to the members by spark
// id instead (presence knows them on every node); other rooms get it as a
// room write.
func (a *App) typingTarget(ctx context.Context, sp *allspark.Spark, room string) (allspark.Target, bool) {
	if !a.keepsHistory(room) {
		return a.srv.Room(room).Except(sp.ID()), true
	}
	entries, err := a.srv.Presence(ctx, room)
	if err != nil {
		a.log.Debug("typing: presence", "room", room, "err", err)
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.SparkID != sp.ID() {
			ids = append(ids, e.SparkID)
		}
	}
	return a.srv.To(ids...), len(ids) > 0
}

// keepsHistory reports whether the server's history rules give room a
// history, as the server decides it: the first rule whose pattern matches.
func (a *App) keepsHistory(room string) bool {
	for _, r := range a.srv.Options().History.Rooms {
		if ok, _ := path.Match(r.Pattern, room); ok {
			return r.Size > 0 && r.TTL > 0
		}
	}
	return false
}

// installDemo registers the chat's server side.
func (a *App) installDemo() error {
	s := a.srv
	s.OnRestore(func(_ context.Context, sp *allspark.Spark) error {
		// What the end-to-end test reads to see the server restored the
		// spark rather than the page joining again.
		a.log.Debug("demo session restored", "spark", sp.ID(), "rooms", sp.Rooms(), "recovered", sp.Recovered(), "reason", sp.RecoveryReason())
		return nil
	})
	s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if n := cleanName(sp.Query().Get("name")); n != "" {
			sp.SetUser(n) // what presence counts by, and other nodes see
		}
		return nil
	})

	named := func(sp *allspark.Spark) (string, error) {
		n := sp.User()
		if n == "" {
			return "", demoError("no_name", "connect with ?name=<your name> to chat")
		}
		return n, nil
	}
	member := func(sp *allspark.Spark, room string) error {
		if !slices.Contains(sp.Rooms(), room) {
			return demoError("not_member", "join %q first", room)
		}
		return nil
	}
	handlers := map[string]allspark.EventHandler{
		"join": allspark.Handle(func(ctx context.Context, sp *allspark.Spark, in RoomIn) (RoomState, error) {
			if _, err := named(sp); err != nil {
				return RoomState{}, err
			}
			a.log.Debug("demo join", "spark", sp.ID(), "room", in.Room)
			if err := sp.Join(in.Room); err != nil {
				if errors.Is(err, allspark.ErrTooManyRooms) {
					// Room membership is server memory a client spends:
					// say why, with a code the page can act on.
					return RoomState{}, demoError("too_many_rooms", "in too many rooms (at most %d): leave one first",
						a.srv.Options().MaxRoomsPerSpark)
				}
				return RoomState{}, err
			}
			return a.roomState(ctx, in.Room), nil
		}),
		"leave": allspark.Handle(func(_ context.Context, sp *allspark.Spark, in RoomIn) (struct{}, error) {
			return struct{}{}, sp.Leave(in.Room)
		}),
		"message": allspark.Handle(func(_ context.Context, sp *allspark.Spark, in MessageIn) (Message, error) {
			name, err := named(sp)
			if err != nil {
				return Message{}, err
			}
			if err := member(sp, in.Room); err != nil {
				return Message{}, err
			}
			m := Message{ID: newMessageID(), Room: in.Room, From: sp.ID(), Name: name, Text: strings.TrimSpace(in.Text), TS: time.Now().UnixMilli()}
			if _, err := s.Room(in.Room).Except(sp.ID()).Emit("message", m); err != nil {
				return Message{}, err
			}
			return m, nil
		}),
		"history": allspark.Handle(func(ctx context.Context, sp *allspark.Spark, in RoomIn) (RoomHistory, error) {
			if err := member(sp, in.Room); err != nil {
				return RoomHistory{}, err
			}
			return a.roomHistory(ctx, in.Room)
		}),
		"typing": allspark.Handle(func(ctx context.Context, sp *allspark.Spark, in RoomIn) (struct{}, error) {
			name, err := named(sp)
			if err != nil {
				return struct{}{}, err
			}
			if err := member(sp, in.Room); err != nil {
				return struct{}{}, err
			}
			if t, ok := a.typingTarget(ctx, sp, in.Room); ok {
				_, err = t.Emit("typing", Typing{Room: in.Room, ID: sp.ID(), Name: name, Typing: in.Typing})
			}
			return struct{}{}, err
		}),
	}
	for name, h := range handlers {
		if err := s.On(name, h); err != nil {
			return err
		}
	}
	return nil
}

// asset is one embedded demo file with its validator.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// loadAsset reads an embedded file; the page's reference to the client
// library follows the configured pathname, and its Socket.IO path the
// configured one.
func loadAsset(name, contentType string, opts allspark.Options) (asset, error) {
	b, err := demoFiles.ReadFile(name)
	if err != nil {
		return asset{}, err
	}
	if strings.HasSuffix(name, ".html") {
		b = bytes.ReplaceAll(b, []byte(allspark.DefaultPathname+"/primus.js"), []byte(html.EscapeString(opts.Pathname)+"/primus.js"))
		b = bytes.ReplaceAll(b, []byte(`name="socketio-path" content="`+allspark.DefaultSocketIOPath+`"`),
			[]byte(`name="socketio-path" content="`+html.EscapeString(opts.SocketIO.Path)+`"`))
		if opts.Recovery.Disabled {
			b = bytes.ReplaceAll(b, []byte(`name="recovery" content="on"`), []byte(`name="recovery" content="off"`))
		}
	}
	sum := sha256.Sum256(b)
	return asset{body: b, contentType: contentType, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}, nil
}

func (as asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", as.contentType)
	h.Set("Cache-Control", "no-cache") // revalidate: the ETag makes that cheap
	h.Set("ETag", as.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == as.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(as.body)
}

// demoRoutes serves the page and registers the chat's event handlers.
func (a *App) demoRoutes() error {
	files := []struct{ route, name, typ string }{
		{"/{$}", "demo/index.html", "text/html; charset=utf-8"},
		{"/demo/style.css", "demo/style.css", "text/css; charset=utf-8"},
		{"/demo/chat.js", "demo/dist/chat.js", "text/javascript; charset=utf-8"},
		{socketIOClientRoute, socketIOClient, "text/javascript; charset=utf-8"},
	}
	for _, f := range files {
		as, err := loadAsset(f.name, f.typ, a.srv.Options())
		if err != nil {
			return fmt.Errorf("demo asset %s: %w", f.name, err) // a build defect
		}
		a.mux.Handle(f.route, as)
	}
	return a.installDemo()
}
