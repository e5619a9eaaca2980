package ui

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pilotline/pilotline/mes"
)

// Metrics holds Pilotline's Prometheus metrics, served at GET /metrics.
// The server feeds the HTTP metrics itself; the integrator feeds the plant
// metrics through the methods (or by putting Metrics in the event sink chain).
// A nil *Metrics is valid and records nothing.
//
// Each Metrics has its own registry, so several servers (tests) never clash
// over the global one.
type Metrics struct {
	reg *prometheus.Registry

	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	events    *prometheus.CounterVec
	burs      *prometheus.CounterVec
	grinders  *prometheus.GaugeVec
	acquiring prometheus.Gauge
}

// NewMetrics returns metrics registered on a fresh registry, together with
// the Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pilotline_http_requests_total",
			Help: "HTTP requests served, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pilotline_http_request_duration_seconds",
			Help:    "HTTP request latency, by method and route template.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pilotline_events_ingested_total",
			Help: "Machine events accepted from acquisition, by kind.",
		}, []string{"kind"}),
		burs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pilotline_burs_completed_total",
			Help: "Burs that left the line, by disposition (good, scrap, rework).",
		}, []string{"disposition"}),
		grinders: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pilotline_grinders",
			Help: "Grinders currently in each machine state.",
		}, []string{"state"}),
		acquiring: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pilotline_acquisition_connected",
			Help: "1 while acquisition is connected to the line, 0 otherwise.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.events, m.burs, m.grinders, m.acquiring,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

var _ mes.EventSink = (*Metrics)(nil)

// Registry returns the registry, for registering further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Publish counts events by kind and burs by disposition as they are
// accepted, so Metrics can sit in a mes.Sinks chain after the durable store.
// It never fails.
func (m *Metrics) Publish(_ context.Context, events ...mes.MachineEvent) error {
	if m == nil {
		return nil
	}
	for _, e := range events {
		m.events.WithLabelValues(string(e.Kind)).Inc()
	}
	return nil
}

// EventsIngested adds n to the ingested events of kind.
func (m *Metrics) EventsIngested(kind mes.EventKind, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.events.WithLabelValues(string(kind)).Add(float64(n))
}

// BurCompleted counts one bur that left the line with disposition d.
func (m *Metrics) BurCompleted(d mes.BurDisposition) {
	if m == nil {
		return
	}
	m.burs.WithLabelValues(string(d)).Inc()
}

// SetGrinderStates replaces the grinders-by-state gauge with counts.
// States absent from counts drop to zero rather than keep a stale value.
func (m *Metrics) SetGrinderStates(counts map[mes.MachineState]int) {
	if m == nil {
		return
	}
	m.grinders.Reset()
	for st, n := range counts {
		m.grinders.WithLabelValues(string(st)).Set(float64(n))
	}
}

// SetAcquisitionConnected records whether acquisition reaches the line.
func (m *Metrics) SetAcquisitionConnected(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.acquiring.Set(1)
	} else {
		m.acquiring.Set(0)
	}
}

// observeRequest records one finished request. route is the route template
// (e.g. /api/v1/batches/:id), never the raw path, so ids do not explode the
// label space.
func (m *Metrics) observeRequest(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

// metricsMiddleware is the outermost middleware: by the time the inner
// chain returns, errors have been rendered, so the status is final.
func (s *Server) metricsMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := s.WallClock.Now()
		err := next(c)
		// c.Path is a route template (or the nearest one for a 404), so the
		// label space stays bounded whatever paths clients send.
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.Metrics.observeRequest(c.Request().Method, route, c.Response().Status, s.WallClock.Since(start))
		return err
	}
}
