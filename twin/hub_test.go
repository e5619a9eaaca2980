package twin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/twin/twintest"
)

// waitFor bounds every wait in these tests: long enough never to trip on a
// loaded machine, short enough that a hang fails the test rather than the suite.
const waitFor = 20 * time.Second

// MustStartHub runs a hub behind an httptest server on 127.0.0.1 and stops
// both at the end of the test.
func MustStartHub(tb testing.TB, o HubOptions) (*Hub, *httptest.Server, context.CancelFunc) {
	tb.Helper()
	h := NewHub(MustLoadLine(tb), o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	srv := httptest.NewUnstartedServer(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	srv.Listener = ln
	srv.Start()
	tb.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return h, srv, cancel
}

func wsURL(srv *httptest.Server, query string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/twin" + query
}

// viewer is a test WebSocket client that decodes the stream.
type viewer struct {
	tb   testing.TB
	conn *websocket.Conn
}

func dial(tb testing.TB, url string, header http.Header) *viewer {
	tb.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(url, header)
	require.NoError(tb, err)
	resp.Body.Close()
	tb.Cleanup(func() { conn.Close() })
	return &viewer{tb: tb, conn: conn}
}

// message is any stream message: the union of snapshot and delta fields.
type message struct {
	Type   string `json:"type"`
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
	raw    []byte
}

func (v *viewer) next() message {
	v.tb.Helper()
	require.NoError(v.tb, v.conn.SetReadDeadline(time.Now().Add(waitFor)))
	_, b, err := v.conn.ReadMessage()
	require.NoError(v.tb, err)
	var m message
	require.NoError(v.tb, json.Unmarshal(b, &m))
	m.raw = b
	return m
}

func (v *viewer) snapshot() Snapshot {
	v.tb.Helper()
	m := v.next()
	require.Equal(v.tb, "snapshot", m.Type)
	var s Snapshot
	require.NoError(v.tb, json.Unmarshal(m.raw, &s))
	return s
}

func (v *viewer) delta() Delta {
	v.tb.Helper()
	m := v.next()
	require.Equal(v.tb, "delta", m.Type, string(m.raw))
	var d Delta
	require.NoError(v.tb, json.Unmarshal(m.raw, &d))
	return d
}

func stateEvent(id string, s mes.MachineState, t time.Time) mes.MachineEvent {
	return mes.MachineEvent{Machine: id, Kind: mes.EventState, SourceTime: t, State: s}
}

func TestHub_SnapshotThenDeltas(t *testing.T) {
	h, srv, _ := MustStartHub(t, HubOptions{Tick: 10 * time.Millisecond})
	v := dial(t, wsURL(srv, ""), nil)
	s := v.snapshot()
	require.Len(t, s.Grinders, 25)
	assert.Equal(t, "G01", s.Grinders[0].ID)

	require.NoError(t, h.Publish(context.Background(), stateEvent("G07", mes.StateGrinding, at(1))))
	d := v.delta()
	assert.Equal(t, s.Seq+1, d.Seq)
	require.Len(t, d.Grinders, 1)
	assert.JSONEq(t, `"G07"`, string(d.Grinders[0]["id"]))
	assert.JSONEq(t, `"grinding"`, string(d.Grinders[0]["state"]))
	assert.NotContains(t, d.Grinders[0], "spindle_rpm", "only changed fields travel")
	require.Len(t, d.Spans, 1)
	require.NoError(t, s.ApplyDelta(d))
	assert.True(t, s.Src.Equal(at(1)), "the source time rides along")
	assert.Equal(t, mes.StateGrinding, grinder(t, s, "G07").State)
}

// TestHub_StreamReproducesTheLine runs the generator through the hub and
// checks that a viewer folding the deltas ends where a fresh viewer starts.
func TestHub_StreamReproducesTheLine(t *testing.T) {
	h, srv, _ := MustStartHub(t, HubOptions{Tick: 5 * time.Millisecond})
	v := dial(t, wsURL(srv, ""), nil)
	s := v.snapshot()
	g := twintest.NewGenerator(MustLoadLine(t), 3, t0)
	g.AlarmEvery = time.Hour
	require.NoError(t, h.Publish(context.Background(), g.Start()...))
	for range 120 {
		require.NoError(t, h.Publish(context.Background(), g.Step(30*time.Second)...))
	}
	// A second viewer forces a flush and tells which sequence number the
	// first must reach.
	fresh := dial(t, wsURL(srv, ""), nil).snapshot()
	for s.Seq < fresh.Seq {
		require.NoError(t, s.ApplyDelta(v.delta()))
	}
	assert.Equal(t, encode(t, fresh), encode(t, s))
	assert.Positive(t, s.Output.Count, "burs reached the tray")
}

func TestHub_SlowViewerDroppedOthersServed(t *testing.T) {
	h, srv, _ := MustStartHub(t, HubOptions{Tick: time.Millisecond, SendQueue: 4})
	fast := dial(t, wsURL(srv, ""), nil)
	fastSnap := fast.snapshot()

	// The slow viewer never reads, behind a tiny receive buffer.
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
		}}
		return nd.Dial(network, addr)
	}}
	slow, resp, err := d.Dial(wsURL(srv, ""), nil)
	require.NoError(t, err)
	resp.Body.Close()
	defer slow.Close()
	// The handshake ends before the hub counts the viewer: without this
	// wait the loop below could see one viewer and never load the slow one.
	require.Eventually(t, func() bool { return h.Viewers() == 2 }, waitFor, time.Millisecond)

	// Keep the line busy until the hub gives up on the slow viewer, while
	// the fast one reads every delta in order.
	type result struct {
		seq uint64
		err error
	}
	fastDone := make(chan result, 1)
	stop := make(chan struct{})
	go func() {
		s := fastSnap
		for {
			select {
			case <-stop:
				fastDone <- result{seq: s.Seq}
				return
			default:
			}
			_ = fast.conn.SetReadDeadline(time.Now().Add(waitFor))
			var d Delta
			if err := fast.conn.ReadJSON(&d); err != nil {
				fastDone <- result{err: err}
				return
			}
			if err := s.ApplyDelta(d); err != nil {
				fastDone <- result{err: err}
				return
			}
		}
	}()
	g := twintest.NewGenerator(MustLoadLine(t), 5, t0)
	g.SampleEvery = time.Second
	require.NoError(t, h.Publish(context.Background(), g.Start()...))
	deadline := time.Now().Add(waitFor)
	// Big production updates (a long batch list) fill the slow viewer's
	// socket buffers within a few messages.
	batches := make([]BatchProgress, 2000)
	for i := range batches {
		batches[i] = BatchProgress{ID: fmt.Sprintf("B%06d", i), ProductName: strings.Repeat("x", 200)}
	}
	for i := 0; h.Viewers() > 1; i++ {
		require.True(t, time.Now().Before(deadline), "slow viewer never dropped")
		batches[0].Completed = i
		h.SetProduction(Production{Batches: batches})
		require.NoError(t, h.Publish(context.Background(), g.Step(5*time.Second)...))
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	// One more change, so the fast reader wakes up to see stop.
	require.NoError(t, h.Publish(context.Background(), g.Step(time.Minute)...))
	r := <-fastDone
	require.NoError(t, r.err, "the fast viewer saw every delta in order")
	assert.Greater(t, r.seq, fastSnap.Seq)
	assert.Equal(t, 1, h.Viewers())

	// The slow viewer's stream ends after whatever was buffered. The
	// "dropped" notice is best effort: its buffers were full.
	require.NoError(t, slow.SetReadDeadline(time.Now().Add(waitFor)))
	for {
		_, b, err := slow.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				assert.Equal(t, websocket.ClosePolicyViolation, ce.Code)
			}
			assert.NotErrorIs(t, err, os.ErrDeadlineExceeded, "the hub closed the connection")
			break
		}
		if strings.Contains(string(b), `"dropped"`) {
			assert.Contains(t, string(b), ReasonSlow)
		}
	}
}

