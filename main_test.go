package allspark_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every test
// shuts its server down, so a survivor is a leak.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
