package twin

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pilotline/pilotline/mes"
)

// Hub defaults.
const (
	// DefaultTick is how often deltas are sent at most.
	DefaultTick = 100 * time.Millisecond
	// DefaultSendQueue is how many messages may wait for a slow viewer
	// before it is dropped.
	DefaultSendQueue = 64
	// MaxPendingEvents bounds events queued between Publish and the hub's
	// goroutine; beyond it events are discarded (and counted) rather than
	// blocking acquisition.
	MaxPendingEvents = 1 << 16
)

// HubOptions configure a Hub. Zero values take the defaults.
type HubOptions struct {
	Tick           time.Duration // delta coalescing interval; default DefaultTick
	AllowedOrigins []string      // extra browser Origins allowed ("*" = any); same host is always allowed
	SendQueue      int           // per-viewer queue; default DefaultSendQueue
	Logger         *slog.Logger
	// Wall is the clock of staleness: wall time, since a silent machine is
	// a network matter. Zero: the host's clock. (Deltas are paced on the
	// host's clock always.)
	Wall mes.WallClock
	// StaleAfter marks a grinder stale when nothing arrived from it for
	// this long on the local clock; 0 disables it (acquisition's comm_lost
	// is then the only signal).
	StaleAfter time.Duration
}

// Hub streams the live line state to WebSocket viewers: one goroutine (Run)
// owns the model, folds events into it, coalesces changes per tick into
// deltas and fans them out through one bounded queue per viewer.
type Hub struct {
	o        HubOptions
	line     *mes.LineConfig
	upgrader websocket.Upgrader

	mu      sync.Mutex // guards pending, acks and prod
	pending []mes.MachineEvent
	acks    []pendingAck
	prod    *Production
	wake    chan struct{}

	modelMu sync.RWMutex // Run writes the model; Snapshot reads it
	model   *Model

	reqs      chan request
	done      chan struct{}
	started   atomic.Bool
	discarded atomic.Uint64
	viewers   atomic.Int64

	// Owned by Run.
	views       map[string]*view
	flushes     uint64
	lastVersion uint64
	lastNow     time.Time
}

// view is the viewers sharing one filter, and so one encoded stream.
type view struct {
	differ  *differ
	clients map[*client]struct{}
	snap    *websocket.PreparedMessage
	snapSeq uint64
}

type requestKind int

const (
	reqRegister requestKind = iota
	reqResync
	reqUnregister
)

type request struct {
	kind requestKind
	c    *client
}

var _ mes.EventSink = (*Hub)(nil)

// NewHub returns a hub for line. Call Run to start it.
func NewHub(line *mes.LineConfig, o HubOptions) *Hub {
	if o.Tick <= 0 {
		o.Tick = DefaultTick
	}
	if o.SendQueue <= 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &Hub{
		o: o, line: line, model: NewModel(line),
		wake: make(chan struct{}, 1), reqs: make(chan request), done: make(chan struct{}),
		views: map[string]*view{},
	}
	h.upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 8192, CheckOrigin: h.checkOrigin}
	return h
}

// Publish hands machine events to the hub. It never blocks on viewers or
// on the hub's goroutine: events are queued (up to MaxPendingEvents, beyond
// which they are discarded and counted) and folded at the next wake-up.
func (h *Hub) Publish(_ context.Context, events ...mes.MachineEvent) error {
	h.mu.Lock()
	if len(h.pending)+len(events) > MaxPendingEvents {
		h.discarded.Add(uint64(len(events)))
	} else {
		h.pending = append(h.pending, events...)
	}
	h.mu.Unlock()
	h.poke()
	return nil
}

// SetProduction hands the MES side of the line (batches, takt, OEE, burs
// today, energy per bur) to the hub; it never blocks.
func (h *Hub) SetProduction(p Production) {
	// Copy now: the caller may reuse its slices and maps.
	p.Batches = slices.Clone(p.Batches)
	p.Grinders = maps.Clone(p.Grinders)
	if p.OEE != nil {
		o := *p.OEE
		p.OEE = &o
	}
	h.mu.Lock()
	h.prod = &p
	h.mu.Unlock()
	h.poke()
}

