package plant_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mqtt"
	"github.com/pilotline/pilotline/mqtt/mqtttest"
	"github.com/pilotline/pilotline/mqtt/plant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// line is one Pilotline's publisher on its own store; it can be stopped
// and started again on the same store.
type line struct {
	tb     testing.TB
	cfg    *mes.LineConfig
	url    string
	path   string
	p      *mqtt.Publisher
	cancel func()
	done   chan struct{}
	db     *bolt.DB
}

func newLine(tb testing.TB, url, name string) *line {
	tb.Helper()
	cfg, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(tb, err)
	cfg.Name = name
	l := &line{tb: tb, cfg: cfg, url: url, path: filepath.Join(tb.TempDir(), "pilotline.db")}
	l.start()
	tb.Cleanup(l.stop)
	return l
}

func (l *line) start() {
	l.tb.Helper()
	db, err := bolt.Open(l.path, bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(l.tb, err)
	c, err := mqtt.NewConfig(l.cfg, l.url)
	require.NoError(l.tb, err)
	c.TwinURL = "http://127.0.0.1:8080/"
	p, err := mqtt.New(mqtt.Options{Config: c, Line: l.cfg, Outbox: bolt.NewOutboxService(db, 0), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(l.tb, err)
	ctx, cancel := context.WithCancel(context.Background())
	l.p, l.cancel, l.done, l.db = p, cancel, make(chan struct{}), db
	go func() { defer close(l.done); p.Run(ctx) }()
}

func (l *line) stop() {
	if l.cancel != nil {
		l.cancel()
		<-l.done
		l.db.Close()
		l.cancel = nil
	}
}

func startView(tb testing.TB, url string) *plant.View {
	tb.Helper()
	v, err := plant.New(plant.Options{Broker: url, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(tb, err)
	require.NoError(tb, v.Open())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done; v.Close() })
	return v
}

// waitCard waits until the card of node satisfies cond.
func waitCard(tb testing.TB, v *plant.View, node, what string, cond func(plant.Card) bool) plant.Card {
	tb.Helper()
	deadline := time.Now().Add(mqtttest.Wait)
	for {
		for _, c := range v.Model().Cards() {
			if c.Node == node && cond(c) {
				return c
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("line %s: no card with %s after %v: %+v", node, what, mqtttest.Wait, v.Model().Cards())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestView_LinesFromBirthsStaleOnDeath(t *testing.T) {
	broker := mqtttest.MustMosquitto(t)
	v := startView(t, broker.URL())
	a := newLine(t, broker.URL(), "Line A")
	b := newLine(t, broker.URL(), "Line B")

	waitCard(t, v, "line-a", "its birth", func(c plant.Card) bool { return !c.Stale && c.States["offline"] == 25 })
	waitCard(t, v, "line-b", "its birth", func(c plant.Card) bool { return !c.Stale })

	t0 := time.Now()
	require.NoError(t, a.p.Publish(context.Background(),
		mes.MachineEvent{Machine: "G01", Kind: mes.EventState, SourceTime: t0, State: mes.StateGrinding},
		mes.MachineEvent{Machine: "G02", Kind: mes.EventState, SourceTime: t0, State: mes.StateGrinding},
		mes.MachineEvent{Machine: "G03", Kind: mes.EventAlarmRaised, SourceTime: t0, Alarm: &mes.Alarm{Seq: 1, Code: "E2103", Text: "Spindle overload", Severity: 700}},
	))
	oee := 0.71
	a.p.SetFigures(mqtt.Figures{TaktTargetS: 12, TaktS: 12.4, OEE: &oee, OutputToday: 321, GoodToday: 318, EnergyPerGoodBurKWh: 0.042})
	c := waitCard(t, v, "line-a", "the line's figures", func(c plant.Card) bool {
		return c.States["grinding"] == 2 && len(c.Alarms) == 1 && c.OutputToday != nil && *c.OutputToday == 321
	})
	assert.Equal(t, "Line A", c.Name)
	assert.Equal(t, "site:grinding", c.Group)
	assert.Equal(t, "http://127.0.0.1:8080/", c.TwinURL)
	assert.Equal(t, 23, c.States["offline"])
	assert.Equal(t, 25, c.Grinders)
	assert.Equal(t, plant.Alarm{Device: "G03", Code: "E2103", Text: "Spindle overload"}, c.Alarms[0])
	assert.InDelta(t, 0.71, *c.OEE, 1e-9)
	assert.InDelta(t, 12.4, *c.TaktS, 1e-9)
	assert.InDelta(t, 0.042, *c.EnergyPerGoodBurKWh, 1e-9)
	assert.Equal(t, uint64(318), *c.GoodToday)

	// A clean stop publishes the NDEATH: line A is stale, B is not.
	a.stop()
	c = waitCard(t, v, "line-a", "stale", func(c plant.Card) bool { return c.Stale })
	assert.Equal(t, "NDEATH", c.StaleReason)
	assert.False(t, waitCard(t, v, "line-b", "a card", func(plant.Card) bool { return true }).Stale)

	// Started again on its store, the line is born again and live.
	a.start()
	waitCard(t, v, "line-a", "live again", func(c plant.Card) bool { return !c.Stale })
	_ = b
}

// TestView_BrokerKilled kills the broker: the view marks the line stale
// (it cannot tell whether the line lives) and recovers once both are back.
func TestView_BrokerKilled(t *testing.T) {
	broker := mqtttest.MustMosquitto(t)
	v := startView(t, broker.URL())
	a := newLine(t, broker.URL(), "Line A")
	waitCard(t, v, "line-a", "its birth", func(c plant.Card) bool { return !c.Stale })

	broker.Kill()
	c := waitCard(t, v, "line-a", "stale", func(c plant.Card) bool { return c.Stale })
	assert.Equal(t, "plant view lost the broker", c.StaleReason)
	t0 := time.Now()
	require.NoError(t, a.p.Publish(context.Background(), mes.MachineEvent{Machine: "G05", Kind: mes.EventState, SourceTime: t0, State: mes.StateGrinding}))
	broker.Start()
	waitCard(t, v, "line-a", "live and current", func(c plant.Card) bool { return !c.Stale && c.States["grinding"] == 1 })
}

// TestView_AsksForRebirth starts the view after the line was born: the
// view asks for a rebirth on the line's first data and then shows it.
func TestView_AsksForRebirth(t *testing.T) {
	broker := mqtttest.MustMosquitto(t)
	rec := mqtttest.MustRecorder(t, broker.URL(), "spBv1.0/#")
	a := newLine(t, broker.URL(), "Line A")
	rec.WaitFor("the birth", func(ms []mqtttest.Message) bool { return len(ms) > 30 })
	v := startView(t, broker.URL())
	// Wait until the view is subscribed: its first card comes from data.
	deadline := time.Now().Add(mqtttest.Wait)
	for n := 0; len(v.Model().Cards()) == 0 && time.Now().Before(deadline); n++ {
		require.NoError(t, a.p.Publish(context.Background(), mes.MachineEvent{Machine: "G07", Kind: mes.EventSample,
			SourceTime: time.Now(), Sample: &mes.Sample{SpindleSpeed: float64(1000 + n)}}))
		time.Sleep(50 * time.Millisecond)
	}
	c := waitCard(t, v, "line-a", "live after a rebirth", func(c plant.Card) bool { return !c.Stale })
	assert.Equal(t, "Line A", c.Name)
	assert.Equal(t, uint64(2), a.p.Status().Births, "born at start and on the view's request")
}