func TestHub_ResyncAfterGap(t *testing.T) {
	h, srv, _ := MustStartHub(t, HubOptions{Tick: time.Millisecond})
	v := dial(t, wsURL(srv, ""), nil)
	s := v.snapshot()
	require.NoError(t, h.Publish(context.Background(), stateEvent("G01", mes.StateGrinding, at(1))))
	_ = v.delta() // lost
	require.NoError(t, h.Publish(context.Background(), stateEvent("G02", mes.StateAlarm, at(2))))
	d := v.delta()
	require.Error(t, s.ApplyDelta(d), "a gap is detected")

	require.NoError(t, v.conn.WriteJSON(map[string]string{"type": "resync"}))
	var fresh Snapshot
	for {
		m := v.next()
		if m.Type == "snapshot" {
			require.NoError(t, json.Unmarshal(m.raw, &fresh))
			break
		}
	}
	assert.GreaterOrEqual(t, fresh.Seq, d.Seq)
	assert.Equal(t, mes.StateGrinding, grinder(t, fresh, "G01").State)
	assert.Equal(t, mes.StateAlarm, grinder(t, fresh, "G02").State)

	require.NoError(t, h.Publish(context.Background(), stateEvent("G03", mes.StateIdle, at(3))))
	next := v.delta()
	require.NoError(t, fresh.ApplyDelta(next), "the stream continues from the fresh snapshot")
}

