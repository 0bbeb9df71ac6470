//go:build !race

package wsengine

const raceEnabled = false
