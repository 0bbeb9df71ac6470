package app

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/allspark/allspark"
)

// The demo's "history" request: the state of a room the page reloads when
// its session came back without what it missed (the JS client's
// "unrecovered" event: the server restarted on a memory broker, the room's
// stream was lost, or more was missed than the history keeps), so the page
// shows the room as it is instead of silently lacking messages.

// demoHistoryLimit is how many of a room's last messages the page reloads.
const demoHistoryLimit = 100

// RoomHistory answers history: the room's users on every node, its last
// chat lines (oldest first) and its position after them. History is false
// when the room keeps none (the server runs with --history that does not
// cover it): the page then only refreshes the members.
type RoomHistory struct {
	RoomState
	History  bool      `json:"history"`
	Messages []Message `json:"messages"`
	Offset   uint64    `json:"offset"`
	Epoch    string    `json:"epoch"`
}

// roomHistory reads the room's last demoHistoryLimit messages: the top
// position first, then the entries just below it. Entries that are not
// chat lines (typing events, plain API writes) are left out.
func (a *App) roomHistory(ctx context.Context, room string) (RoomHistory, error) {
	out := RoomHistory{RoomState: a.roomState(ctx, room), Messages: []Message{}}
	_, top, err := a.srv.History(ctx, room, allspark.HistoryQuery{Limit: 1})
	if errors.Is(err, allspark.ErrNoHistory) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	q := allspark.HistoryQuery{Limit: demoHistoryLimit}
	if top.Offset > demoHistoryLimit {
		q.After = top.Offset - demoHistoryLimit
	}
	msgs, top, err := a.srv.History(ctx, room, q)
	if err != nil {
		return out, err
	}
	out.History, out.Offset, out.Epoch = true, top.Offset, top.Epoch
	for _, m := range msgs {
		if line, ok := chatLine(m.Data, room); ok {
			out.Messages = append(out.Messages, line)
		}
	}
	return out, nil
}

// chatLine recognizes a stored "message" event of room: the demo's own
// (Message) or one published by the HTTP API with the same fields.
func chatLine(data any, room string) (Message, bool) {
	ev, ok := data.(*allspark.Event)
	if !ok || ev.Name != "message" || len(ev.Args) != 1 {
		return Message{}, false
	}
	raw, err := json.Marshal(ev.Args[0])
	if err != nil {
		return Message{}, false
	}
	var m Message
	if json.Unmarshal(raw, &m) != nil || m.Room != room || m.Text == "" {
		return Message{}, false
	}
	return m, true
}