func TestHub_Origin(t *testing.T) {
	_, srv, _ := MustStartHub(t, HubOptions{AllowedOrigins: []string{"http://hmi.plant.local:8080"}})
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{srv.URL, true}, // same host
		{"http://hmi.plant.local:8080", true},
		{"http://evil.example", false},
		{"http://127.0.0.1:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			hdr := http.Header{}
			if tt.origin != "" {
				hdr.Set("Origin", tt.origin)
			}
			conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, ""), hdr)
			if tt.ok {
				require.NoError(t, err)
				conn.Close()
				return
			}
			require.ErrorIs(t, err, websocket.ErrBadHandshake)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		})
	}
}

func TestHub_Filter(t *testing.T) {
	h, srv, _ := MustStartHub(t, HubOptions{Tick: time.Millisecond})
	v := dial(t, wsURL(srv, "?grinders=G01,G02"), nil)
	s := v.snapshot()
	require.Len(t, s.Grinders, 2)
	require.NotNil(t, s.Filter)
	assert.Len(t, s.Timeline, 2)

	require.NoError(t, h.Publish(context.Background(), stateEvent("G05", mes.StateAlarm, at(1))))
	require.NoError(t, h.Publish(context.Background(), stateEvent("G02", mes.StateGrinding, at(2))))
	for {
		d := v.delta()
		for _, f := range d.Grinders {
			assert.NotEqual(t, `"G05"`, string(f["id"]), "a filtered-out grinder never shows")
		}
		require.NoError(t, s.ApplyDelta(d))
		if grinder(t, s, "G02").State == mes.StateGrinding {
			break
		}
	}

	for _, q := range []string{"?grinders=G99", "?grinders=QC1", "?batch=bad%20id"} {
		_, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, q), nil)
		require.Error(t, err, q)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
	}
}

func TestHub_ShutdownClosesViewers(t *testing.T) {
	h, srv, cancel := MustStartHub(t, HubOptions{})
	v := dial(t, wsURL(srv, ""), nil)
	_ = v.snapshot()
	require.Equal(t, 1, h.Viewers())
	cancel()
	require.NoError(t, v.conn.SetReadDeadline(time.Now().Add(waitFor)))
	_, _, err := v.conn.ReadMessage()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, websocket.CloseGoingAway, ce.Code)

	<-h.done
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, ""), nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

func TestHub_PublishNeverBlocks(t *testing.T) {
	h := NewHub(MustLoadLine(t), HubOptions{}) // not running: nobody drains
	ev := stateEvent("G01", mes.StateIdle, at(1))
	batch := make([]mes.MachineEvent, 1024)
	for i := range batch {
		batch[i] = ev
	}
	for range MaxPendingEvents/len(batch) + 2 {
		require.NoError(t, h.Publish(context.Background(), batch...))
	}
	assert.Equal(t, uint64(2*len(batch)), h.Discarded())
}

func TestHub_StaleAfter(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	h := NewHub(MustLoadLine(t), HubOptions{StaleAfter: time.Minute, Wall: mes.NewWallClock(clock)})
	h.Publish(context.Background(), stateEvent("G01", mes.StateIdle, at(1)))
	h.drain()
	h.model.MarkStale(now.Add(-time.Minute))
	assert.Equal(t, CommOK, grinder(t, h.Snapshot(), "G01").Comm)
	h.model.MarkStale(now.Add(time.Second))
	g := grinder(t, h.Snapshot(), "G01")
	assert.Equal(t, CommStale, g.Comm)
	assert.True(t, g.LastData.Equal(at(1)))
	assert.Equal(t, CommNever, grinder(t, h.Snapshot(), "G02").Comm, "never-seen grinders are not stale")
}
