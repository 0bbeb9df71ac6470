package allspark

import "testing"

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.Pathname != "/primus" || o.PingInterval != DefaultPingInterval || o.MaxLength != DefaultMaxLength ||
		o.QueueSize != DefaultQueueSize || o.WriteTimeout != DefaultWriteTimeout || o.Parser.Name() != "json" ||
		o.Logger == nil || o.IDGenerator == nil {
		t.Fatalf("defaults: %+v", o)
	}
	if p := (Options{PingInterval: NoPing}).withDefaults().PingInterval; p != 0 {
		t.Fatalf("NoPing → %v", p)
	}
	for in, want := range map[string]string{"": "/primus", "rt": "/rt", "/rt/": "/rt", "/a/b//": "/a/b", "/": "/"} {
		if got := cleanPathname(in); got != want {
			t.Errorf("cleanPathname(%q) = %q, want %q", in, got, want)
		}
	}
	a, b := randomID(), randomID()
	if len(a) != 20 || a == b {
		t.Fatalf("randomID: %q %q", a, b)
	}
}
