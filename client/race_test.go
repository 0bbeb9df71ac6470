//go:build race

package client_test

// raceEnabled: the race detector slows message handling about tenfold, so
// the floods are scaled down under it.
const raceEnabled = true
