package bolt_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func collect(t *testing.T, s *bolt.EventStore, f mes.EventFilter) []mes.MachineEvent {
	t.Helper()
	var out []mes.MachineEvent
	for e, err := range s.Events(context.Background(), f) {
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

func keys(events []mes.MachineEvent) []string {
	var ks []string
	for _, e := range events {
		ks = append(ks, e.Key())
	}
	return ks
}

func TestEventStore_IdempotentAndOrdered(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	evs := []mes.MachineEvent{
		{Machine: "G02", Kind: mes.EventState, State: mes.StateGrinding, SourceTime: at(30)},
		{Machine: "G01", Kind: mes.EventState, State: mes.StateGrinding, SourceTime: at(10)},
		{Machine: "G01", Kind: mes.EventCounter, Counter: 5, SourceTime: at(20)},
		{Machine: "G01", Kind: mes.EventAlarmRaised, Alarm: &mes.Alarm{Seq: 3, Code: "E2103", Text: "spindle overload"}, SourceTime: at(25)},
		{Machine: "G01", Kind: mes.EventSample, Sample: &mes.Sample{SpindleLoad: 40}, SourceTime: at(15)},
		{Machine: "G02", Kind: mes.EventSample, Sample: &mes.Sample{SpindleLoad: 41}, SourceTime: at(15)},
	}
	require.NoError(t, s.events.Publish(ctx, evs...))
	// Replays: whole batch again, single events again, and duplicates within one call.
	require.NoError(t, s.events.Publish(ctx, evs...))
	require.NoError(t, s.events.Publish(ctx, evs[2], evs[2], evs[4]))
	// Same counter fact with a different receive time is still the same fact.
	dup := evs[2]
	dup.Received = at(99)
	require.NoError(t, s.events.Publish(ctx, dup))

	all := collect(t, s.events, mes.EventFilter{})
	assert.Equal(t, keys([]mes.MachineEvent{evs[1], evs[4], evs[5], evs[2], evs[3], evs[0]}), keys(all), "stored once each, in source time order")
	assert.Equal(t, "spindle overload", all[4].Alarm.Text)

	tests := []struct {
		name string
		f    mes.EventFilter
		want []mes.MachineEvent
	}{
		{"machine", mes.EventFilter{Machine: "G01"}, []mes.MachineEvent{evs[1], evs[4], evs[2], evs[3]}},
		{"machine, no samples", mes.EventFilter{Machine: "G01", Kinds: []mes.EventKind{mes.EventState, mes.EventCounter}}, []mes.MachineEvent{evs[1], evs[2]}},
		{"samples only", mes.EventFilter{Kinds: []mes.EventKind{mes.EventSample}}, []mes.MachineEvent{evs[4], evs[5]}},
		{"samples of one machine", mes.EventFilter{Machine: "G02", Kinds: []mes.EventKind{mes.EventSample}}, []mes.MachineEvent{evs[5]}},
		{"time range [15s, 25s)", mes.EventFilter{From: at(15), To: at(25)}, []mes.MachineEvent{evs[4], evs[5], evs[2]}},
		{"machine and range", mes.EventFilter{Machine: "G01", From: at(11), To: at(26)}, []mes.MachineEvent{evs[4], evs[2], evs[3]}},
		{"nothing", mes.EventFilter{Machine: "G09"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, keys(tt.want), keys(collect(t, s.events, tt.f)))
		})
	}
}

func TestEventStore_ManyEventsInChunks(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	const n = 2000 // several read chunks
	var evs []mes.MachineEvent
	for i := range n {
		m := fmt.Sprintf("G%02d", i%3+1)
		// Out of order on purpose: the store orders by source time.
		evs = append(evs, mes.MachineEvent{Machine: m, Kind: mes.EventCounter, Counter: uint64(i), SourceTime: t0.Add(time.Duration(n-i) * time.Second)})
		if i%4 == 0 {
			evs = append(evs, mes.MachineEvent{Machine: m, Kind: mes.EventSample, Sample: &mes.Sample{PartsCounter: uint64(i)}, SourceTime: t0.Add(time.Duration(n-i)*time.Second + time.Millisecond)})
		}
	}
	require.NoError(t, s.events.Publish(ctx, evs...))
	all := collect(t, s.events, mes.EventFilter{})
	require.Len(t, all, len(evs))
	for i := 1; i < len(all); i++ {
		require.False(t, all[i].SourceTime.Before(all[i-1].SourceTime), "event %d out of order", i)
	}
	want := 0
	for _, e := range evs {
		if e.Machine == "G02" {
			want++
		}
	}
	g2 := collect(t, s.events, mes.EventFilter{Machine: "G02"})
	for _, e := range g2 {
		require.Equal(t, "G02", e.Machine)
	}
	assert.Len(t, g2, want)

	// Stopping early ends the iteration.
	count := 0
	for range s.events.Events(ctx, mes.EventFilter{}) {
		count++
		if count == 10 {
			break
		}
	}
	assert.Equal(t, 10, count)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for _, err := range s.events.Events(cctx, mes.EventFilter{}) {
		assert.ErrorIs(t, err, context.Canceled)
	}
}

func TestEventStore_ConcurrentPublishers(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	const publishers, per = 16, 100
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				e := mes.MachineEvent{Machine: fmt.Sprintf("G%02d", p+1), Kind: mes.EventCounter, Counter: uint64(i), SourceTime: t0.Add(time.Duration(i) * time.Second)}
				// Every event twice, as a reconnecting acquisition would.
				assert.NoError(t, s.events.Publish(ctx, e))
				assert.NoError(t, s.events.Publish(ctx, e))
			}
		}()
	}
	wg.Wait()
	all := collect(t, s.events, mes.EventFilter{})
	assert.Len(t, all, publishers*per)
	seen := map[string]bool{}
	for _, e := range all {
		assert.False(t, seen[e.Key()], "duplicate %s", e.Key())
		seen[e.Key()] = true
	}
}

