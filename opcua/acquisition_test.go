package opcua

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// recordingSink keeps every published event.
type recordingSink struct {
	mu sync.Mutex
	ev []mes.MachineEvent
}

func (s *recordingSink) Publish(_ context.Context, ev ...mes.MachineEvent) error {
	s.mu.Lock()
	s.ev = append(s.ev, ev...)
	s.mu.Unlock()
	return nil
}

func (s *recordingSink) events() []mes.MachineEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mes.MachineEvent(nil), s.ev...)
}

// of returns the events of one machine and kind.
func (s *recordingSink) of(machine string, kind mes.EventKind) []mes.MachineEvent {
	var out []mes.MachineEvent
	for _, e := range s.events() {
		if e.Machine == machine && e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func testLogger(tb testing.TB) *slog.Logger {
	tb.Helper()
	if os.Getenv("PILOTLINE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// fakeLineConfig is a line of the given machines, each on its own endpoint URL.
func fakeLineConfig(mode string, intervalMS int, machines map[string]string, inspection ...string) *mes.LineConfig {
	c := &mes.LineConfig{Name: "test", Acquisition: mes.Acquisition{Mode: mode, PollIntervalMS: intervalMS, PublishIntervalMS: intervalMS,
		SecurityPolicy: "None", SecurityMode: "None"}}
	insp := map[string]bool{}
	for _, m := range inspection {
		insp[m] = true
	}
	eps := map[string]bool{}
	for m, url := range machines {
		if !eps[url] {
			eps[url] = true
			c.Endpoints = append(c.Endpoints, mes.Endpoint{ID: "EP-" + m, URL: url})
		}
		ep := ""
		for _, e := range c.Endpoints {
			if e.URL == url {
				ep = e.ID
			}
		}
		kind := mes.KindGrinder
		if insp[m] {
			kind = mes.KindInspection
		}
		c.Machines = append(c.Machines, mes.Machine{ID: m, Kind: kind, Endpoint: ep})
	}
	return c
}

// runAcquisition starts acquisition and stops it at cleanup.
func runAcquisition(tb testing.TB, line *mes.LineConfig, sink mes.EventSink) *Acquisition {
	tb.Helper()
	a, err := New(Options{Line: line, DataDir: tb.TempDir(), Sink: sink, Logger: testLogger(tb)})
	require.NoError(tb, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return a
}

func statusOf(a *Acquisition, id string) MachineStatus {
	for _, s := range a.Status() {
		if s.ID == id {
			return s
		}
	}
	return MachineStatus{}
}

const wait = 15 * time.Second

func TestAcquisitionEventsFromFakeLine(t *testing.T) {
	for _, mode := range []string{mes.ModePoll, mes.ModeSubscribe} {
		t.Run(mode, func(t *testing.T) {
			f := startFakeLine(t, []string{"G01", "QC1"}, "QC1")
			sink := &recordingSink{}
			a := runAcquisition(t, fakeLineConfig(mode, 50, map[string]string{"G01": f.URL(), "QC1": f.URL()}, "QC1"), sink)

			require.Eventually(t, func() bool { return statusOf(a, "G01").CommOK && statusOf(a, "QC1").CommOK }, wait, 10*time.Millisecond)
			st := sink.of("G01", mes.EventState)
			require.NotEmpty(t, st)
			assert.Equal(t, mes.StateIdle, st[0].State)
			assert.Equal(t, "Automatic", st[0].Mode)

			f.Set("G01", map[string]any{KeyState: "grinding", KeySpindleLoad: 61.5, KeyParts: uint32(1)})
			require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventCounter)) == 1 }, wait, 10*time.Millisecond)
			require.Eventually(t, func() bool {
				st := sink.of("G01", mes.EventState)
				return st[len(st)-1].State == mes.StateGrinding
			}, wait, 10*time.Millisecond)

			end := time.Now().Truncate(time.Millisecond)
			f.Set("G01", map[string]any{"cycle.Serial": "B1-00001", "cycle.Program": "HEAD-R1", "cycle.ProgramVersion": "3",
				"cycle.Start": end.Add(-time.Minute), "cycle.End": end, "cycle.Energy": 0.12, "cycle.PeakLoad": 80.0,
				"cycle.WheelWear": 4.5, "cycle.DressCount": uint32(2), "cycle.Aborted": false, "cycle.Seq": uint32(3), KeyParts: uint32(3)})
			require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventCycle)) == 1 }, wait, 10*time.Millisecond)
			cyc := sink.of("G01", mes.EventCycle)[0].Cycle
			assert.Equal(t, mes.Cycle{Seq: 3, Serial: "B1-00001", Program: "HEAD-R1", ProgramVersion: "3", WheelWearUM: 4.5,
				DressCount: 2, Start: end.Add(-time.Minute).UTC(), End: end.UTC(), PeakSpindleLoad: 80, EnergyKWh: 0.12}, normCycle(*cyc))
			require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventCounter)) == 3 }, wait, 10*time.Millisecond)
			var counts []uint64
			for _, e := range sink.of("G01", mes.EventCounter) {
				counts = append(counts, e.Counter)
			}
			assert.Equal(t, []uint64{1, 2, 3}, counts, "one counter event per part, none skipped")

			raised := time.Now().Truncate(time.Millisecond)
			f.Set("G01", map[string]any{"alarm.1.Code": "E2103", "alarm.1.Text": "Spindle overload", "alarm.1.Severity": uint16(700),
				"alarm.1.Raised": raised, "alarm.1.Seq": uint32(1), KeyAlarmLatest: uint32(1)})
			require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventAlarmRaised)) == 1 }, wait, 10*time.Millisecond)
			al := sink.of("G01", mes.EventAlarmRaised)[0]
			assert.Equal(t, "E2103", al.Alarm.Code)
			assert.Equal(t, 700, al.Alarm.Severity)
			assert.True(t, al.SourceTime.Equal(raised), "alarm source time is the machine's raise time")
			f.Set("G01", map[string]any{"alarm.1.Cleared": raised.Add(time.Second)})
			require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventAlarmCleared)) == 1 }, wait, 10*time.Millisecond)
			assert.Len(t, sink.of("G01", mes.EventAlarmRaised), 1)

			f.Set("QC1", map[string]any{"measure.Serial": "B1-00001", "measure.HeadDiameter": 1.402, "measure.RadialRunout": 0.004,
				"measure.Time": end, "measure.Seq": uint32(9)})
			require.Eventually(t, func() bool { return len(sink.of("QC1", mes.EventMeasurement)) == 1 }, wait, 10*time.Millisecond)
			ms := sink.of("QC1", mes.EventMeasurement)[0].Measurement
			assert.Equal(t, "B1-00001", ms.Serial)
			assert.InDelta(t, 1.402, ms.Values[mes.CharHeadDiameter], 1e-9)
			assert.InDelta(t, 0.004, ms.Values[mes.CharRadialRunout], 1e-9)
			assert.NotEmpty(t, sink.of("G01", mes.EventSample))

			// dispatch: accepted, then rejected while busy, unknown machine
			ctx := context.Background()
			require.NoError(t, a.Dispatch(ctx, mes.Job{Machine: "G01", Serial: "B1-00002", Program: "HEAD-R1", ProgramVersion: "3"}))
			assert.Equal(t, []fakeJob{{Machine: "G01", Serial: "B1-00002", Program: "HEAD-R1", Version: "3"}}, f.Jobs())
			require.NoError(t, a.Dispatch(ctx, mes.Job{Machine: "G01", Serial: "B1-00003", Program: "HEAD-R1", ProgramVersion: "3"}))
			assert.Len(t, f.Jobs(), 2, "seq follows Accepted")
			f.SetBusy("G01", true)
			err := a.Dispatch(ctx, mes.Job{Machine: "G01", Serial: "B1-00004", Program: "HEAD-R1", ProgramVersion: "3"})
			require.Error(t, err)
			assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
			assert.Contains(t, mes.ErrorMessage(err), "BadInvalidState")
			assert.Len(t, f.Jobs(), 2)
			err = a.Dispatch(ctx, mes.Job{Machine: "G99", Serial: "x", Program: "y"})
			assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))
		})
	}
}

