package opcua

import (
	"context"
	"log/slog"
	"sync"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

// endpoint is one OPC UA server of the line and the objects it serves. One
// goroutine (run) owns the connection and the objects' event state.
type endpoint struct {
	a        *Acquisition
	cfg      mes.Endpoint
	sec      security
	mode     string
	interval time.Duration // poll interval and heartbeat period
	publish  time.Duration // subscription publishing interval
	objects  []*object
	log      *slog.Logger

	mu   sync.Mutex // guards live
	live *session

	// clock follows the server's clock, for the events acquisition stamps
	// itself (see machineClock)
	clock machineClock

	// machine is the browse name of the machine tool an endpoint of one
	// machine answered with first; a later answer with another one is a
	// different machine at the address, and is not read as this one.
	machine string

	// noTranslate remembers that the server lacks TranslateBrowsePathsToNodeIds.
	// IMPORTANT: it is never probed twice, because gopcua's client treats the
	// ServiceFault as a broken channel and stops its subscription loop (gap,
	// repro: TranslateBrowsePaths against server.New, which answers
	// BadServiceUnsupported, then a subscription publishes nothing more).
	noTranslate bool

	// failures counts the failed connections of the current outage, so
	// that an outage is logged once when it starts and once when it ends,
	// not at every attempt. Only run's goroutine touches them.
	failures    int
	outageSince time.Time
}

func newEndpoint(a *Acquisition, acq mes.Acquisition, e mes.Endpoint) *endpoint {
	mode := acq.Mode
	if e.Mode != "" {
		mode = e.Mode
	}
	iv := time.Duration(acq.PollIntervalMS) * time.Millisecond
	if iv <= 0 {
		iv = 500 * time.Millisecond
	}
	pub := time.Duration(acq.PublishIntervalMS) * time.Millisecond
	if pub <= 0 {
		pub = iv
	}
	return &endpoint{a: a, cfg: e, sec: endpointSecurity(acq, e), mode: mode, interval: iv, publish: pub,
		log: a.log.With("endpoint", e.ID, "url", e.URL)}
}

// requestTimeout bounds every request of a cycle: a server that does not
// answer within one interval is treated as gone, so a dead connection is
// noticed within two intervals instead of at the TCP timeout.
func (e *endpoint) requestTimeout() time.Duration {
	return min(max(e.interval, 250*time.Millisecond), 10*time.Second)
}

func (e *endpoint) connectTimeout() time.Duration {
	return min(max(4*e.interval, 2*time.Second), 15*time.Second)
}

func (e *endpoint) current() *session {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.live
}

func (e *endpoint) setLive(s *session) {
	e.mu.Lock()
	e.live = s
	e.mu.Unlock()
}

// run connects, reads until the connection fails, marks the objects lost and
// reconnects with backoff, until ctx is done.
func (e *endpoint) run(ctx context.Context) {
	bo := backoff{base: min(max(e.interval/2, 100*time.Millisecond), time.Second), max: min(max(10*e.interval, 2*time.Second), 30*time.Second)}
	for ctx.Err() == nil {
		s, err := e.connect(ctx)
		if err == nil {
			if e.failures > 0 {
				e.log.Info("endpoint reconnected", "attempts", e.failures, "down_for", wall.Since(e.outageSince).Round(time.Millisecond))
				e.failures = 0
			}
			e.setLive(s)
			e.markMissing(ctx, s)
			if e.mode == mes.ModeSubscribe {
				err = e.subscribe(ctx, s)
			} else {
				err = e.poll(ctx, s)
			}
			e.setLive(nil)
			bo.reset()
			if ctx.Err() == nil {
				e.down(ctx, err)
			}
			// a stalled server can take its time over CloseSession: do not wait for it
			go s.close()
		} else if ctx.Err() == nil {
			e.down(ctx, err)
		}
		if ctx.Err() != nil {
			return
		}
		if !sleepCtx(ctx, bo.next()) {
			return
		}
	}
}

// down reports every object of the endpoint lost.
func (e *endpoint) down(ctx context.Context, err error) {
	now := wall.Now()
	reason := errText(err)
	e.failures++
	if e.failures == 1 {
		e.outageSince = now
		e.log.Warn("endpoint down; reconnecting (attempts logged at debug level)", "err", reason)
	} else {
		e.log.Debug("reconnect failed", "attempt", e.failures-1, "err", reason)
	}
	lost := false
	for _, o := range e.objects {
		lost = lost || !o.commLostSet
		e.a.setStatus(o.id, func(st *MachineStatus) {
			st.CommOK, st.State, st.LastError = false, mes.StateCommLost, reason
		})
	}
	if !lost {
		return // reported at the start of this outage
	}
	at := e.machineTime(ctx, now)
	var ev []mes.MachineEvent
	for _, o := range e.objects {
		ev = append(ev, receivedAt(o.lost(at, reason), now)...)
	}
	e.a.publish(ctx, ev)
}

// clockWait bounds how long an endpoint that was never read waits for
// another endpoint's clock to stamp its loss with.
const clockWait = 10 * time.Second

// machineTime is the machine's time at local time local: from its own clock,
// or, when it was never read since acquisition started (the endpoint was
// already down, say when the MES restarted during an outage), from the
// clock of the line's most recently read endpoint, waiting up to clockWait
// for one; the local time if none answers. A line's machines share one
// time base in practice (NTP, or the simulator's clock); the MES's own clock
// may be far from it.
func (e *endpoint) machineTime(ctx context.Context, local time.Time) time.Time {
	if e.clock.known() {
		return e.clock.at(local)
	}
	wait := time.NewTimer(clockWait)
	defer wait.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if c := e.a.newestClock(); c != nil {
			return c.at(local)
		}
		select {
		case <-ctx.Done():
			return local
		case <-wait.C:
			return local
		case <-tick.C:
		}
	}
}

