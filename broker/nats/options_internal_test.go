package nats

import (
	"errors"
	"testing"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Servers) != 1 || o.Servers[0] != DefaultServer || o.Prefix != "allspark" ||
		o.WriteTimeout != DefaultWriteTimeout || o.ProbeInterval != DefaultProbeInterval ||
		o.InboundQueue != DefaultInboundQueue || o.InboundBytes != DefaultInboundBytes || o.Logger == nil {
		t.Fatalf("defaults: %+v", o)
	}
}

func TestOptionsRefused(t *testing.T) {
	for name, o := range map[string]Options{
		"wildcard prefix":  {Prefix: "a.*"},
		"gt prefix":        {Prefix: ">"},
		"embedded star":    {Prefix: "a*b"},
		"empty token":      {Prefix: "a..b"},
		"trailing dot":     {Prefix: "a."},
		"space":            {Prefix: "a b"},
		"negative timeout": {WriteTimeout: -1},
		"negative queue":   {InboundQueue: -1},
		"negative bytes":   {InboundBytes: -1},
		"two auth ways":    {Token: "t", Username: "u"},
		"creds and token":  {Token: "t", CredsFile: "/x"},
	} {
		if _, err := o.withDefaults(); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%s: %v, want ErrBadOptions", name, err)
		}
	}
	if _, err := (Options{Prefix: "my.app-1_x"}).withDefaults(); err != nil {
		t.Fatalf("dotted prefix refused: %v", err)
	}
}
