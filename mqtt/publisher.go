package mqtt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/pilotline/pilotline/mes"
	spb "github.com/pilotline/pilotline/mqtt/sparkplugb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Defaults and timeouts of a Publisher.
// wall is the host's clock: births, KPI events, throttling and the
// outbox's acknowledgement pacing.
var wall mes.WallClock

const (
	// DefaultMaxPending bounds the events handed over by Publish and not
	// yet in the outbox. Beyond it process samples are discarded (and
	// counted); every other event is still taken up to four times the bound.
	DefaultMaxPending = 100_000
	// DefaultKPIInterval is how often the line's figures go out as an event.
	DefaultKPIInterval = time.Minute
	// DefaultProcessInterval is the least time between two retained
	// process-value messages of one cell in the namespace.
	DefaultProcessInterval = 5 * time.Second
	// lineStateInterval is the least time between two retained line states.
	lineStateInterval = time.Second
	// commitEvery and ackEvery space the publisher's own transactions on
	// the store, which share bbolt's one writer with the line's events;
	// messages go to the broker as soon as they are folded, commit or not.
	commitEvery = 100 * time.Millisecond
	// maxUncommitted commits at once when this many messages wait.
	maxUncommitted = 10_000
	ackEvery       = 250 * time.Millisecond

	sendBatch      = 256 // messages read from the outbox at once
	ackTimeout     = 10 * time.Second
	connectTimeout = 5 * time.Second
	keepAlive      = 10 * time.Second
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 5 * time.Second
	disconnectMS   = 250
)

// Options configure a Publisher.
type Options struct {
	Config Config
	Line   *mes.LineConfig
	Outbox mes.OutboxService
	Logger *slog.Logger
	// Now is the wall clock for births, KPI events and throttling
	// (default the host's wall clock); metric timestamps are the machines' source times.
	Now             func() time.Time
	MaxPending      int           // default DefaultMaxPending
	KPIInterval     time.Duration // default DefaultKPIInterval
	ProcessInterval time.Duration // default DefaultProcessInterval
}

// Status is the publisher's state for health checks and benchmarks.
type Status struct {
	Connected bool   `json:"connected"`
	BdSeq     uint64 `json:"bd_seq"`
	Sent      uint64 `json:"sent"`       // messages the broker took since start
	SentBytes uint64 `json:"sent_bytes"` // their topics and payloads
	Discarded uint64 `json:"discarded"`  // samples discarded because the hand-off was full
	Births    uint64 `json:"births"`     // NBIRTHs published
}

// Publisher publishes the line to the plant bus. It is an mes.EventSink;
// put it after the event store in the chain so it publishes only what the
// MES has made durable.
type Publisher struct {
	cfg  Config
	line *mes.LineConfig
	ob   mes.OutboxService
	log  *slog.Logger
	now  func() time.Time
	opts Options

	mu      sync.Mutex // guards pending and figures: the hand-off
	pending []mes.MachineEvent
	figures *Figures

	wake     chan struct{} // pokes the fold loop
	sendWake chan struct{} // pokes the sender
	// fresh hands each batch to the sender as it is being committed, so a
	// sender that has sent everything before it need not wait for the
	// commit; committed is the Seq of the last message in the outbox.
	fresh     chan []mes.OutboxMessage
	committed atomic.Uint64
	resync    atomic.Bool   // an enqueue failed: the sender reads the outbox again
	birthReq  chan birthReq // sender → fold loop
	rebirth   chan struct{} // NCMD Rebirth → sender
	done      chan struct{} // closed when Run returns
	stopped   atomic.Bool   // Run has returned: Publish keeps nothing more

	// Owned by the fold loop.
	node        *metricSet
	devices     map[string]*metricSet
	order       []*metricSet
	cells       map[string]*cellPub
	ops         map[string]mes.Operation // NC program → route operation
	batchStates map[string]mes.BatchState
	lastFigures *Figures
	lineDirty   bool
	lineSent    time.Time
	tail        uint64 // Seq of the last message queued
	uncommitted []mes.OutboxMessage

	// Owned by the sender; read by Status.
	connected atomic.Bool
	bdSeq     atomic.Uint64
	sent      atomic.Uint64
	sentBytes atomic.Uint64
	birthN    atomic.Uint64
	discarded atomic.Uint64
}

