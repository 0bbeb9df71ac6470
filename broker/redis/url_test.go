package redis

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want Options
	}{
		{"redis://127.0.0.1:6379", Options{Addrs: []string{"127.0.0.1:6379"}}},
		{"redis://localhost", Options{Addrs: []string{"localhost:6379"}}},
		{"redis://u:p%40ss@h:1/3", Options{Addrs: []string{"h:1"}, Username: "u", Password: "p@ss", DB: 3}},
		{"redis://:secret@h:1/", Options{Addrs: []string{"h:1"}, Password: "secret"}},
		{"redis://secret@h:1", Options{Addrs: []string{"h:1"}, Password: "secret"}},
		{"redis://[::1]:7000", Options{Addrs: []string{"[::1]:7000"}}},
		{"redis://[::1]", Options{Addrs: []string{"[::1]:6379"}}},
		{"redis://h:1?prefix=app1&probe=2s&write_timeout=500ms&queue=100",
			Options{Addrs: []string{"h:1"}, Prefix: "app1", ProbeInterval: 2 * time.Second, WriteTimeout: 500 * time.Millisecond, InboundQueue: 100}},
		{"redis-sentinel://pw@s1:26379,s2/mymaster/2",
			Options{Addrs: []string{"s1:26379", "s2:26379"}, Password: "pw", SentinelMaster: "mymaster", DB: 2}},
		{"redis-sentinel://s1/mymaster", Options{Addrs: []string{"s1:26379"}, SentinelMaster: "mymaster"}},
		{"redis-cluster://h1:7000,h2:7001", Options{Addrs: []string{"h1:7000", "h2:7001"}, Cluster: true}},
		{"redis-cluster://h1:7000?prefix=x", Options{Addrs: []string{"h1:7000"}, Cluster: true, Prefix: "x"}},
	} {
		got, err := ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.url, got, tc.want)
		}
	}
}

func TestParseURLTLS(t *testing.T) {
	o, err := ParseURL("rediss://user:pw@cache.example:6380/1")
	if err != nil {
		t.Fatal(err)
	}
	if o.TLS == nil || o.TLS.ServerName != "cache.example" {
		t.Fatalf("TLS = %+v, want a config for cache.example", o.TLS)
	}
	if o.Addrs[0] != "cache.example:6380" || o.DB != 1 || o.Username != "user" {
		t.Fatalf("options = %+v", o)
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct{ url, says string }{
		{"127.0.0.1:6379", "missing scheme"},
		{"http://h:1", "unknown scheme"},
		{"redis://", "no host"},
		{"redis://:pw@", "no host"},
		{"redis://h:0", "not in 1-65535"},
		{"redis://h:99999", "not in 1-65535"},
		{"redis://h:abc", "not in 1-65535"},
		{"redis://h1,h2", "several hosts"},
		{"redis://h,", "empty host"},
		{"redis://::1", "host"},
		{"redis://h/x", "not a non-negative number"},
		{"redis://h/-1", "not a non-negative number"},
		{"redis://h/1/2", "unexpected path"},
		{"redis://h?probe=fast", "not a positive duration"},
		{"redis://h?probe=-1s", "not a positive duration"},
		{"redis://h?queue=0", "not a positive number"},
		{"redis://h?prefix=", "empty prefix"},
		{"redis://h?prefix=a&prefix=b", "given 2 times"},
		{"redis://h?db=1", "unknown parameter"},
		{"redis://h?%zz", "bad query"},
		{"redis://u:%zz@h", "bad password escape"},
		{"redis-sentinel://s1:26379", "needs the master name"},
		{"redis-cluster://h:7000/1", "no databases"},
	} {
		_, err := ParseURL(tc.url)
		if err == nil {
			t.Errorf("ParseURL(%q): no error", tc.url)
			continue
		}
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseURL(%q) = %v, want ErrBadURL saying %q", tc.url, err, tc.says)
		}
	}
}

func TestParseURLRedactsPassword(t *testing.T) {
	_, err := ParseURL("redis://user:hunter2@h:1/x")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v shows the password", err)
	}
}
