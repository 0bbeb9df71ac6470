package eio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
)

// TestDecodePacket checks text-form decoding against the wire strings of the
// protocol (docs/engine.io-protocol v4) and the reference parser's answers.
func TestDecodePacket(t *testing.T) {
	tests := []struct {
		in      string
		want    Packet
		wantErr error
	}{
		{in: "4hello", want: Packet{Type: Message, Data: []byte("hello")}},
		{in: "4", want: Packet{Type: Message, Data: []byte{}}},
		{in: "0{\"sid\":\"x\"}", want: Packet{Type: Open, Data: []byte(`{"sid":"x"}`)}},
		{in: "1", want: Packet{Type: Close, Data: []byte{}}},
		{in: "2", want: Packet{Type: Ping, Data: []byte{}}},
		{in: "2probe", want: Packet{Type: Ping, Data: []byte("probe")}},
		{in: "3probe", want: Packet{Type: Pong, Data: []byte("probe")}},
		{in: "5", want: Packet{Type: Upgrade, Data: []byte{}}},
		{in: "6", want: Packet{Type: Noop, Data: []byte{}}},
		{in: "bAQIDBA==", want: Packet{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}}},
		{in: "bAQIDBA", want: Packet{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}}},
		{in: "bAQID", want: Packet{Type: Message, Binary: true, Data: []byte{1, 2, 3}}},
		{in: "bAQI=", want: Packet{Type: Message, Binary: true, Data: []byte{1, 2}}},
		{in: "b", want: Packet{Type: Message, Binary: true, Data: []byte{}}},
		{in: "", wantErr: ErrEmptyPacket},
		{in: "7", wantErr: ErrUnknownType},
		{in: "abc", wantErr: ErrUnknownType}, // the protocol doc's invalid POST
		{in: "/", wantErr: ErrUnknownType},   // '0'-1: the unsigned wrap must not make it valid
		{in: "\x00", wantErr: ErrUnknownType},
		{in: "bA", wantErr: ErrBadBase64}, // 1 character of a quantum
		{in: "bAQ==", want: Packet{Type: Message, Binary: true, Data: []byte{1}}},
		{in: "bA===", wantErr: ErrBadBase64}, // padding not at a quantum end
		{in: "b====", wantErr: ErrBadBase64},
		{in: "bAQ=", wantErr: ErrBadBase64},   // padded, length not a multiple of 4
		{in: "bAQ\nI", wantErr: ErrBadBase64}, // whitespace is not accepted
		{in: "bAQ-_", wantErr: ErrBadBase64},  // nor the URL-safe alphabet
		{in: "bAQ=A", wantErr: ErrBadBase64},
	}
	for _, tt := range tests {
		got, err := DecodePacket([]byte(tt.in))
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("DecodePacket(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr == nil && !packetEqual(got, tt.want) {
			t.Errorf("DecodePacket(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func packetEqual(a, b Packet) bool {
	return a.Type == b.Type && a.Binary == b.Binary && bytes.Equal(a.Data, b.Data)
}

// TestBase64AgreesWithStdlib compares the in-place decoder with
// encoding/base64 on every length up to three quanta and every byte value
// in each position, so the hand-written decoder cannot drift from the
// standard one on well-formed input.
func TestBase64AgreesWithStdlib(t *testing.T) {
	for n := 0; n <= 12; n++ {
		for v := 0; v < 256; v++ {
			raw := make([]byte, n)
			for i := range raw {
				raw[i] = byte(v + 37*i)
			}
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
				text := []byte(enc.EncodeToString(raw))
				m, ok := decodeBase64InPlace(text)
				if !ok || !bytes.Equal(text[:m], raw) {
					t.Fatalf("decode(%q) = %x, %v; want %x", enc.EncodeToString(raw), text[:m], ok, raw)
				}
			}
		}
	}
}

// TestDecodePacketAliasesInput checks that decoding copies nothing: Data
// points into the input, for text and for base64 (decoded in place).
func TestDecodePacketAliasesInput(t *testing.T) {
	for _, in := range []string{"4hello", "bAQIDBA=="} {
		src := []byte(in)
		p, err := DecodePacket(src)
		if err != nil {
			t.Fatal(err)
		}
		if &p.Data[0] != &src[1] {
			t.Errorf("%q: Data does not alias the input", in)
		}
		if allocs := testing.AllocsPerRun(100, func() {
			buf := []byte(in) // stack-allocated: small and not escaping
			_, _ = DecodePacket(buf)
		}); allocs != 0 {
			t.Errorf("%q: %v allocations per decode, want 0", in, allocs)
		}
	}
}

func TestAppendPacket(t *testing.T) {
	tests := []struct {
		p    Packet
		want string
	}{
		{Packet{Type: Message, Data: []byte("hello")}, "4hello"},
		{Packet{Type: Ping, Data: []byte("probe")}, "2probe"},
		{Packet{Type: Pong}, "3"},
		{Packet{Type: Noop}, "6"},
		{Packet{Type: Close}, "1"},
		{Packet{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}}, "bAQIDBA=="},
		{Packet{Type: Message, Binary: true}, "b"},
	}
	for _, tt := range tests {
		got, err := AppendPacket([]byte("x"), tt.p)
		if err != nil || string(got) != "x"+tt.want {
			t.Errorf("AppendPacket(%+v) = %q, %v; want %q", tt.p, got, err, "x"+tt.want)
		}
	}
	if got, err := AppendPacket([]byte("x"), Packet{Type: 7}); !errors.Is(err, ErrUnknownType) || string(got) != "x" {
		t.Errorf("AppendPacket(type 7) = %q, %v; want x, ErrUnknownType", got, err)
	}
}