var _ mes.EventSink = (*Publisher)(nil)

// cellPub is what the namespace last showed of one cell.
type cellPub struct {
	state       CellState
	processSent time.Time
}

type birthReq struct {
	bdSeq uint64
	reply chan births
}

// births are the NBIRTH and DBIRTHs of the current state (without seq) and
// the Seq of the last message enqueued before them: messages up to mark
// are history to a host that has seen the births.
type births struct {
	msgs []mes.OutboxMessage
	mark uint64
}

// New returns a publisher; Run connects and publishes.
// Errors: EINVALID (missing line or outbox).
func New(o Options) (*Publisher, error) {
	if o.Line == nil || o.Outbox == nil {
		return nil, mes.Errorf(mes.EINVALID, "mqtt publisher: line and outbox are required")
	}
	if err := ValidBrokerURL(o.Config.URL); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = wall.Now
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.KPIInterval <= 0 {
		o.KPIInterval = DefaultKPIInterval
	}
	if o.ProcessInterval <= 0 {
		o.ProcessInterval = DefaultProcessInterval
	}
	p := &Publisher{
		cfg: o.Config, line: o.Line, ob: o.Outbox, log: o.Logger, now: o.Now, opts: o,
		wake: make(chan struct{}, 1), sendWake: make(chan struct{}, 1), birthReq: make(chan birthReq), fresh: make(chan []mes.OutboxMessage, 4),
		rebirth: make(chan struct{}, 1), done: make(chan struct{}),
		devices: map[string]*metricSet{}, cells: map[string]*cellPub{}, ops: map[string]mes.Operation{},
		batchStates: map[string]mes.BatchState{},
	}
	p.node = newMetricSet("", "", nodeDefs(), 1)
	p.node.set(MetricLineName, o.Line.Name, time.Time{})
	p.node.set(MetricTwinURL, o.Config.TwinURL, time.Time{})
	p.node.set(MetricRebirth, false, time.Time{})
	add := func(id, kind string) {
		s := newMetricSet(id, kind, deviceDefs(kind), uint64(len(p.order)+1)*1000)
		s.set(MetricKind, kind, time.Time{})
		p.devices[id] = s
		p.order = append(p.order, s)
	}
	for _, m := range o.Line.Machines {
		add(m.ID, m.Kind)
	}
	for _, r := range o.Line.Robots {
		add(r.ID, KindRobot)
	}
	for _, s := range o.Line.Stations {
		add(s.ID, s.Kind)
	}
	for _, prod := range o.Line.Products {
		for _, op := range prod.Route {
			if _, ok := p.ops[op.Program]; !ok {
				p.ops[op.Program] = op
			}
		}
	}
	return p, nil
}

// SetTwinURL sets the line's own twin page, shown by the plant view; call
// it before Run.
func (p *Publisher) SetTwinURL(u string) {
	p.cfg.TwinURL = u
	p.node.set(MetricTwinURL, u, time.Time{})
}

// Publish implements mes.EventSink. It never blocks on the broker or the
// store: the events are folded and queued by Run's goroutines.
func (p *Publisher) Publish(_ context.Context, events ...mes.MachineEvent) error {
	if p.stopped.Load() {
		return nil
	}
	p.mu.Lock()
	n := len(p.pending)
	switch {
	case n+len(events) <= p.opts.MaxPending:
		p.pending = append(p.pending, events...)
	case n+len(events) <= 4*p.opts.MaxPending:
		for _, e := range events {
			if e.Kind == mes.EventSample {
				p.discarded.Add(1)
			} else {
				p.pending = append(p.pending, e)
			}
		}
	default:
		p.discarded.Add(uint64(len(events)))
	}
	p.mu.Unlock()
	poke(p.wake)
	return nil
}

// SetFigures hands over the line's latest production figures; it never blocks.
func (p *Publisher) SetFigures(f Figures) {
	f.Batches = slices.Clone(f.Batches)
	p.mu.Lock()
	p.figures = &f
	p.mu.Unlock()
	poke(p.wake)
}

