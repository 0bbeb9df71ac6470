package websocket

// The read side of the gate: a frame scanner over the client→server stream
// that decides, per frame, whether gws may see it yet.
//
// gws parses a frame header and at once allocates a buffer of the declared
// payload length, then waits for the payload. A peer could announce 10 MiB
// in a 10-byte header and send nothing more. So a data frame declaring more
// than holdThreshold (and no more than MaxPayload, past which gws closes with
// 1009 on the header alone) is held back, header included, in a buffer that
// grows as its bytes arrive; gws gets the frame once it is complete, and the
// buffer is dropped as soon as gws has read it.
//
// A Close frame is held until gws has read everything before it (gws handles
// one frame at a time, so every earlier message has been delivered to
// Handler.OnMessage), then Handler.OnPeerClose runs, and only then does gws
// see the Close frame and answer it.

const (
	// holdThreshold is the largest declared payload gws sees before it has
	// arrived: what one connection can make gws allocate up front. Smaller
	// frames pass without a copy.
	holdThreshold = 4 << 10
	// holdStep is the least a hold buffer grows by; it otherwise doubles,
	// so it stays within twice what has arrived and never jumps to the
	// declared size.
	holdStep = 4 << 10
	// maxLength is the largest payload length RFC 6455 allows (the most
	// significant bit of a 64-bit length must be 0). gws turns a larger one
	// into a negative int and panics.
	maxLength = 1<<63 - 1
)

type readMode uint8

const (
	readPass    readMode = iota // scanning; nothing held
	readHold                    // buf holds the start of a large frame
	readBarrier                 // buf starts with the peer's Close frame
	readThrough                 // past the Close frame: gws reads no further, pass all
	readFailed                  // the peer sent a frame the gate refuses
)

// scanner tracks frame boundaries in the client→server byte stream.
type scanner struct {
	plen uint64 // declared payload length of the current frame
	need uint64 // payload bytes of the current frame still to pass
	b0   byte   // FIN, RSV, opcode
	b1   byte   // MASK, length code
	hn   uint8  // header bytes seen of the current frame
	hlen uint8  // header length, known from the second byte on
}

// header feeds one header byte and reports whether the header is complete.
func (s *scanner) header(c byte) bool {
	switch s.hn {
	case 0:
		s.b0, s.plen = c, 0
	case 1:
		s.b1, s.hlen = c, 2
		switch c & 0x7f {
		case 126:
			s.hlen += 2
		case 127:
			s.hlen += 8
		default:
			s.plen = uint64(c & 0x7f)
		}
		if c&0x80 != 0 {
			s.hlen += 4
		}
	default:
		if s.hn < s.hlen-4*(s.b1>>7) { // an extended length byte, not the mask key
			s.plen = s.plen<<8 | uint64(c)
		}
	}
	s.hn++
	if s.hn < 2 || s.hn < s.hlen {
		return false
	}
	s.hn = 0
	return true
}

type scanAction uint8

const (
	actPass scanAction = iota
	actHold
	actBarrier
	actFail
)

// action decides what to do with the frame whose header is complete.
func (s *scanner) action(cfg *gateConfig) scanAction {
	op := s.b0 & 0x0f
	switch {
	case s.plen > maxLength:
		return actFail
	case op == 0x8:
		// Only a Close frame gws will accept waits for OnPeerClose; gws
		// fails a fragmented or oversized one at once.
		if s.b0&0x80 != 0 && s.b1&0x7f <= 125 {
			return actBarrier
		}
		return actPass
	case op > 0x2, s.b1&0x80 == 0, s.plen > cfg.maxPayload:
		// Control and reserved opcodes (gws reads at most 125 bytes of
		// them), unmasked frames, and frames over the limit: gws fails or
		// handles them from the header without allocating the length.
		return actPass
	case s.plen > cfg.hold:
		return actHold
	}
	return actPass
}

