//go:build !race

package sockjs_test

const raceEnabled = false