// Status reports the connection and the counters.
func (p *Publisher) Status() Status {
	return Status{
		Connected: p.connected.Load(), BdSeq: p.bdSeq.Load(), Sent: p.sent.Load(), SentBytes: p.sentBytes.Load(),
		Discarded: p.discarded.Load(), Births: p.birthN.Load(),
	}
}

// Run folds, queues and sends until ctx is done, then queues what was
// handed over, publishes the NDEATH and disconnects. Errors: only ctx's.
func (p *Publisher) Run(ctx context.Context) error {
	defer close(p.done)
	st, err := p.ob.Stats(ctx)
	if err != nil {
		return fmt.Errorf("mqtt: read the outbox: %w", err)
	}
	p.tail = st.Tail
	p.committed.Store(st.Tail)
	if st.Queued > 0 {
		p.log.Info("plant bus: messages waiting from before", "queued", st.Queued, "dropped", st.Dropped)
	}
	var wg sync.WaitGroup
	sendCtx, stopSend := context.WithCancel(ctx)
	wg.Add(1)
	go func() { defer wg.Done(); p.sendLoop(sendCtx) }()
	p.foldLoop(ctx)
	stopSend()
	wg.Wait()
	return nil
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// foldLoop owns the metric state and the outbox's tail.
func (p *Publisher) foldLoop(ctx context.Context) {
	kpi := time.NewTicker(p.opts.KPIInterval)
	defer kpi.Stop()
	line := time.NewTicker(lineStateInterval)
	defer line.Stop()
	var commitAt <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			// What Publish took goes to the outbox for the next start.
			p.stopped.Store(true)
			p.step()
			p.commit(context.WithoutCancel(ctx))
			return
		case <-p.wake:
			p.step()
		case <-commitAt:
			commitAt = nil
			p.commit(ctx)
		case <-line.C:
			if p.lineDirty {
				p.queue([]mes.OutboxMessage{p.lineStateMsg()})
			}
		case <-kpi.C:
			if p.lastFigures != nil {
				p.queue([]mes.OutboxMessage{p.uns(TopicKPI, KPIEvent{Time: p.now().UTC(), Figures: *p.lastFigures}, false)})
			}
		case r := <-p.birthReq:
			p.step()
			r.reply <- p.births(r.bdSeq)
		}
		switch {
		case len(p.uncommitted) >= maxUncommitted:
			commitAt = nil
			p.commit(ctx)
		case len(p.uncommitted) > 0 && commitAt == nil:
			commitAt = time.After(commitEvery)
		}
	}
}

// step folds what was handed over into messages and queues them.
func (p *Publisher) step() {
	p.mu.Lock()
	events, fig := p.pending, p.figures
	p.pending, p.figures = nil, nil
	p.mu.Unlock()
	var msgs []mes.OutboxMessage
	msgs = p.foldEvents(msgs, events)
	if fig != nil {
		msgs = p.foldFigures(msgs, fig)
	}
	if p.lineDirty && p.now().Sub(p.lineSent) >= lineStateInterval {
		msgs = append(msgs, p.lineStateMsg())
	}
	p.queue(msgs)
}

// queue gives msgs the Seqs the outbox will assign them (the fold loop is
// its only writer), hands them to the sender at once and keeps them for
// the next commit.
func (p *Publisher) queue(msgs []mes.OutboxMessage) {
	if len(msgs) == 0 {
		return
	}
	for i := range msgs {
		msgs[i].Seq = p.tail + uint64(i) + 1
	}
	p.tail = msgs[len(msgs)-1].Seq
	select {
	case p.fresh <- slices.Clone(msgs):
		poke(p.sendWake)
	default: // the sender is behind: it reads the batch from the outbox
	}
	p.uncommitted = append(p.uncommitted, msgs...)
}