func TestEventStore_Invalid(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	good := mes.MachineEvent{Machine: "G01", Kind: mes.EventCounter, Counter: 1, SourceTime: t0}
	for name, e := range map[string]mes.MachineEvent{
		"no machine": {Kind: mes.EventCounter, SourceTime: t0},
		"no kind":    {Machine: "G01", SourceTime: t0},
		"NaN":        {Machine: "G01", Kind: mes.EventSample, Sample: &mes.Sample{PowerKW: math.NaN()}, SourceTime: t0},
	} {
		assert.Equal(t, mes.EINVALID, mes.ErrorCode(s.events.Publish(ctx, good, e)), name)
	}
	assert.Empty(t, collect(t, s.events, mes.EventFilter{}), "a call with a bad event stores nothing")
	require.NoError(t, s.events.Publish(ctx))

	require.NoError(t, s.db.Close())
	assert.Equal(t, mes.EINTERNAL, mes.ErrorCode(s.events.Publish(ctx, good)), "publishing to a closed store fails")
}

func TestEventStore_SampleRetention(t *testing.T) {
	clk := newClock()
	db, _ := MustOpenDB(t, bolt.Options{Line: mes.LineClockFrom(clk.Now), Wall: mes.NewWallClock(clk.Now), SampleRetention: time.Hour})
	events := bolt.NewEventStore(db)
	ctx := context.Background()
	now := clk.Now()
	var evs []mes.MachineEvent
	for i := range 120 { // one sample a minute over two hours, and a counter beside each
		at := now.Add(time.Duration(i-120) * time.Minute)
		evs = append(evs,
			mes.MachineEvent{Machine: "G01", Kind: mes.EventSample, Sample: &mes.Sample{PartsCounter: uint64(i)}, SourceTime: at},
			mes.MachineEvent{Machine: "G01", Kind: mes.EventCounter, Counter: uint64(i), SourceTime: at})
	}
	require.NoError(t, events.Publish(ctx, evs...))

	n, err := db.PruneSamples(ctx)
	require.NoError(t, err)
	assert.Equal(t, 60, n, "samples older than one hour are deleted")
	samples := collect(t, events, mes.EventFilter{Kinds: []mes.EventKind{mes.EventSample}})
	require.Len(t, samples, 60)
	assert.False(t, samples[0].SourceTime.Before(now.Add(-time.Hour)))
	assert.Len(t, collect(t, events, mes.EventFilter{Kinds: []mes.EventKind{mes.EventCounter}}), 120, "other events never expire")

	n, err = db.PruneSamples(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	clk.Add(2 * time.Hour)
	n, err = db.PruneSamples(ctx)
	require.NoError(t, err)
	assert.Equal(t, 60, n)
}

func TestEventStore_ReplaysOfEveryKindAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pilotline.db")
	open := func() (*bolt.DB, *bolt.EventStore) {
		db, err := bolt.Open(path, bolt.Options{Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		return db, bolt.NewEventStore(db)
	}
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	facts := []mes.MachineEvent{
		{Machine: "G01", Kind: mes.EventState, State: mes.StateGrinding, Mode: "AUTOMATIC", SourceTime: at(1)},
		{Machine: "G01", Kind: mes.EventState, State: mes.StateIdle, SourceTime: at(1)}, // same instant, other state: another fact
		{Machine: "G01", Kind: mes.EventCounter, Counter: 41, SourceTime: at(2)},
		{Machine: "G01", Kind: mes.EventCycle, Cycle: &mes.Cycle{Seq: 41, Serial: "B000001-00001"}, SourceTime: at(2)},
		{Machine: "G01", Kind: mes.EventCycle, SourceTime: at(2)}, // no record: keyed by time
		{Machine: "G01", Kind: mes.EventAlarmRaised, Alarm: &mes.Alarm{Seq: 9, Code: "E2103"}, SourceTime: at(3)},
		{Machine: "G01", Kind: mes.EventAlarmCleared, Alarm: &mes.Alarm{Seq: 9, Code: "E2103"}, SourceTime: at(4)},
		{Machine: "QC1", Kind: mes.EventMeasurement, Measurement: &mes.Measurement{Seq: 7, Values: map[string]float64{"x": 1}}, SourceTime: at(5)},
		{Machine: "G01", Kind: mes.EventSample, Sample: &mes.Sample{SpindleLoad: 40}, SourceTime: at(5)},
		{Machine: "G01", Kind: mes.EventCommLost, Reason: "timeout", SourceTime: at(6)},
		{Machine: "G01", Kind: mes.EventCommRestored, SourceTime: at(7)},
		{Machine: "R1", Kind: mes.EventRobot, Robot: &mes.RobotStatus{State: mes.StateMoving, At: "G01"}, SourceTime: at(8)},
		{Machine: "OUT", Kind: mes.EventStation, Station: &mes.StationStatus{Count: 3}, SourceTime: at(9)},
		{Machine: "X1", Kind: "vendor_specific", SourceTime: at(10)},
	}
	// Redeliveries of the same facts: received later, and for the kinds
	// keyed by the machine's own sequence, with another source time too.
	replays := make([]mes.MachineEvent, 0, len(facts))
	for _, e := range facts {
		e.Received = at(100)
		switch {
		case e.Kind == mes.EventCounter, e.Cycle != nil, e.Alarm != nil, e.Measurement != nil:
			e.SourceTime = at(200)
		}
		replays = append(replays, e)
	}

	db, events := open()
	require.NoError(t, events.Publish(ctx, facts...))
	want := keys(collect(t, events, mes.EventFilter{}))
	require.Len(t, want, len(facts))
	require.NoError(t, db.Close())

	db, events = open()
	require.NoError(t, events.Publish(ctx, facts...))
	require.NoError(t, events.Publish(ctx, replays...))
	for _, e := range facts {
		require.NoError(t, events.Publish(ctx, e))
	}
	assert.Equal(t, want, keys(collect(t, events, mes.EventFilter{})), "replays after a reopen store nothing")

	next := mes.MachineEvent{Machine: "G01", Kind: mes.EventCounter, Counter: 42, SourceTime: at(2)}
	require.NoError(t, events.Publish(ctx, next))
	assert.Len(t, collect(t, events, mes.EventFilter{}), len(facts)+1, "a new fact is still stored")
	require.NoError(t, db.Close())
}