func normCycle(c mes.Cycle) mes.Cycle {
	c.Start, c.End = c.Start.UTC(), c.End.UTC()
	return c
}

func TestAcquisitionReconnectsWithoutDuplicates(t *testing.T) {
	for _, mode := range []string{mes.ModePoll, mes.ModeSubscribe} {
		t.Run(mode, func(t *testing.T) {
			f := startFakeLine(t, []string{"G01"})
			f2 := startFakeLine(t, []string{"G02"})
			sink := &recordingSink{}
			a := runAcquisition(t, fakeLineConfig(mode, 50, map[string]string{"G01": f.URL(), "G02": f2.URL()}), sink)
			f.Set("G01", map[string]any{KeyParts: uint32(5), "cycle.Seq": uint32(5), "cycle.Serial": "S5"})
			require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventCycle)) == 1 && statusOf(a, "G02").CommOK }, wait, 10*time.Millisecond)

			f.stop()
			require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventCommLost)) == 1 }, wait, 10*time.Millisecond)
			assert.False(t, statusOf(a, "G01").CommOK)
			assert.Equal(t, mes.StateCommLost, statusOf(a, "G01").State)
			// the other endpoint keeps updating
			before := statusOf(a, "G02").LastLocal
			require.Eventually(t, func() bool { return statusOf(a, "G02").LastLocal.After(before) }, wait, 10*time.Millisecond)
			assert.True(t, statusOf(a, "G02").CommOK)

			f.Set("G01", map[string]any{KeyParts: uint32(6)})
			require.NoError(t, f.start()) // new node ids: acquisition must resolve again
			require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventCommRestored)) == 1 }, wait, 10*time.Millisecond)
			require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventCounter)) == 2 }, wait, 10*time.Millisecond)
			var counts []uint64
			for _, e := range sink.of("G01", mes.EventCounter) {
				counts = append(counts, e.Counter)
			}
			assert.Equal(t, []uint64{5, 6}, counts)
			assert.Len(t, sink.of("G01", mes.EventCycle), 1, "the same last cycle is not reported twice")
			st := sink.of("G01", mes.EventState)
			assert.Equal(t, mes.StateIdle, st[len(st)-1].State, "state reported again after recovery")
			assert.True(t, statusOf(a, "G01").CommOK)
		})
	}
}