// commit writes the queued messages to the outbox in one transaction.
func (p *Publisher) commit(ctx context.Context) {
	msgs := p.uncommitted
	p.uncommitted = nil
	if len(msgs) == 0 {
		return
	}
	want := msgs[0].Seq
	dropped, err := p.ob.Enqueue(ctx, msgs...)
	if err == nil && msgs[0].Seq != want {
		err = fmt.Errorf("outbox assigned Seq %d, want %d", msgs[0].Seq, want)
	}
	if err != nil {
		p.log.Error("plant bus: queue messages", "messages", len(msgs), "err", err)
		if st, serr := p.ob.Stats(context.WithoutCancel(ctx)); serr == nil {
			p.tail = st.Tail
			p.committed.Store(st.Tail)
		}
		p.resync.Store(true)
		return
	}
	if dropped > 0 {
		p.log.Warn("plant bus: outbox full, oldest messages dropped", "dropped", dropped)
	}
	p.committed.Store(msgs[len(msgs)-1].Seq)
	poke(p.sendWake)
}

func (p *Publisher) cellTopic(cell, leaf string) string {
	return p.cfg.UNSRoot() + "/" + cell + "/" + leaf
}

func (p *Publisher) uns(leaf string, v any, retained bool) mes.OutboxMessage {
	return mes.OutboxMessage{Topic: p.cfg.UNSRoot() + "/" + leaf, Payload: mustJSON(v), QoS: 1, Retained: retained}
}

func (p *Publisher) foldEvents(msgs []mes.OutboxMessage, events []mes.MachineEvent) []mes.OutboxMessage {
	pendingAt := map[*metricSet]time.Time{}
	var touched []*metricSet
	for _, e := range events {
		d := p.devices[e.Machine]
		if d == nil {
			continue
		}
		// One DDATA per instant: a device's changes at the same source time
		// go together, a later change first flushes the earlier ones.
		// Process samples within one fold are the exception: the latest
		// value stands for them (a deadband of one fold, which only a line
		// faster than the publisher ever sees).
		if t, ok := pendingAt[d]; ok && !t.Equal(e.SourceTime) && e.Kind != mes.EventSample {
			msgs = p.appendData(msgs, d)
		} else if !ok {
			touched = append(touched, d)
		}
		pendingAt[d] = e.SourceTime
		d.fold(e)
		msgs = p.appendEvent(msgs, d, e)
	}
	for _, d := range touched {
		msgs = p.appendData(msgs, d)
		msgs = p.appendCell(msgs, d)
	}
	return msgs
}

// appendData adds a DDATA of the device's changed metrics, if any.
func (p *Publisher) appendData(msgs []mes.OutboxMessage, d *metricSet) []mes.OutboxMessage {
	ms := d.changed()
	if len(ms) == 0 {
		return msgs
	}
	ts := uint64(0)
	for _, m := range ms {
		ts = max(ts, m.GetTimestamp())
	}
	b, err := proto.Marshal(&spb.Payload{Timestamp: &ts, Metrics: ms})
	if err != nil {
		p.log.Error("plant bus: encode DDATA", "device", d.ID, "err", err)
		return msgs
	}
	return append(msgs, mes.OutboxMessage{Topic: p.cfg.SparkplugTopic("DDATA", d.ID), Payload: b})
}

