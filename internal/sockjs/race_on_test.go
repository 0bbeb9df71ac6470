//go:build race

package sockjs_test

// raceEnabled: the race detector slows every request tenfold; the floods
// run smaller under it (the bound they check is per request).
const raceEnabled = true
