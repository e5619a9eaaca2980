package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mes/booking"
	"github.com/pilotline/pilotline/mes/quality"
	"github.com/pilotline/pilotline/mqtt"
	"github.com/pilotline/pilotline/opcua"
	"github.com/pilotline/pilotline/opcua/sim"
	"github.com/pilotline/pilotline/twin"
	"github.com/pilotline/pilotline/ui"
)

// ServeMain is `pilotline serve`: the whole MES.
type ServeMain struct {
	commonFlags
	HTTPAddr       string
	Simulate       bool
	NoDemo         bool
	Mode           string
	Tick           time.Duration
	AllowedOrigins string
	Anonymous      bool
	AdminPWEnv     string
	TLSCert        string
	TLSKey         string
	LockOut        time.Duration
	AutoRelease    bool
	MQTTURL        string

	stdout, stderr io.Writer
	logger         *slog.Logger
	line           *mes.LineConfig
	plantBus       *mqtt.Config // nil: not publishing

	sim        *sim.Line
	db         *bolt.DB
	events     *bolt.EventStore
	products   *bolt.ProductService
	batches    *bolt.BatchService
	burs       *bolt.BurService
	ncs        *bolt.NCService
	hub        *twin.Hub
	acq        *opcua.Acquisition
	publisher  *mqtt.Publisher
	dispatcher *mes.Dispatcher
	http       *ui.Server
	wg         sync.WaitGroup
	cancel     context.CancelFunc
	ready      chan struct{} // closed once the web view listens
	started    time.Time     // line time at start
	clock      *mes.LineClock
	// wall is the host's clock: sessions, tokens, sign-in limits. Tests
	// set a fake one.
	wall mes.WallClock
	stop func() error // tests: cancel Run and Close, once
}

// NewServeMain returns the serve command writing to stdout and stderr.
func NewServeMain(stdout, stderr io.Writer) *ServeMain {
	return &ServeMain{stdout: stdout, stderr: stderr, ready: make(chan struct{})}
}

// Ready is closed once the web view listens; URL is valid from then on.
func (m *ServeMain) Ready() <-chan struct{} { return m.ready }

// URL is the web view's base URL.
func (m *ServeMain) URL() string { return m.http.URL() }