// scan moves the scanner over b, the next bytes from the socket, while
// nothing is held. It returns how many leading bytes gws may have now; when
// that is less than len(b), g.mode says why the rest is held.
func (g *gate) scan(b []byte) int {
	if g.mode == readThrough {
		return len(b)
	}
	s := &g.sc
	for i := 0; i < len(b); {
		if s.need > 0 {
			m := uint64(len(b) - i)
			if m > s.need {
				m = s.need
			}
			i += int(m)
			s.need -= m
			continue
		}
		i++
		if !s.header(b[i-1]) {
			continue
		}
		start := max(i-int(s.hlen), 0) // the header may have begun in an earlier read
		switch s.action(g.cfg) {
		case actFail:
			g.mode = readFailed
			return start
		case actBarrier:
			g.mode = readBarrier
			return start
		case actHold:
			if s.plen > uint64(len(b)-i) { // a frame that is all here needs no holding
				g.mode = readHold
				g.want = i - start + int(s.plen)
				return start
			}
		}
		s.need = s.plen
	}
	return len(b)
}

// Read hands gws the bytes it may have: straight from the socket into p
// while nothing is held, else from the hold buffer once it may be released.
func (g *gate) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if g.r < g.rel {
			n := copy(p, g.buf[g.r:g.rel])
			g.r += n
			if g.r == len(g.buf) {
				g.buf, g.r, g.rel = nil, 0, 0 // an idle connection holds nothing
			}
			return n, nil
		}
		switch g.mode {
		case readHold:
			if err := g.fill(); err != nil {
				return 0, err
			}
			continue
		case readBarrier:
			// gws has read, and so delivered, every frame before the
			// Close frame: let the handler flush before gws answers it.
			g.mode = readThrough
			if g.h != nil {
				g.h.OnPeerClose()
			}
			g.rel = len(g.buf)
			continue
		case readFailed:
			return 0, g.fail()
		}
		if g.rerr != nil {
			return 0, g.rerr
		}
		n, err := g.rawRead(p)
		k := g.scan(p[:n])
		if k == n {
			return n, err
		}
		g.rerr = err
		if g.mode != readFailed {
			c := n - k
			if g.mode == readHold {
				c = min(max(2*c, holdStep), g.want)
			}
			g.buf = append(make([]byte, 0, c), p[k:n]...)
		}
		if k > 0 {
			return k, nil
		}
	}
}

// fill reads more of the held frame, growing the hold buffer as bytes
// arrive, and releases the frame once it is complete.
func (g *gate) fill() error {
	if g.rerr != nil {
		return g.rerr
	}
	if len(g.buf) == cap(g.buf) {
		c := min(max(2*len(g.buf), len(g.buf)+holdStep), g.want)
		nb := make([]byte, len(g.buf), c)
		copy(nb, g.buf)
		g.buf = nb
	}
	n, err := g.rawRead(g.buf[len(g.buf):cap(g.buf)]) // cap never exceeds want
	g.buf = g.buf[:len(g.buf)+n]
	if len(g.buf) == g.want {
		g.mode, g.rel = readPass, len(g.buf)
	}
	if err != nil {
		g.rerr = err
		if n == 0 {
			return err
		}
	}
	return nil
}

// rawRead reads from the socket, first draining what the HTTP server had
// buffered past the upgrade request.
func (g *gate) rawRead(p []byte) (int, error) {
	if len(g.pre) > 0 {
		n := copy(p, g.pre)
		g.pre = g.pre[n:]
		if len(g.pre) == 0 {
			g.pre = nil
		}
		return n, nil
	}
	return g.conn.Read(p)
}

// fail closes the connection with 1002 and returns the read error that makes
// gws end its read loop; gws's own Close frame is then not written, since
// one already was.
func (g *gate) fail() error {
	g.buf, g.r, g.rel = nil, 0, 0
	f := [...]byte{0x88, 2 + 14, 0x03, 0xea, 'i', 'n', 'v', 'a', 'l', 'i', 'd', ' ', 'l', 'e', 'n', 'g', 't', 'h'}
	_, _ = g.Write(f[:])
	return ErrProtocol
}
