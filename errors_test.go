package allspark_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/allspark/allspark"
)

// ErrReserved is returned for reserved event names as well as for control
// strings; its message must not blame a "primus::" prefix that "open" lacks.
func TestErrReservedNamesBothReasons(t *testing.T) {
	srv, err := allspark.New(allspark.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, name := range []string{"open", "", strings.Repeat("x", 257), "primus::x"} {
		err := srv.On(name, nil)
		if !errors.Is(err, allspark.ErrReserved) {
			t.Fatalf("On(%.10q) = %v", name, err)
		}
		if msg := err.Error(); strings.Contains(msg, "prefix") || !strings.Contains(msg, "event name") {
			t.Errorf("On(%.10q): message %q does not name the reason", name, msg)
		}
	}
	_, err = srv.All().Write("primus::ping::1")
	if !errors.Is(err, allspark.ErrReserved) || !strings.Contains(err.Error(), "control string") {
		t.Errorf("Write(control string) = %v", err)
	}
}
