package hostile_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a goroutine outlives the tests: every test
// shuts its server down and closes its sockets, so a survivor is a leak in
// the server (or in this suite).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
