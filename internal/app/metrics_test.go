package app

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/allspark/allspark/client"
)

// metricValue returns the value of one series in a Prometheus text scrape.
func metricValue(t *testing.T, scrape, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(scrape)
	if m == nil {
		t.Fatalf("no series %s in scrape", series)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMetricsReadServerStatsAtScrapeTime(t *testing.T) {
	a, err := New(Config{Echo: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	defer hs.Close()
	defer a.Server().Close()

	got := make(chan any, 4)
	c, err := client.Dial(context.Background(), hs.URL, client.Options{OnEvent: func(ev client.Event) {
		if ev.Kind == client.EventData {
			got <- ev.Data
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	for i := range 3 {
		if err := c.Write(map[string]any{"n": i}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("no echo")
		}
	}
	code, scrape := get(t, hs.URL+"/metrics")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	st := a.Server().Stats()
	checks := map[string]float64{
		`allspark_connections{transport="websocket"}`:                1,
		`allspark_connections_accepted_total{transport="websocket"}`: float64(st.Accepted),
		`allspark_messages_received_total{transport="websocket"}`:    float64(st.MessagesIn),
		`allspark_messages_sent_total{transport="websocket"}`:        float64(st.MessagesOut),
		`allspark_received_bytes_total{transport="websocket"}`:       float64(st.BytesIn),
		`allspark_sent_bytes_total{transport="websocket"}`:           float64(st.BytesOut),
		`allspark_auth_failures_total`:                               0,
		`allspark_slow_consumers_total`:                              0,
		`allspark_messages_dropped_total`:                            0,
	}
	for series, want := range checks {
		if v := metricValue(t, scrape, series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	if st.MessagesIn < 3 || st.MessagesOut < 3 {
		t.Fatalf("stats did not count the echoes: %+v", st)
	}
	// Process and Go runtime series come with the official client.
	metricValue(t, scrape, "go_goroutines")
}
