package nats_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	natsbroker "github.com/allspark/allspark/broker/nats"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want natsbroker.Options
	}{
		{"nats://127.0.0.1:4222", natsbroker.Options{Servers: []string{"nats://127.0.0.1:4222"}}},
		{"nats://h", natsbroker.Options{Servers: []string{"nats://h:4222"}}},
		{"NATS://h:1/", natsbroker.Options{Servers: []string{"nats://h:1"}}},
		{"nats://[::1]", natsbroker.Options{Servers: []string{"nats://[::1]:4222"}}},
		{"nats://[::1]:5222", natsbroker.Options{Servers: []string{"nats://[::1]:5222"}}},
		{"nats://u:p%40ss@h1:4222,h2:4223,h3?prefix=my.app", natsbroker.Options{
			Servers:  []string{"nats://h1:4222", "nats://h2:4223", "nats://h3:4222"},
			Username: "u", Password: "p@ss", Prefix: "my.app",
		}},
		{"nats://s3cr%2Ft@h", natsbroker.Options{Servers: []string{"nats://h:4222"}, Token: "s3cr/t"}},
		{"nats://u:@h", natsbroker.Options{Servers: []string{"nats://h:4222"}, Username: "u"}},
		{"nats://h?probe=250ms&write_timeout=2s&name=edge-1&creds=/etc/x.creds", natsbroker.Options{
			Servers: []string{"nats://h:4222"}, ProbeInterval: 250 * time.Millisecond,
			WriteTimeout: 2 * time.Second, Name: "edge-1", CredsFile: "/etc/x.creds",
		}},
		{"nats://h?probe=off", natsbroker.Options{Servers: []string{"nats://h:4222"}, ProbeInterval: -1}},
		{"nats://h?history=jetstream", natsbroker.Options{Servers: []string{"nats://h:4222"}, History: true}},
		{"nats://h?history=jetstream&storage=memory", natsbroker.Options{Servers: []string{"nats://h:4222"}, History: true, HistoryStorage: natsbroker.MemoryStorage}},
		{"nats://h?history=off&storage=file", natsbroker.Options{Servers: []string{"nats://h:4222"}}},
	} {
		got, err := natsbroker.ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseURL(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseURLTLS(t *testing.T) {
	o, err := natsbroker.ParseURL("tls://a:4443,b")
	if err != nil {
		t.Fatal(err)
	}
	if o.TLS == nil || !reflect.DeepEqual(o.Servers, []string{"tls://a:4443", "tls://b:4222"}) {
		t.Fatalf("tls URL: %+v", o)
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct{ in, says string }{
		{"127.0.0.1:4222", "want nats://"},
		{"redis://h:6379", "unknown scheme"},
		{"nats://", "no host"},
		{"nats://h?history=redis", "history"},
		{"nats://h?storage=disk", "storage"},
		{"nats://h:4222/db", "path"},
		{"nats://h#frag", "fragment"},
		{"nats://h:notaport", "bad host"},
		{"nats://h:0", "bad port"},
		{"nats://h:70000", "bad port"},
		{"nats://h:", "empty port"},
		{"nats://a,,b", "empty host"},
		{"nats://a b", "bad host"},
		{"nats://@h", "empty user"},
		{"nats://u:p%zz@h", "bad escape"},
		{"nats://h?prefx=x", "unknown parameter"},
		{"nats://h?prefix=a.*", "prefix"},
		{"nats://h?prefix=", "prefix"},
		{"nats://h?probe=fast", "probe"},
		{"nats://h?probe=-1s", "probe"},
		{"nats://h?write_timeout=0s", "write_timeout"},
		{"nats://h?creds=", "creds"},
		{"nats://tok@h?creds=/x", "exclusive"},
		{"nats://h?a=%zz", "bad query"},
	} {
		_, err := natsbroker.ParseURL(tc.in)
		if !errors.Is(err, natsbroker.ErrBadURL) {
			t.Errorf("ParseURL(%q) = %v, want ErrBadURL", tc.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseURL(%q) = %q, want it to say %q", tc.in, err, tc.says)
		}
	}
}

func TestParseURLRedactsSecrets(t *testing.T) {
	_, err := natsbroker.ParseURL("nats://user:hunter2@h:x")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "user:***@") {
		t.Fatalf("error %q shows the password or hides the user", err)
	}
	_, err = natsbroker.ParseURL("nats://t0ken@h?bad=1")
	if err == nil || strings.Contains(err.Error(), "t0ken") {
		t.Fatalf("error %q shows the token", err)
	}
}