// markMissing reports the objects the server does not have as lost.
func (e *endpoint) markMissing(ctx context.Context, s *session) {
	if len(s.notFound) == 0 {
		return
	}
	if !e.clock.known() {
		_ = e.heartbeat(ctx, s) // the server's clock, to stamp the loss with
	}
	now := wall.Now()
	at := e.machineTime(ctx, now)
	var ev []mes.MachineEvent
	for _, o := range s.notFound {
		e.log.Warn("object not found on the server", "object", o.id, "browse_name", o.node)
		ev = append(ev, receivedAt(o.lost(at, "not found on the server"), now)...)
		e.a.setStatus(o.id, func(st *MachineStatus) {
			st.CommOK, st.State, st.LastError = false, mes.StateCommLost, "not found on the server"
		})
	}
	e.a.publish(ctx, ev)
}

// session is one live connection with every node id resolved for it.
type session struct {
	c        *gopcua.Client
	lim      limits
	ids      map[*object][]*ua.NodeID
	snap     map[*object]snapshot
	items    []readRef // every resolved node, objects kept contiguous
	chunks   [][]readRef
	hot      []readRef                        // the nodes read every cycle
	hotCh    [][]readRef                      // hot, split into requests
	warmCh   [][]readRef                      // hot and slow, split into requests: every slowEvery-th cycle
	hotReq   [][]*ua.ReadValueID              // hotCh as request bodies (heartbeat first), built once
	warmReq  [][]*ua.ReadValueID              // warmCh likewise
	allReq   [][]*ua.ReadValueID              // chunks likewise
	cold     map[*object]map[string][]readRef // record fields, by record, read when their trigger changes
	slots    []alarmRing                      // objects whose ring is followed through PL:Alarms/Latest
	cycle    int                              // poll cycles since connecting
	found    []*object
	notFound []*object
	paths    map[*object][][]QName  // each signal's browse path on this server (instances named, mappings applied)
	messages map[*object]*ua.NodeID // each machine's Notification/Messages event notifier
	evObj    map[uint32]*object     // event monitored item handle → machine
}

// readRef is one resolved node of an object.
type readRef struct {
	o    *object
	i    int
	n    *ua.NodeID
	trig trigger // what a change of this node means
	rec  string  // the record it triggers (trigRecord)
}

// trigger tells what a change of a node read every cycle implies.
type trigger uint8

const (
	trigNone   trigger = iota
	trigRecord         // the record rec changed: read its fields
	trigLatest         // PL:Alarms/Latest: new alarms in the ring, read their slots
)

// alarmRing is one object's alarm slots when its ring is followed through
// PL:Alarms/Latest: only the Cleared of raised, uncleared alarms is read
// every cycle, instead of every slot's Seq and Cleared.
type alarmRing struct {
	o       *object
	seq     [AlarmSlots]int     // signal index of each slot's Seq
	cleared [AlarmSlots]readRef // each slot's Cleared (n nil when unresolved)
}

func (s *session) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.c.Close(ctx)
}

// connect opens a session and resolves every object's nodes by browse path.
// IMPORTANT: called after every reconnect; node ids are never reused across
// sessions, because a restarted server may number its nodes differently.
func (e *endpoint) connect(ctx context.Context) (*session, error) {
	// resolving a gateway of a thousand machines takes a while: a millisecond a node
	signals := 0
	for _, o := range e.objects {
		signals += len(o.signals)
	}
	budget := e.connectTimeout() + time.Duration(signals)*time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, e.connectTimeout())
		c, err := dial(cctx, e.cfg.URL, e.sec, e.a.ident, e.connectTimeout(), e.log)
		cancel()
		if err != nil {
			return nil, err
		}
		s := &session{c: c, ids: map[*object][]*ua.NodeID{}, snap: map[*object]snapshot{}}
		probed := !e.noTranslate
		rctx, rcancel := context.WithTimeout(ctx, budget)
		err = e.resolve(rctx, s)
		rcancel()
		if err != nil {
			s.close()
			return nil, err
		}
		if probed && e.noTranslate && e.mode == mes.ModeSubscribe {
			// the failed probe stopped this client's publish loop: start afresh
			s.close()
			continue
		}
		return s, nil
	}
}
