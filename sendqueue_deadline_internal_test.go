package allspark

import (
	"testing"
	"time"
)

// deadlineConn counts write-deadline updates.
type deadlineConn struct {
	nullConn
	sets int
}

func (c *deadlineConn) SetWriteDeadline(time.Time) error { c.sets++; return nil }

// The write deadline is set again only when less than 90 % of the timeout is
// left, not for every batch.
func TestRefreshDeadlineOnlyWhenNeeded(t *testing.T) {
	var q sendQueue
	c := &deadlineConn{}
	for range 100 {
		q.refreshDeadline(c, time.Hour)
	}
	if c.sets != 1 {
		t.Fatalf("%d deadline updates for 100 batches within the first tenth of the timeout, want 1", c.sets)
	}
	q.deadline = time.Now().Add(time.Hour / 2).UnixNano() // half left
	q.refreshDeadline(c, time.Hour)
	if c.sets != 2 || time.Until(time.Unix(0, q.deadline)) < 59*time.Minute {
		t.Fatalf("sets=%d deadline in %v: a stale deadline must be renewed to a full timeout", c.sets, time.Until(time.Unix(0, q.deadline)))
	}
}
