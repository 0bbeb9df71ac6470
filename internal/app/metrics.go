package app

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/allspark/allspark"
)

// transportWebSocket labels the per-transport series. WebSocket is the only
// transport the server has today; the label is there so SSE and
// long-polling can join without renaming a series.
const transportWebSocket = "websocket"

// statsCollector turns Server.Stats into Prometheus series when scraped.
// The server already counts everything once, atomically; reading it at
// scrape time means no second set of counters that could drift from it.
type statsCollector struct {
	srv   *allspark.Server
	rooms func() int // nil until rooms exist; then the number of rooms with local members

	connections, accepted, msgsIn, msgsOut, bytesIn, bytesOut *prometheus.Desc
	dropped, slow, authFailures, parseErrors, missedPongs     *prometheus.Desc
	roomsDesc                                                 *prometheus.Desc
	nodes, brokerUp, brokerPub, brokerRecv, brokerDrop        *prometheus.Desc
	brokerErrs, brokerReconn, forwarded, forwardServed        *prometheus.Desc
}

func newStatsCollector(srv *allspark.Server, rooms func() int) *statsCollector {
	tr := []string{"transport"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("allspark_"+name, help, labels, nil)
	}
	return &statsCollector{
		srv:           srv,
		rooms:         rooms,
		connections:   d("connections", "Sparks connected now.", tr),
		accepted:      d("connections_accepted_total", "Connections accepted since start.", tr),
		msgsIn:        d("messages_received_total", "Data and control messages received from clients.", tr),
		msgsOut:       d("messages_sent_total", "Messages written to client sockets.", tr),
		bytesIn:       d("received_bytes_total", "Payload bytes received from clients.", tr),
		bytesOut:      d("sent_bytes_total", "Payload bytes written to client sockets.", tr),
		dropped:       d("messages_dropped_total", "Messages dropped by the drop-oldest slow-consumer policy.", nil),
		slow:          d("slow_consumers_total", "Sparks ended because their send queue was full.", nil),
		authFailures:  d("auth_failures_total", "Connection attempts refused by authorization.", nil),
		parseErrors:   d("parse_errors_total", "Messages the parser could not decode.", nil),
		missedPongs:   d("missed_pongs_total", "Sparks ended for not answering a heartbeat ping.", nil),
		roomsDesc:     d("rooms", "Rooms with at least one local member.", nil),
		nodes:         d("cluster_nodes", "Nodes of the cluster this node counts as live, itself included.", nil),
		brokerUp:      d("broker_up", "1 while the broker can carry traffic (its probe answered), 0 otherwise.", nil),
		brokerPub:     d("broker_published_total", "Publications and node messages sent to the broker.", nil),
		brokerRecv:    d("broker_received_total", "Publications and node messages received from the broker.", nil),
		brokerDrop:    d("broker_dropped_total", "Received publications dropped because this node's inbound queue was full.", nil),
		brokerErrs:    d("broker_errors_total", "Broker operations that failed.", nil),
		brokerReconn:  d("broker_reconnects_total", "Broker connections re-established after a loss.", nil),
		forwarded:     d("forwarded_requests_total", "Polling requests sent on to the node holding their session (no sticky sessions).", nil),
		forwardServed: d("forwarded_requests_served_total", "Polling requests served here for a session another node received them for.", nil),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connections, c.accepted, c.msgsIn, c.msgsOut, c.bytesIn, c.bytesOut,
		c.dropped, c.slow, c.authFailures, c.parseErrors, c.missedPongs, c.roomsDesc, c.nodes,
		c.brokerUp, c.brokerPub, c.brokerRecv, c.brokerDrop, c.brokerErrs, c.brokerReconn, c.forwarded, c.forwardServed} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue, float64(st.Connections), transportWebSocket)
	counter(c.accepted, st.Accepted, transportWebSocket)
	counter(c.msgsIn, st.MessagesIn, transportWebSocket)
	counter(c.msgsOut, st.MessagesOut, transportWebSocket)
	counter(c.bytesIn, st.BytesIn, transportWebSocket)
	counter(c.bytesOut, st.BytesOut, transportWebSocket)
	counter(c.dropped, st.Dropped)
	counter(c.slow, st.SlowConsumers)
	counter(c.authFailures, st.AuthFailures)
	counter(c.parseErrors, st.ParseErrors)
	counter(c.missedPongs, st.MissedPongs)
	if c.rooms != nil {
		ch <- prometheus.MustNewConstMetric(c.roomsDesc, prometheus.GaugeValue, float64(c.rooms()))
	}
	ch <- prometheus.MustNewConstMetric(c.nodes, prometheus.GaugeValue, float64(len(c.srv.Nodes())))
	counter(c.forwarded, st.Forwarded)
	counter(c.forwardServed, st.ForwardServed)
	if bs, ok := c.srv.BrokerStats(); ok {
		up := 0.0
		if bs.Connected && c.srv.BrokerHealth() == nil {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.brokerUp, prometheus.GaugeValue, up)
		counter(c.brokerPub, bs.Published)
		counter(c.brokerRecv, bs.Received)
		counter(c.brokerDrop, bs.Dropped)
		counter(c.brokerErrs, bs.Errors)
		counter(c.brokerReconn, bs.Reconnects)
	}
}

// metrics holds the registry of one App and the counters the HTTP API
// updates itself (those events happen in this package, not in the server).
type metrics struct {
	reg          *prometheus.Registry
	apiRequests  *prometheus.CounterVec
	apiAuthFails prometheus.Counter
	delivered    prometheus.Counter
}

func newMetrics(srv *allspark.Server, rooms func() int) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allspark_api_requests_total",
			Help: "HTTP API requests by route and status code.",
		}, []string{"route", "code"}),
		apiAuthFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allspark_api_auth_failures_total",
			Help: "HTTP API requests refused for a missing or wrong bearer token.",
		}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allspark_api_published_deliveries_total",
			Help: "Messages queued to sparks by POST /api/publish (one per receiving spark).",
		}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newStatsCollector(srv, rooms),
		m.apiRequests, m.apiAuthFails, m.delivered,
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
