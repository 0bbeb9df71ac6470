package nats_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// test closes its brokers, connections and embedded servers.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