// appendEvent adds the namespace's event messages for e.
func (p *Publisher) appendEvent(msgs []mes.OutboxMessage, d *metricSet, e mes.MachineEvent) []mes.OutboxMessage {
	switch e.Kind {
	case mes.EventCycle:
		if c := e.Cycle; c != nil {
			bf := BurFinished{Cell: d.ID, Serial: c.Serial, Program: c.Program, Start: c.Start.UTC(), End: c.End.UTC(),
				CycleS: c.CycleTime().Seconds(), EnergyKWh: c.EnergyKWh, Aborted: c.Aborted, Counter: c.Seq}
			if op, ok := p.ops[c.Program]; ok {
				bf.Operation, bf.OperationName = op.Number, op.Name
			}
			msgs = append(msgs, mes.OutboxMessage{Topic: p.cellTopic(d.ID, TopicBurFinished), Payload: mustJSON(bf), QoS: 1})
		}
	case mes.EventAlarmRaised, mes.EventAlarmCleared:
		if a := e.Alarm; a != nil {
			ae := AlarmEvent{Cell: d.ID, Raised: e.Kind == mes.EventAlarmRaised, Seq: a.Seq, Code: a.Code, Text: a.Text, Severity: a.Severity, Time: e.SourceTime.UTC()}
			msgs = append(msgs, mes.OutboxMessage{Topic: p.cellTopic(d.ID, TopicAlarm), Payload: mustJSON(ae), QoS: 1})
			p.lineDirty = true
		}
	case mes.EventMeasurement:
		if m := e.Measurement; m != nil {
			me := MeasurementEvent{Cell: d.ID, Serial: m.Serial, Values: maps.Clone(m.Values), Time: e.SourceTime.UTC()}
			msgs = append(msgs, mes.OutboxMessage{Topic: p.cellTopic(d.ID, TopicMeasurement), Payload: mustJSON(me), QoS: 1})
		}
	case mes.EventSample:
		c := p.cell(d)
		if s := e.Sample; s != nil && d.Kind == KindGrinder && p.now().Sub(c.processSent) >= p.opts.ProcessInterval {
			c.processSent = p.now()
			cp := CellProcess{Cell: d.ID, SpindleRPM: s.SpindleSpeed, SpindleLoad: s.SpindleLoad, CoolantC: s.CoolantTemp,
				PowerKW: s.PowerKW, EnergyKWh: s.EnergyKWh, WheelDiameter: s.WheelDiameter, WheelWearUM: s.WheelWearUM,
				Serial: s.Serial, Program: s.Program, SourceTime: e.SourceTime.UTC()}
			msgs = append(msgs, mes.OutboxMessage{Topic: p.cellTopic(d.ID, TopicCellProcess), Payload: mustJSON(cp), QoS: 1, Retained: true})
		}
	case mes.EventState:
		if d.Kind == KindGrinder {
			p.lineDirty = true
		}
	}
	return msgs
}

func (p *Publisher) cell(d *metricSet) *cellPub {
	c := p.cells[d.ID]
	if c == nil {
		c = &cellPub{}
		p.cells[d.ID] = c
	}
	return c
}

// appendCell adds the cell's retained state when it differs from the last
// (c.state holds it without its source time).
func (p *Publisher) appendCell(msgs []mes.OutboxMessage, d *metricSet) []mes.OutboxMessage {
	cs := CellState{Cell: d.ID, Kind: d.Kind}
	cs.State, _ = d.get(MetricState).(string)
	cs.Mode, _ = d.get(MetricMode).(string)
	cs.CommOK, _ = d.get(MetricCommOK).(bool)
	cs.Counter, _ = d.get(MetricCounter).(uint64)
	cs.Count, _ = d.get(MetricCount).(uint64)
	if active, _ := d.get(MetricAlarmActive).(bool); active {
		cs.Alarm, _ = d.get(MetricAlarmCode).(string)
	}
	c := p.cell(d)
	if c.state == cs {
		return msgs
	}
	c.state = cs
	for _, t := range d.times {
		if t.After(cs.SourceTime) {
			cs.SourceTime = t
		}
	}
	cs.SourceTime = cs.SourceTime.UTC()
	return append(msgs, mes.OutboxMessage{Topic: p.cellTopic(d.ID, TopicCellState), Payload: mustJSON(cs), QoS: 1, Retained: true})
}

func (p *Publisher) foldFigures(msgs []mes.OutboxMessage, f *Figures) []mes.OutboxMessage {
	now := p.now().UTC()
	for _, b := range f.Batches {
		prev, seen := p.batchStates[b.ID]
		if seen && prev != b.State {
			bt := BatchTransition{Batch: b.ID, Product: b.Product, From: string(prev), To: string(b.State), Seen: now}
			msgs = append(msgs, p.uns(TopicBatch, bt, false))
		}
		p.batchStates[b.ID] = b.State
	}
	n := p.node
	n.set(MetricTaktTarget, f.TaktTargetS, now)
	n.set(MetricTakt, f.TaktS, now)
	for name, v := range map[string]*float64{MetricOEE: f.OEE, MetricAvail: f.Availability, MetricPerf: f.Performance, MetricQuality: f.Quality} {
		if v != nil {
			n.set(name, *v, now)
		}
	}
	n.set(MetricOutputToday, f.OutputToday, now)
	n.set(MetricGoodToday, f.GoodToday, now)
	n.set(MetricEnergyGood, f.EnergyPerGoodBurKWh, now)
	if ms := n.changed(); len(ms) > 0 {
		ts := uint64(now.UnixMilli())
		b, err := proto.Marshal(&spb.Payload{Timestamp: &ts, Metrics: ms})
		if err == nil {
			msgs = append(msgs, mes.OutboxMessage{Topic: p.cfg.SparkplugTopic("NDATA", ""), Payload: b})
			p.lineDirty = true
		}
	}
	f.Batches = nil
	p.lastFigures = f
	return msgs
}