// pendingAck is an acknowledgement waiting for the hub's goroutine.
type pendingAck struct {
	machine string
	ack     AlarmAck
}

// FindAlarm returns the active alarm seq of machine and its
// acknowledgement, if any. Safe from any goroutine.
func (h *Hub) FindAlarm(machine string, seq uint64) (mes.Alarm, *AlarmAck, bool) {
	h.modelMu.RLock()
	defer h.modelMu.RUnlock()
	return h.model.FindAlarm(machine, seq)
}

// Acknowledge hands an alarm acknowledgement to the hub, which shows it to
// every viewer at its next flush; it never blocks. An alarm that cleared
// meanwhile, or that someone acknowledged first, keeps what it has.
func (h *Hub) Acknowledge(machine string, ack AlarmAck) {
	h.mu.Lock()
	h.acks = append(h.acks, pendingAck{machine: machine, ack: ack})
	h.mu.Unlock()
	h.poke()
}

func (h *Hub) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Snapshot returns the current line state (unfiltered). Safe from any goroutine.
func (h *Hub) Snapshot() Snapshot {
	h.modelMu.RLock()
	defer h.modelMu.RUnlock()
	return h.model.Snapshot()
}

// Discarded returns how many events were discarded because the hub's
// goroutine fell MaxPendingEvents behind.
func (h *Hub) Discarded() uint64 { return h.discarded.Load() }

// Viewers returns how many viewers are connected.
func (h *Hub) Viewers() int { return int(h.viewers.Load()) }

