package redis

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests (every
// test closes its brokers and servers). When the binary is re-executed as a
// separate-process node (testnode_test.go), it runs that node instead.
func TestMain(m *testing.M) {
	if os.Getenv(testNodeEnv) != "" {
		os.Exit(runTestNode())
	}
	goleak.VerifyTestMain(m)
}