func (p *Publisher) lineStateMsg() mes.OutboxMessage {
	ls := LineState{Line: p.cfg.Line, Name: p.line.Name, TwinURL: p.cfg.TwinURL, States: map[string]int{}, Alarms: []string{}, Figures: p.lastFigures}
	for _, d := range p.order {
		if d.Kind == KindGrinder {
			st, _ := d.get(MetricState).(string)
			if st == "" {
				st = string(mes.StateOffline)
			}
			ls.States[st]++
		}
		if active, _ := d.get(MetricAlarmActive).(bool); active {
			ls.Alarms = append(ls.Alarms, d.ID)
		}
		for _, t := range d.times {
			if t.After(ls.SourceTime) {
				ls.SourceTime = t
			}
		}
	}
	ls.SourceTime = ls.SourceTime.UTC()
	p.lineDirty = false
	p.lineSent = p.now()
	return p.uns(TopicLineState, ls, true)
}

// births builds the NBIRTH and every DBIRTH from the current state.
func (p *Publisher) births(bdSeq uint64) births {
	now := p.now()
	ts := uint64(now.UnixMilli())
	p.node.set(MetricBdSeq, bdSeq, now)
	p.node.set(MetricRebirth, false, now)
	out := births{mark: p.tail}
	b, _ := proto.Marshal(&spb.Payload{Timestamp: &ts, Metrics: p.node.birth(now)})
	out.msgs = append(out.msgs, mes.OutboxMessage{Topic: p.cfg.SparkplugTopic("NBIRTH", ""), Payload: b})
	for _, d := range p.order {
		b, _ := proto.Marshal(&spb.Payload{Timestamp: &ts, Metrics: d.birth(now)})
		out.msgs = append(out.msgs, mes.OutboxMessage{Topic: p.cfg.SparkplugTopic("DBIRTH", d.ID), Payload: b})
	}
	return out
}

// deathPayload is the NDEATH: the bdSeq of its session's NBIRTH.
func (p *Publisher) deathPayload(bdSeq uint64) []byte {
	ts := uint64(p.now().UnixMilli())
	b, _ := proto.Marshal(&spb.Payload{Timestamp: &ts, Metrics: []*spb.Payload_Metric{
		{Name: ptr(MetricBdSeq), Datatype: ptr(uint32(spb.DataType_UInt64)), Timestamp: &ts, Value: &spb.Payload_Metric_LongValue{LongValue: bdSeq}},
	}})
	return b
}

// errSession ends a session: the connection is gone or a publish failed.
var errSession = errors.New("mqtt session ended")

