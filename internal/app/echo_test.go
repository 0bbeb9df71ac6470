package app

import (
	"testing"
	"time"
)

func TestEchoModeEchoes(t *testing.T) {
	ta := startApp(t, Config{Echo: true})
	c := ta.dialRaw(t, "")
	c.send(`{"a":[1,"x",null]}`)
	c.expect(`{"a":[1,"x",null]}`)
	// Objects that only look like a publish request are echoed.
	for _, m := range []string{`{"publish":"r"}`, `{"data":1,"publish":"r","x":2}`, `{"data":1,"publish":7}`, `{"data":1,"publish":""}`} {
		c.send(m)
		c.expect(m)
	}
}

func TestEchoModeRoomPublish(t *testing.T) {
	ta := startApp(t, Config{Echo: true})
	a := ta.dialRaw(t, "room=bench").ready()
	b := ta.dialRaw(t, "room=bench").ready()
	other := ta.dialRaw(t, "room=elsewhere").ready()
	sender := ta.dialRaw(t, "").ready()
	if n := ta.Server().Room("bench").Len(); n != 2 {
		t.Fatalf("room bench has %d members, want 2", n)
	}
	sender.send(`{"publish":"bench","data":{"seq":1}}`)
	a.expect(`{"seq":1}`)
	b.expect(`{"seq":1}`)
	// Not echoed to a sender outside the room; other rooms hear nothing.
	sender.quiet(50 * time.Millisecond)
	other.quiet(0)
	// A member publishing gets its own message as a member.
	a.send(`{"publish":"bench","data":"mine"}`)
	a.expect(`"mine"`)
	b.expect(`"mine"`)
}

func TestEchoModeRefusesBadRoom(t *testing.T) {
	ta := startApp(t, Config{Echo: true})
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'x'
	}
	c := ta.dialRaw(t, "room="+string(long))
	c.expect(`"primus::server::close"`) // ended: the client must not retry
	select {
	case <-c.closed:
	case <-time.After(waitLong):
		t.Fatal("connection with an invalid room stayed open")
	}
	for deadline := time.Now().Add(waitLong); ta.Server().Len() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("spark still registered")
		}
	}
}
