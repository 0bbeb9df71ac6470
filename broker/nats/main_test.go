package nats_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// test closes its brokers, connections and embedded servers. Run with
// testNodeEnv set, the test binary is instead a cluster node in its own
// process (see runTestNode), which a test kills with SIGKILL.
func TestMain(m *testing.M) {
	if spec := os.Getenv(testNodeEnv); spec != "" {
		runTestNode(spec)
		return
	}
	goleak.VerifyTestMain(m)
}