// Run owns the model until ctx is done: it folds events, sends deltas about
// once per Tick at most (the first change after a quiet tick goes out at once)
// and closes every viewer on return, because http.Server.Shutdown does not
// close hijacked connections. Run may be called once.
func (h *Hub) Run(ctx context.Context) {
	if !h.started.CompareAndSwap(false, true) {
		return
	}
	defer close(h.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	var lastFlush time.Time
	var stale <-chan time.Time
	if h.o.StaleAfter > 0 {
		t := time.NewTicker(max(h.o.StaleAfter/4, 10*time.Millisecond))
		defer t.Stop()
		stale = t.C
	}
	flush := func() {
		lastFlush = wall.Now()
		h.flush()
	}
	// The slack keeps a line that changes exactly once per tick from being
	// held back by each flush's own duration, which would otherwise add up.
	slack := h.o.Tick / 10
	schedule := func() {
		if wait := h.o.Tick - slack - wall.Since(lastFlush); wait <= 0 {
			if armed && !timer.Stop() {
				<-timer.C
			}
			armed = false
			flush()
		} else if !armed {
			timer.Reset(wait)
			armed = true
		}
	}
	for {
		select {
		case <-ctx.Done():
			h.closeAll()
			return
		case <-h.wake:
			h.drain()
			schedule()
		case <-timer.C:
			armed = false
			flush()
		case <-stale:
			h.modelMu.Lock()
			changed := h.model.MarkStale(h.o.Wall.Now().Add(-h.o.StaleAfter))
			h.modelMu.Unlock()
			if changed {
				schedule()
			}
		case r := <-h.reqs:
			switch r.kind {
			case reqRegister:
				h.register(r.c)
				flush()
			case reqResync:
				if !r.c.gone {
					r.c.wantSnap = true
					flush()
				}
			case reqUnregister:
				h.remove(r.c, "")
			}
		}
	}
}

// drain folds the queued events and production into the model.
func (h *Hub) drain() {
	h.mu.Lock()
	events, prod, acks := h.pending, h.prod, h.acks
	h.pending, h.prod, h.acks = nil, nil, nil
	h.mu.Unlock()
	if len(events) == 0 && prod == nil && len(acks) == 0 {
		return
	}
	now := h.o.Wall.Now()
	h.modelMu.Lock()
	for _, ev := range events {
		h.model.Apply(ev)
		if ev.Kind != mes.EventCommLost {
			h.model.Touch(ev.Machine, now)
		}
	}
	if prod != nil {
		h.model.SetProduction(*prod)
	}
	for _, a := range acks {
		h.model.Acknowledge(a.machine, a.ack)
	}
	h.modelMu.Unlock()
}

// flush sends each view its delta, if anything changed, and snapshots to
// the viewers that asked for one.
func (h *Hub) flush() {
	h.modelMu.Lock()
	changed := h.model.version != h.lastVersion || !h.model.now.Equal(h.lastNow)
	var snap Snapshot
	var spans []Span
	if changed || h.anyWantSnap() {
		snap = h.model.Snapshot()
		spans = h.model.takeSpans()
		h.lastVersion, h.lastNow = h.model.version, h.model.now
	}
	h.modelMu.Unlock()
	if !changed && !h.anyWantSnap() {
		return
	}
	h.flushes++
	for _, v := range h.views {
		fs := v.differ.filter.Apply(snap, h.model.batchOf)
		if changed {
			d, ok, err := v.differ.diff(fs, spans)
			if err != nil {
				h.o.Logger.Error("twin delta", "err", err)
				continue
			}
			if ok {
				if msg := h.prepare(d); msg != nil {
					for c := range v.clients {
						if !c.wantSnap {
							h.enqueue(c, msg)
						}
					}
				}
			}
		}
		for c := range v.clients {
			if c.wantSnap {
				c.wantSnap = false
				if msg := h.snapshotMessage(v, fs); msg != nil {
					h.enqueue(c, msg)
				}
			}
		}
	}
}

func (h *Hub) anyWantSnap() bool {
	for _, v := range h.views {
		for c := range v.clients {
			if c.wantSnap {
				return true
			}
		}
	}
	return false
}

// snapshotMessage encodes the view's current snapshot once per sequence
// number, however many viewers connect.
func (h *Hub) snapshotMessage(v *view, fs Snapshot) *websocket.PreparedMessage {
	if v.snap != nil && v.snapSeq == v.differ.seq {
		return v.snap
	}
	fs.Seq = v.differ.seq
	fs.Type = "snapshot"
	v.snap, v.snapSeq = h.prepare(fs), v.differ.seq
	return v.snap
}

func (h *Hub) prepare(msg any) *websocket.PreparedMessage {
	b, err := json.Marshal(msg)
	if err != nil {
		h.o.Logger.Error("twin encode", "err", err)
		return nil
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		h.o.Logger.Error("twin prepare", "err", err)
		return nil
	}
	return pm
}

// enqueue never blocks: a viewer whose queue is full is dropped.
func (h *Hub) enqueue(c *client, msg *websocket.PreparedMessage) {
	select {
	case c.send <- msg:
	default:
		h.o.Logger.Warn("twin viewer dropped", "reason", ReasonSlow, "remote", c.conn.RemoteAddr().String())
		h.remove(c, ReasonSlow)
	}
}

func (h *Hub) register(c *client) {
	key := c.filter.key()
	v := h.views[key]
	if v == nil {
		h.modelMu.RLock()
		s := c.filter.Apply(h.model.Snapshot(), h.model.batchOf)
		h.modelMu.RUnlock()
		// Changes not yet flushed are primed into the new view; other
		// views get them at this flush.
		v = &view{differ: newDiffer(c.filter, h.flushes, s), clients: map[*client]struct{}{}}
		h.views[key] = v
	}
	v.clients[c] = struct{}{}
	c.view, c.wantSnap = v, true
	h.viewers.Add(1)
}

// remove forgets a viewer and tells its writer to close, with reason sent
// first when not empty.
func (h *Hub) remove(c *client, reason string) {
	if c.gone {
		return
	}
	c.gone = true
	h.viewers.Add(-1)
	if v := c.view; v != nil {
		delete(v.clients, c)
		if len(v.clients) == 0 {
			delete(h.views, v.differ.filter.key())
		}
	}
	select {
	case c.kill <- reason:
	default:
	}
}

func (h *Hub) closeAll() {
	for _, v := range h.views {
		for c := range v.clients {
			h.remove(c, ReasonShutdown)
		}
	}
}
