package client

// heartbeatLocked (re)arms the ping watchdog, as Primus's heartbeat() does on
// open and on every "primus::ping::". When it expires the connection is cut
// and handled as an unexpected drop with ErrPingTimeout: the client
// reconnects if StrategyDisconnect is set.
func (c *Client) heartbeatLocked() {
	if c.pingTimeout <= 0 {
		return
	}
	gen := c.gen
	c.arm(&c.watchdog, c.pingTimeout, func() {
		if gen != c.gen || c.state != Open {
			return
		}
		c.droppedLocked(ErrPingTimeout)
	})
}