// ParseFlags parses and validates the flags and the line configuration.
func (m *ServeMain) ParseFlags(_ context.Context, args []string) error {
	fs := newFlagSet("serve", "Runs the MES: the simulated line (unless --sim=false), OPC UA acquisition, the store,\nthe dispatcher, and the web view with its API; prints the web view's URL.", m.stderr)
	m.register(fs, 0)
	fs.StringVar(&m.HTTPAddr, "http", "127.0.0.1:8080", "web view and API listen `ADDR`; port 0 = any free port")
	fs.BoolVar(&m.Simulate, "sim", true, "run the embedded simulated line; false = read the real machines listed in the configuration's endpoints")
	fs.BoolVar(&m.NoDemo, "no-demo", false, "start empty: do not seed the demo product and released demo batch into an empty store")
	fs.StringVar(&m.Mode, "mode", "", "acquisition mode for every endpoint, overriding the configuration: poll or subscribe")
	fs.DurationVar(&m.Tick, "tick", 100*time.Millisecond, "twin delta coalescing interval")
	fs.StringVar(&m.AllowedOrigins, "allowed-origins", "", "comma-separated extra Origins allowed on the twin WebSocket (same host is always allowed)")
	fs.BoolVar(&m.Anonymous, "anonymous-viewer", false, "open the read-only line view (twin page, /ws/twin, GET /api/v1/line and /api/v1/batches) without sign-in, for andon screens on a trusted plant network")
	fs.StringVar(&m.AdminPWEnv, "admin-password-env", "PILOTLINE_ADMIN_PASSWORD", "environment `VAR` holding the first admin's password; unset at first start: a one-time setup token is printed instead")
	fs.StringVar(&m.TLSCert, "tls-cert", "", "PEM certificate `FILE`: serve HTTPS (with --tls-key)")
	fs.StringVar(&m.TLSKey, "tls-key", "", "PEM private key `FILE` for --tls-cert")
	fs.DurationVar(&m.LockOut, "booking-lockout", booking.DefaultBookingLockOut, "pilot-run bookings freeze this long before their start: customers can no longer cancel")
	fs.BoolVar(&m.AutoRelease, "auto-release", true, "release a booked run's batch to the line when its window starts; false leaves it planned for an engineer")
	fs.StringVar(&m.MQTTURL, "mqtt", "", "publish the line to the plant's MQTT broker at `URL` (tcp://HOST:1883, ssl://HOST:8883): Sparkplug B and the ISA-95 namespace; overrides the configuration's mqtt.url; default off")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := m.validate(); err != nil {
		return err
	}
	if m.Mode != "" && m.Mode != mes.ModePoll && m.Mode != mes.ModeSubscribe {
		return fmt.Errorf("--mode: want poll or subscribe, got %q", m.Mode)
	}
	if m.Tick < 10*time.Millisecond || m.Tick > 10*time.Second {
		return fmt.Errorf("--tick: must be 10ms..10s, got %v", m.Tick)
	}
	if m.LockOut < 0 || m.LockOut > 90*24*time.Hour {
		return fmt.Errorf("--booking-lockout: must be 0..2160h, got %v", m.LockOut)
	}
	if (m.TLSCert == "") != (m.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	for _, f := range []string{m.TLSCert, m.TLSKey} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				return fmt.Errorf("--tls-cert/--tls-key: %w", err)
			}
		}
	}
	line, err := m.loadLine()
	if err != nil {
		return err
	}
	if !m.Simulate && len(line.Endpoints) == 0 {
		return errors.New("--sim=false needs a configuration with endpoints (the real machines' OPC UA URLs)")
	}
	if m.Mode != "" {
		line.Acquisition.Mode = m.Mode
		for i := range line.Endpoints {
			line.Endpoints[i].Mode = ""
		}
	}
	if m.MQTTURL != "" || (line.MQTT != nil && line.MQTT.URL != "") {
		cfg, err := mqtt.NewConfig(line, m.MQTTURL)
		if err != nil {
			return fmt.Errorf("--mqtt: %s", mes.ErrorMessage(err))
		}
		m.plantBus = &cfg
	}
	m.line = line
	m.logger = m.commonFlags.logger(m.stderr)
	captureStdLog(m.logger)
	return nil
}

