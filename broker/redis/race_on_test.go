//go:build race

package redis

// raceEnabled scales the heaviest tests down under the race detector, which
// makes each operation several times slower.
const raceEnabled = true