// TestFrames checks the WebSocket mapping: binary messages are raw binary
// frames both ways; everything else is a text frame with the type digit.
func TestFrames(t *testing.T) {
	frame, bin, err := AppendFrame(nil, Packet{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}})
	if err != nil || !bin || !bytes.Equal(frame, []byte{1, 2, 3, 4}) {
		t.Errorf("binary AppendFrame = %x, %v, %v", frame, bin, err)
	}
	frame, bin, err = AppendFrame(nil, Packet{Type: Message, Data: []byte("hello")})
	if err != nil || bin || string(frame) != "4hello" {
		t.Errorf("text AppendFrame = %q, %v, %v", frame, bin, err)
	}
	p, err := DecodeFrame([]byte{1, 2, 3, 4}, true)
	if err != nil || !packetEqual(p, Packet{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}}) {
		t.Errorf("DecodeFrame(binary) = %+v, %v", p, err)
	}
	// A binary frame is never parsed: a leading '4' is data, not a type.
	p, err = DecodeFrame([]byte("4x"), true)
	if err != nil || !p.Binary || string(p.Data) != "4x" {
		t.Errorf("DecodeFrame(binary \"4x\") = %+v, %v", p, err)
	}
	p, err = DecodeFrame([]byte("3probe"), false)
	if err != nil || !packetEqual(p, Packet{Type: Pong, Data: []byte("probe")}) {
		t.Errorf("DecodeFrame(text) = %+v, %v", p, err)
	}
	if _, err = DecodeFrame(nil, false); !errors.Is(err, ErrEmptyPacket) {
		t.Errorf("DecodeFrame(empty text) error = %v, want ErrEmptyPacket", err)
	}
}

func TestAppendOpen(t *testing.T) {
	got := string(AppendOpen(nil, OpenPacket{SID: "lv_VI97HAXpY6yYWAAAC", Upgrades: []string{"websocket"},
		PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000}))
	want := `0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	if got != want {
		t.Errorf("AppendOpen = %s\nwant          %s", got, want)
	}
	got = string(AppendOpen(nil, OpenPacket{SID: "s", PingInterval: 1, PingTimeout: 2, MaxPayload: 3}))
	if want := `0{"sid":"s","upgrades":[],"pingInterval":1,"pingTimeout":2,"maxPayload":3}`; got != want {
		t.Errorf("AppendOpen without upgrades = %s, want %s", got, want)
	}
	// Whatever the strings, the data is valid JSON that reads back the same.
	o := OpenPacket{SID: "q\"\\\n\x01\x1e\u2028é\xff", Upgrades: []string{"a", "b\tc"}, PingInterval: -1}
	var back struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int      `json:"pingInterval"`
	}
	enc := AppendOpen(nil, o)
	if err := json.Unmarshal(enc[1:], &back); err != nil {
		t.Fatalf("AppendOpen wrote invalid JSON %q: %v", enc, err)
	}
	if back.SID != "q\"\\\n\x01\x1e\u2028é\ufffd" || len(back.Upgrades) != 2 || back.Upgrades[1] != "b\tc" || back.PingInterval != -1 {
		t.Errorf("AppendOpen round trip = %+v", back)
	}
	if bytes.IndexByte(enc, Separator) >= 0 {
		t.Errorf("AppendOpen left a raw record separator in %q", enc)
	}
}

// TestHTTPErrors checks the reference server's codes, messages, statuses
// and JSON bodies (engine.io build/server.js errorMessages, abortRequest).
func TestHTTPErrors(t *testing.T) {
	tests := []struct {
		code   ErrorCode
		status int
		body   string
	}{
		{TransportUnknown, 400, `{"code":0,"message":"Transport unknown"}`},
		{SessionIDUnknown, 400, `{"code":1,"message":"Session ID unknown"}`},
		{BadHandshakeMethod, 400, `{"code":2,"message":"Bad handshake method"}`},
		{BadRequest, 400, `{"code":3,"message":"Bad request"}`},
		{Forbidden, 403, `{"code":4,"message":"Forbidden"}`},
		{UnsupportedProtocolVersion, 400, `{"code":5,"message":"Unsupported protocol version"}`},
	}
	for _, tt := range tests {
		e := NewHTTPError(tt.code)
		if e.Status() != tt.status {
			t.Errorf("code %d: status %d, want %d", tt.code, e.Status(), tt.status)
		}
		if got := string(e.AppendJSON(nil)); got != tt.body {
			t.Errorf("code %d: body %s, want %s", tt.code, got, tt.body)
		}
		var err error = e
		if !errors.Is(err, tt.code) {
			t.Errorf("code %d: errors.Is(err, code) is false", tt.code)
		}
		var he *HTTPError
		if !errors.As(err, &he) || he.Code != tt.code {
			t.Errorf("code %d: errors.As failed", tt.code)
		}
	}
	if errors.Is(NewHTTPError(Forbidden), BadRequest) {
		t.Error("a Forbidden error matches BadRequest")
	}
	custom := &HTTPError{Code: Forbidden, Message: `no "thanks"`}
	if got, want := string(custom.AppendJSON(nil)), `{"code":4,"message":"no \"thanks\""}`; got != want {
		t.Errorf("custom message body %s, want %s", got, want)
	}
	if ErrorCode(9).Message() != "" || ErrorCode(9).Error() == "" {
		t.Error("an undefined code needs an empty Message and a non-empty Error")
	}
}