// Run starts everything, prints the URL, and serves until ctx is done.
func (m *ServeMain) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	if err := os.MkdirAll(m.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	line := m.line
	db, err := bolt.Open(filepath.Join(m.DataDir, "pilotline.db"), bolt.Options{
		Logger: m.logger.With("component", "store"), Wall: m.wall, SerialPattern: line.SerialPattern,
	})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	m.db = db
	// Line time continues from where the store last reserved it: the
	// simulated line runs --speed times as fast from there, a real line
	// follows the host's clock but never goes back.
	speed := 1.0
	if m.Simulate {
		speed = m.Speed
	}
	clock, err := mes.OpenLineClock(ctx, mes.LineClockOptions{Wall: m.wall, Speed: speed, Simulated: m.Simulate, Store: db})
	if err != nil {
		return fmt.Errorf("line clock: %w", err)
	}
	db.SetLineClock(clock)
	m.clock = clock
	if m.Simulate {
		l, err := sim.Start(ctx, sim.Options{Line: line, Clock: clock, Seed: m.Seed, PortBase: m.PortBase, Logger: m.logger.With("component", "sim")})
		if err != nil {
			return fmt.Errorf("start simulated line: %w", err)
		}
		m.sim = l
		line = l.Bind(line)
		for _, e := range l.Endpoints() {
			m.logger.Debug("simulated endpoint", "id", e.ID, "url", e.URL)
		}
	}
	m.started = clock.Now()
	m.events = bolt.NewEventStore(db)
	m.products = bolt.NewProductService(db)
	m.batches = bolt.NewBatchService(db)
	m.burs = bolt.NewBurService(db)
	m.ncs = bolt.NewNCService(db)
	ncs := m.ncs
	users, audit := bolt.NewUserService(db), bolt.NewAuditService(db)
	setupToken, err := ui.Bootstrap(ctx, users, audit, os.Getenv(m.AdminPWEnv))
	if err != nil {
		return fmt.Errorf("first admin from $%s: %w", m.AdminPWEnv, err)
	}
	if !m.NoDemo {
		if err := seedDemo(ctx, line, m.products, m.batches, clock.Now()); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}

	origins := []string{}
	for _, o := range strings.Split(m.AllowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	m.hub = twin.NewHub(line, twin.HubOptions{Tick: m.Tick, AllowedOrigins: origins, Logger: m.logger.With("component", "twin")})

	metrics := ui.NewMetrics()
	// The twin first: it never blocks and needs no durability, so viewers do
	// not wait for the store's commit. The plant bus, the dispatcher and the
	// metrics come after the store, so they see only what is durable; the
	// plant bus before the dispatcher, whose errors end the chain.
	sinks := mes.Sinks{m.hub, m.events}
	if m.plantBus != nil {
		p, err := mqtt.New(mqtt.Options{Config: *m.plantBus, Line: line, Outbox: bolt.NewOutboxService(db, m.plantBus.QueueMax),
			Logger: m.logger.With("component", "plantbus")})
		if err != nil {
			return fmt.Errorf("plant bus: %w", err)
		}
		m.publisher = p
		sinks = append(sinks, p)
	}
	sinks = append(sinks, m.dispatcherFor(line), metrics)
	acq, err := opcua.New(opcua.Options{
		Line: line, DataDir: m.DataDir, Logger: m.logger.With("component", "acquisition"),
		Sink: sinks,
	})
	if err != nil {
		return fmt.Errorf("acquisition: %w", err)
	}
	m.acq = acq
	m.dispatcher.Writer = acq

	m.http = &ui.Server{
		Addr: m.HTTPAddr, Logger: m.logger.With("component", "http"), Line: line,
		Products: m.products, Batches: m.batches, Burs: m.burs, Events: m.events, Backup: m.db, Twin: m.hub,
		Metrics: metrics, LineClock: clock, WallClock: m.wall,
		Users: users, Orgs: bolt.NewOrgService(db), Sessions: bolt.NewSessionService(db), Tokens: bolt.NewTokenService(db), Audit: audit,
		AnonymousViewer: m.Anonymous, SetupToken: setupToken, TLSCert: m.TLSCert, TLSKey: m.TLSKey,
		Health: func(context.Context) map[string]any { return m.health() },
	}
	sigs := bolt.NewSignatureService(db)
	m.http.QA = ui.QA{NCs: ncs, Signatures: sigs, Signer: sigs, Burs: m.burs, Location: time.Local}
	bookings, calendar := bolt.NewBookingService(db), bolt.NewCalendarService(db, line)
	m.http.Portal = ui.Portal{Bookings: bookings, Calendar: calendar, Notifications: bookings, LockOut: m.LockOut,
		Quoter: &booking.Quoter{Line: line, Products: m.products, Calendar: calendar, Events: m.events, Batches: m.batches, Clock: clock}}
	scheduler := &booking.Scheduler{Bookings: bookings, Batches: m.batches, Products: m.products,
		Logger: m.logger.With("component", "bookings"), LockOut: m.LockOut, AutoRelease: m.AutoRelease, Clock: clock}
	if err := m.http.Open(); err != nil {
		return err
	}

	m.goRun(func() { m.hub.Run(ctx) })
	if m.publisher != nil {
		if m.plantBus.TwinURL == "" {
			m.publisher.SetTwinURL(m.http.URL())
		}
		m.goRun(func() {
			if err := m.publisher.Run(ctx); err != nil {
				m.logger.Error("plant bus stopped", "err", err)
			}
		})
	}
	m.goRun(func() {
		if err := scheduler.Run(ctx); err != nil {
			m.logger.Error("booking scheduler stopped", "err", err)
		}
	})
	m.goRun(func() {
		if err := m.dispatcher.Run(ctx); err != nil {
			m.logger.Error("dispatcher stopped", "err", err)
		}
	})
	m.goRun(func() {
		if err := acq.Run(ctx); err != nil && ctx.Err() == nil {
			m.logger.Error("acquisition stopped", "err", err)
		}
	})
	m.goRun(func() { m.feedProduction(ctx, line, metrics, clock.Now) })

	close(m.ready)
	fmt.Fprintf(m.stdout, "Pilotline is running: %s\n", m.http.URL())
	if setupToken != "" {
		fmt.Fprintf(m.stdout, "No admin yet: create one within this run with the one-time setup token %s\n  (POST %sapi/v1/setup, or set $%s before the first start)\n", setupToken, m.http.URL(), m.AdminPWEnv)
	}
	m.logger.Info("pilotline serving", "url", m.http.URL(), "data", m.DataDir, "simulated", m.Simulate, "speed", m.Speed)
	<-ctx.Done()
	return nil
}

// health reports acquisition for GET /healthz: how many machines answer,
// and per machine what Pilotline cannot derive from it for want of nodes
// (see opcua.MachineCapabilities) and which robots and stations are not
// read at all.
func (m *ServeMain) health() map[string]any {
	ok, total := m.connected()
	status := "ok"
	if ok < total {
		status = "degraded"
	}
	lacks := map[string][]string{}
	var unconnected []string
	for _, s := range m.acq.Status() {
		if s.Unconnected {
			unconnected = append(unconnected, s.ID)
		} else if len(s.Lacks) > 0 {
			lacks[s.ID] = s.Lacks
		}
	}
	h := map[string]any{"acquisition": map[string]any{"status": status, "machines": total, "connected": ok,
		"lacks": lacks, "unconnected": unconnected}}
	if m.publisher != nil {
		h["plant_bus"] = m.publisher.Status()
	}
	return h
}

// connected counts the objects acquisition reads and how many of them answer.
func (m *ServeMain) connected() (ok, total int) {
	for _, s := range m.acq.Status() {
		if s.Unconnected {
			continue
		}
		total++
		if s.CommOK {
			ok++
		}
	}
	return ok, total
}

func (m *ServeMain) dispatcherFor(line *mes.LineConfig) *mes.Dispatcher {
	// The SPC monitor sees every measurement the dispatcher records: a rule
	// violation opens a suspect-bur NC and, for AutoHold products, holds the batch.
	spc := &quality.SPCMonitor{Batches: m.batches, Products: m.products, Burs: m.burs, NCs: m.ncs, Log: m.logger.With("component", "spc"), Clock: m.clock}
	m.dispatcher = &mes.Dispatcher{Line: line, Burs: spc.Wrap(m.burs), Batches: m.batches, Products: m.products, Logger: m.logger.With("component", "dispatch"),
		Clock: m.clock, Wall: m.wall}
	return m.dispatcher
}

func (m *ServeMain) goRun(f func()) {
	m.wg.Add(1)
	go func() { defer m.wg.Done(); f() }()
}

// Close stops everything in reverse order of start.
func (m *ServeMain) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	var errs []error
	if m.http != nil {
		errs = append(errs, m.http.Close())
	}
	m.wg.Wait()
	if m.sim != nil {
		errs = append(errs, m.sim.Close())
	}
	if m.db != nil {
		errs = append(errs, m.db.Close())
	}
	return errors.Join(errs...)
}

// seedDemo stores the line's products and a released demo batch into an
// empty store, so a newcomer sees burs being made at once.
func seedDemo(ctx context.Context, line *mes.LineConfig, products mes.ProductService, batches mes.BatchService, now time.Time) error {
	existing, err := products.ListProducts(ctx)
	if err != nil || len(existing) > 0 {
		return err
	}
	for i := range line.Products {
		p := line.Products[i]
		if err := products.CreateProduct(ctx, &p); err != nil {
			return err
		}
	}
	b := &mes.Batch{
		Product: line.Products[0].ISO, Quantity: 500, GoodRequired: true, Org: "Pilotline demo",
		BlankLot: "CB-" + now.Format("0601") + "-0001", PlannedStart: now, PlannedEnd: now.Add(500 * time.Duration(line.TaktS) * time.Second),
	}
	if err := batches.CreateBatch(ctx, b); err != nil {
		return err
	}
	_, err = batches.TransitionBatch(ctx, b.ID, mes.BatchReleased, "system", "demo batch released at first start", now)
	return err
}
