//go:build race

package hostile_test

// raceEnabled: the race detector slows connection setup about 2×, so the
// largest scenarios run smaller under it (the full figure is measured
// without: go test -run TestSSEIdleSubscribers -v ./test/hostile).
const raceEnabled = true
