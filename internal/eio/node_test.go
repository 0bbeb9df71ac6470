package eio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// nodeScript encodes the payloads it reads from stdin with the reference
// parser (binary data arrives as base64 and is passed as a Buffer) and
// decodes the Go encodings it is given, printing both as JSON.
const nodeScript = `
const parser = require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map((c) => {
  const packets = c.packets.map((p) => ({ type: p.type, data: p.bin ? Buffer.from(p.data, "base64") : p.data }));
  let encoded;
  parser.encodePayload(packets, (s) => { encoded = s; });
  const decoded = parser.decodePayload(c.goEncoded, "nodebuffer").map((p) => (
    Buffer.isBuffer(p.data) ? { type: p.type, data: p.data.toString("base64"), bin: true } : { type: p.type, data: p.data === undefined ? "" : p.data }));
  return { encoded, decoded };
});
process.stdout.write(JSON.stringify(out));
`

type nodePacket struct {
	Type string `json:"type"`
	Data string `json:"data"`
	Bin  bool   `json:"bin,omitempty"`
}

// TestNodeCrossCheck compares AppendPayload and DecodePayload with the
// reference engine.io-parser on the same packets: byte-identical encodings,
// and Node decoding Go's encoding into the packets Go started from. Skipped
// when node or the npm dependencies (npm ci at the module root) are missing.
func TestNodeCrossCheck(t *testing.T) {
	mod, err := filepath.Abs(filepath.Join("..", "..", "node_modules", "engine.io-parser"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mod); err != nil {
		t.Skip("node_modules/engine.io-parser missing (run npm ci at the module root)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	vectors := [][]Packet{
		{{Type: Message, Data: []byte("hello")}, {Type: Ping}, {Type: Message, Data: []byte("world")}},
		{{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}}},
		{{Type: Message, Binary: true, Data: []byte{}}, {Type: Message, Data: []byte("é€😀 \"q\"")}},
		{{Type: Open, Data: AppendOpen(nil, OpenPacket{SID: "abc", Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1e6})[1:]}},
		{{Type: Close}, {Type: Pong, Data: []byte("probe")}, {Type: Upgrade}, {Type: Noop}},
		{{Type: Message, Binary: true, Data: bytes.Repeat([]byte{0xff, 0x00, 0x1e}, 100)}, {Type: Message, Data: []byte(`"primus::ping::1"`)}},
	}
	type nodeCase struct {
		Packets   []nodePacket `json:"packets"`
		GoEncoded string       `json:"goEncoded"`
	}
	cases := make([]nodeCase, len(vectors))
	for i, v := range vectors {
		enc, err := AppendPayload(nil, v...)
		if err != nil {
			t.Fatal(err)
		}
		cases[i].GoEncoded = string(enc)
		for _, p := range v {
			cases[i].Packets = append(cases[i].Packets, toNode(p))
		}
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "-e", nodeScript, mod)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.Bytes())
	}
	var results []struct {
		Encoded string       `json:"encoded"`
		Decoded []nodePacket `json:"decoded"`
	}
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(cases) {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, r := range results {
		if r.Encoded != cases[i].GoEncoded {
			t.Errorf("vector %d: engine.io-parser encodes %q, Go %q", i, r.Encoded, cases[i].GoEncoded)
		}
		if len(r.Decoded) != len(cases[i].Packets) {
			t.Errorf("vector %d: engine.io-parser decodes Go's payload to %+v, want %+v", i, r.Decoded, cases[i].Packets)
			continue
		}
		for j, p := range r.Decoded {
			if p != cases[i].Packets[j] {
				t.Errorf("vector %d packet %d: engine.io-parser decodes %+v, want %+v", i, j, p, cases[i].Packets[j])
			}
		}
		// And Go decodes the reference's encoding back to the vector.
		got, err := DecodePayload(nil, []byte(r.Encoded), Limits{})
		if err != nil || len(got) != len(vectors[i]) {
			t.Errorf("vector %d: Go decodes the reference encoding to %+v, %v", i, got, err)
			continue
		}
		for j := range got {
			if toNode(got[j]) != cases[i].Packets[j] {
				t.Errorf("vector %d packet %d: Go decodes %+v", i, j, got[j])
			}
		}
	}
}

func toNode(p Packet) nodePacket {
	if p.Binary {
		return nodePacket{Type: "message", Data: base64.StdEncoding.EncodeToString(p.Data), Bin: true}
	}
	return nodePacket{Type: p.Type.String(), Data: string(p.Data)}
}