// sendLoop owns the broker connection: it connects (a new bdSeq each
// time), publishes the births, then the outbox in order.
func (p *Publisher) sendLoop(ctx context.Context) {
	backoff := minBackoff
	var bdSeq uint64
	// delivered is the Seq up to which the broker has every message (a
	// QoS 1 acknowledgement covers all before it on the connection); it
	// outlives a session, so what was delivered but not yet removed from
	// the outbox is not sent again after a reconnect.
	var delivered uint64
	first := true
	for ctx.Err() == nil {
		if !first {
			bdSeq = (bdSeq + 1) % 256
		}
		first = false
		err := p.session(ctx, bdSeq, &delivered)
		p.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errSession) {
			backoff = minBackoff
		}
		p.log.Warn("plant bus: disconnected", "broker", p.cfg.URL, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (p *Publisher) session(ctx context.Context, bdSeq uint64, delivered *uint64) error {
	lost := make(chan struct{})
	var lostOnce sync.Once
	o := paho.NewClientOptions().AddBroker(p.cfg.URL).SetClientID(p.cfg.ClientID).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).SetOrderMatters(true).
		SetKeepAlive(keepAlive).SetConnectTimeout(connectTimeout).SetWriteTimeout(ackTimeout).
		SetBinaryWill(p.cfg.SparkplugTopic("NDEATH", ""), p.deathPayload(bdSeq), 1, false).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			lostOnce.Do(func() { close(lost) })
		})
	if p.cfg.Username != "" {
		o.SetUsername(p.cfg.Username).SetPassword(p.cfg.Password)
	}
	if p.cfg.TLS != nil {
		o.SetTLSConfig(p.cfg.TLS)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(connectTimeout) {
		c.Disconnect(0)
		return fmt.Errorf("connect %s: timed out", p.cfg.URL)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("connect %s: %w", p.cfg.URL, err)
	}
	defer c.Disconnect(disconnectMS)
	ncmd := p.cfg.SparkplugTopic("NCMD", "")
	if tok := c.Subscribe(ncmd, 1, p.onNCMD); !tok.WaitTimeout(ackTimeout) || tok.Error() != nil {
		return fmt.Errorf("subscribe %s: %w (%v)", ncmd, errSession, tok.Error())
	}
	p.connected.Store(true)
	p.bdSeq.Store(bdSeq)
	p.log.Info("plant bus: connected", "broker", p.cfg.URL, "client_id", p.cfg.ClientID, "bdSeq", bdSeq)

	var seq uint64 // Sparkplug seq of the next message
	var mark uint64
	birth := func() error {
		reply := make(chan births, 1)
		select {
		case p.birthReq <- birthReq{bdSeq: bdSeq, reply: reply}:
		case <-ctx.Done():
			return ctx.Err()
		}
		var b births
		select {
		case b = <-reply:
		case <-ctx.Done():
			return ctx.Err()
		}
		seq, mark = 0, b.mark
		for _, m := range b.msgs {
			if err := p.send(c, m, &seq, false); err != nil {
				return err
			}
		}
		p.birthN.Add(1)
		return nil
	}
	if err := birth(); err != nil {
		return p.endSession(ctx, c, bdSeq, err)
	}
	cursor, confirmed := *delivered, *delivered
	var acked uint64
	defer func() { *delivered = confirmed }()
	lastAck := wall.Now()
	ack := func() {
		// Only what is committed: a message sent from a batch still being
		// committed is removed by a later Ack.
		upTo := min(confirmed, p.committed.Load())
		if upTo <= acked {
			return
		}
		if err := p.ob.Ack(context.WithoutCancel(ctx), upTo); err != nil {
			p.log.Error("plant bus: remove sent messages from the outbox", "err", err)
			return
		}
		acked, lastAck = upTo, wall.Now()
	}
	var stash []mes.OutboxMessage // a fresh batch taken while idle
	defer ack()
	for {
		select {
		case <-ctx.Done():
			return p.endSession(ctx, c, bdSeq, ctx.Err())
		case <-lost:
			return fmt.Errorf("connection lost: %w", errSession)
		case <-p.rebirth:
			if err := birth(); err != nil {
				return p.endSession(ctx, c, bdSeq, err)
			}
			continue
		default:
		}
		if p.resync.Swap(false) {
			// Sent messages of a failed commit may be in the outbox again
			// under other Seqs; read it from what is acknowledged.
			cursor, confirmed, stash = acked, acked, nil
		}
		msgs := stash
		stash = nil
		if msgs == nil {
			select {
			case b := <-p.fresh:
				msgs = b
			default:
			}
		}
		if len(msgs) > 0 && msgs[0].Seq != cursor+1 {
			msgs = nil // not where the sender is: it reads them from the outbox
		}
		if msgs == nil {
			committed := p.committed.Load()
			var err error
			msgs, err = p.ob.Peek(ctx, cursor, sendBatch)
			if err != nil {
				return p.endSession(ctx, c, bdSeq, err)
			}
			if len(msgs) == 0 {
				// Everything committed before the Peek is sent.
				cursor = max(cursor, committed)
			}
		}
		if len(msgs) == 0 {
			var ackNow <-chan time.Time
			if confirmed > acked {
				// At least a moment: what was sent may still be committing.
				ackNow = time.After(max(ackEvery-wall.Since(lastAck), 20*time.Millisecond))
			}
			select {
			case <-ctx.Done():
			case <-lost:
			case <-p.sendWake:
			case b := <-p.fresh:
				stash = b
			case <-ackNow:
				ack()
			case <-p.rebirth:
				poke(p.rebirth)
			}
			continue
		}
		var sendErr error
		for _, m := range msgs {
			if sendErr = p.send(c, m, &seq, m.Seq <= mark); sendErr != nil {
				break
			}
			cursor = m.Seq
			// A QoS 0 message is known to be at the broker only once a
			// later QoS 1 message on the same connection is acknowledged.
			if m.QoS == 1 {
				confirmed = m.Seq
			}
		}
		if wall.Since(lastAck) >= ackEvery {
			ack()
		}
		if sendErr != nil {
			return sendErr
		}
	}
}