func TestAcquisitionHeartbeatDetectsStalledServer(t *testing.T) {
	f := startFakeLine(t, []string{"G01"})
	p := startProxy(t, f.URL()[len("opc.tcp://"):])
	sink := &recordingSink{}
	a := runAcquisition(t, fakeLineConfig(mes.ModePoll, 100, map[string]string{"G01": p.URL()}), sink)
	require.Eventually(t, func() bool { return statusOf(a, "G01").CommOK }, wait, 10*time.Millisecond)
	p.Stall(true) // TCP stays up, nothing gets through
	stalled := time.Now()
	require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventCommLost)) == 1 }, wait, 5*time.Millisecond)
	t.Logf("stall detected after %v (poll interval 100ms)", time.Since(stalled))
	p.Stall(false)
	require.Eventually(t, func() bool { return statusOf(a, "G01").CommOK }, wait, 10*time.Millisecond)
	assert.Len(t, sink.of("G01", mes.EventCommRestored), 1)
}

func TestChunkReads(t *testing.T) {
	g := newObject("G01", "G01", "EP", objGrinder)
	q := newObject("QC1", "QC1", "EP", objInspection)
	var items []readRef
	for _, o := range []*object{g, q} {
		for i := range o.signals {
			items = append(items, readRef{o: o, i: i, n: ua.NewNumericNodeID(1, uint32(len(items)))})
		}
	}
	tests := []struct {
		name  string
		limit int
	}{{"roomy", 1000}, {"tiny", 32}, {"one", 1}, {"over cap", 5000}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks := chunkReads(items, tt.limit)
			total := 0
			for k, ch := range chunks {
				n := len(ch)
				if k == 0 {
					n++ // heartbeat
				}
				assert.LessOrEqual(t, n, max(min(tt.limit, maxOpsPerRequest), 2))
				size := 0
				for _, it := range ch {
					size += valueSize(it.o.signals[it.i].Type)
				}
				assert.LessOrEqual(t, size, responseBudget)
				total += len(ch)
			}
			assert.Equal(t, len(items), total, "every node read exactly once")
			if tt.limit >= 1000 {
				require.Len(t, chunks, 1, "both machines fit one request")
			}
		})
	}
}

// TestAlarmsBetweenTwoPolls: alarms raised and cleared between two reads
// are still reported, found through PL:Alarms/Latest, whatever the number.
func TestAlarmsBetweenTwoPolls(t *testing.T) {
	f := startFakeLine(t, []string{"G01"})
	sink := &recordingSink{}
	a := runAcquisition(t, fakeLineConfig(mes.ModePoll, 50, map[string]string{"G01": f.URL()}), sink)
	require.Eventually(t, func() bool { return statusOf(a, "G01").CommOK }, wait, 10*time.Millisecond)

	at := time.Now().Truncate(time.Millisecond)
	vals := map[string]any{KeyAlarmLatest: uint32(3)}
	for seq := 1; seq <= 3; seq++ {
		p := "alarm." + string(rune('0'+seq)) + "."
		vals[p+"Seq"], vals[p+"Code"] = uint32(seq), "E"+string(rune('0'+seq))
		vals[p+"Raised"] = at.Add(time.Duration(seq) * time.Second)
		if seq < 3 {
			vals[p+"Cleared"] = at.Add(time.Duration(seq)*time.Second + 500*time.Millisecond)
		}
	}
	f.Set("G01", vals)
	require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventAlarmRaised)) == 3 }, wait, 10*time.Millisecond)
	require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventAlarmCleared)) == 2 }, wait, 10*time.Millisecond)
	var codes []string
	for _, e := range sink.of("G01", mes.EventAlarmCleared) {
		codes = append(codes, e.Alarm.Code)
	}
	assert.ElementsMatch(t, []string{"E1", "E2"}, codes)

	// the one still raised is followed through its Cleared alone
	f.Set("G01", map[string]any{"alarm.3.Cleared": at.Add(10 * time.Second)})
	require.Eventually(t, func() bool { return len(sink.of("G01", mes.EventAlarmCleared)) == 3 }, wait, 10*time.Millisecond)
	assert.Len(t, sink.of("G01", mes.EventAlarmRaised), 3, "nothing raised twice")
}
