package app

import (
	"context"

	"github.com/allspark/allspark"
)

// installEcho is --echo, the mode the conformance suite and the benchmark
// harness drive:
//
//   - every data message is written back to its sender;
//   - a connection opened with ?room=NAME joins NAME (an invalid name, empty
//     or over 256 bytes, ends the connection with "primus::server::close");
//   - a data message {"publish": NAME, "data": X} is written to every member
//     of room NAME (the sender too, if a member) with srv.Room(NAME).Write(X),
//     encoded once, instead of being echoed. An object with other keys, or
//     whose "publish" is not a string, is echoed like any other message.
func (a *App) installEcho() {
	a.srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if room := sp.Query().Get("room"); room != "" {
			if err := sp.Join(room); err != nil {
				return err
			}
		}
		sp.OnData(func(data any) {
			if room, payload, ok := publishRequest(data); ok {
				if _, err := a.srv.Room(room).Write(payload); err != nil {
					a.log.Debug("echo publish", "room", room, "err", err)
				}
				return
			}
			_ = sp.Write(data)
		})
		return nil
	})
}

// publishRequest recognises {"publish": NAME, "data": X} exactly.
func publishRequest(data any) (room string, payload any, ok bool) {
	m, isMap := data.(map[string]any)
	if !isMap || len(m) != 2 {
		return "", nil, false
	}
	room, ok = m["publish"].(string)
	if !ok || room == "" {
		return "", nil, false
	}
	payload, ok = m["data"]
	return room, payload, ok
}