// endSession publishes the NDEATH on a clean stop (the broker publishes
// the Will on an unclean one).
func (p *Publisher) endSession(ctx context.Context, c paho.Client, bdSeq uint64, err error) error {
	if ctx.Err() != nil && c.IsConnectionOpen() {
		tok := c.Publish(p.cfg.SparkplugTopic("NDEATH", ""), 1, false, p.deathPayload(bdSeq))
		tok.WaitTimeout(time.Second)
	}
	return err
}

// send publishes m and waits until paho has written it (QoS 0) or the
// broker acknowledged it (QoS 1). Sparkplug messages get the session's
// next seq and, when queued before the session's births, is_historical.
func (p *Publisher) send(c paho.Client, m mes.OutboxMessage, seq *uint64, historical bool) error {
	payload := m.Payload
	if strings.HasPrefix(m.Topic, Namespace+"/") {
		if historical {
			var pl spb.Payload
			if err := proto.Unmarshal(payload, &pl); err != nil {
				p.log.Error("plant bus: corrupt Sparkplug payload in the outbox, skipped", "seq", m.Seq, "err", err)
				return nil
			}
			for _, mt := range pl.Metrics {
				mt.IsHistorical = ptr(true)
			}
			b, err := proto.Marshal(&pl)
			if err != nil {
				return err
			}
			payload = b
		}
		// The queued payload has no seq: appending the field sets it
		// without decoding the payload (a protobuf field may come in any
		// order). A fresh slice, as m.Payload may be shared.
		b := make([]byte, 0, len(payload)+1+binary.MaxVarintLen64)
		b = append(b, payload...)
		b = protowire.AppendTag(b, seqField, protowire.VarintType)
		payload = protowire.AppendVarint(b, *seq)
		*seq = (*seq + 1) % 256
	}
	tok := c.Publish(m.Topic, m.QoS, m.Retained, payload)
	// paho writes in order on the one connection: a QoS 0 message needs no
	// wait of its own, the next QoS 1 acknowledgement covers it.
	if m.QoS > 0 {
		if !tok.WaitTimeout(ackTimeout) {
			return fmt.Errorf("publish %s: no acknowledgement in %v: %w", m.Topic, ackTimeout, errSession)
		}
		if err := tok.Error(); err != nil {
			return fmt.Errorf("publish %s: %v: %w", m.Topic, err, errSession)
		}
	} else if tok.WaitTimeout(0) && tok.Error() != nil {
		return fmt.Errorf("publish %s: %v: %w", m.Topic, tok.Error(), errSession)
	}
	p.sent.Add(1)
	p.sentBytes.Add(uint64(len(m.Topic) + len(payload)))
	return nil
}

// seqField is the field number of Payload.seq in sparkplug_b.proto.
const seqField = 3

// onNCMD handles the node's commands: "Node Control/Rebirth" = true.
func (p *Publisher) onNCMD(_ paho.Client, msg paho.Message) {
	var pl spb.Payload
	if err := proto.Unmarshal(msg.Payload(), &pl); err != nil {
		p.log.Warn("plant bus: undecodable NCMD", "err", err)
		return
	}
	rebirthAlias := p.node.Defs[p.node.index[MetricRebirth]].Alias
	for _, m := range pl.Metrics {
		if (m.GetName() == MetricRebirth || (m.Name == nil && m.GetAlias() == rebirthAlias)) && m.GetBooleanValue() {
			p.log.Info("plant bus: rebirth requested")
			poke(p.rebirth)
		}
	}
}
