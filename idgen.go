package allspark

import (
	"crypto/rand"
	"encoding/base64"
)

// randomID returns 20 URL-safe characters (120 random bits), like Primus's
// nanoid ids: unguessable, so an id alone grants nothing.
func randomID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
