package sim

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
	pl "github.com/pilotline/pilotline/opcua"
)

// Endpoint ids besides the per-machine ones.
const (
	CellEndpoint    = "CELL" // robots and stations in the per-machine layout
	GatewayEndpoint = "GW"   // every machine, robot and station in the gateway layout
)

// DefaultTick is how often, in real time, the simulated clock is advanced
// and continuous values (spindle load, axes, power…) are refreshed.
const DefaultTick = 100 * time.Millisecond

// Options configures a simulated line.
type Options struct {
	Line     *mes.LineConfig
	Speed    float64 // simulated seconds per real second; default 1
	Seed     int64   // deterministic randomness (per-machine RNG seeded from Seed and machine index)
	PortBase int     // 0: free ports chosen at start; N: ports N, N+1, … in a stable order
	Autorun  bool    // run without an MES: the simulator dispatches jobs to itself along the first product's route
	Start    time.Time
	// Clock, if set, is the line clock the simulated line runs on: its
	// machines' clocks read line time, and Start and Speed are the clock's.
	Clock  *mes.LineClock
	Logger *slog.Logger
	// Tick is the real-time step of the simulation loop; default DefaultTick.
	Tick time.Duration
}

// Line is a running simulated line. Its methods are safe for concurrent use.
type Line struct {
	cfg      *mes.LineConfig
	sim      mes.Simulation
	log      *slog.Logger
	speed    float64
	tick     time.Duration
	seed     int64
	simStart time.Time
	realT0   time.Time
	clk      *mes.LineClock // line clock followed, or nil: simStart + real time × speed
	wall     mes.WallClock  // paces the simulation loop

	mu       sync.Mutex // guards the simulation state below
	now      time.Time  // simulated time processed so far
	queue    eventQueue
	seq      uint64
	machines []*machine
	byID     map[string]*machine
	robots   []*robot
	robotBy  map[string]*robot
	stations map[string]*station
	mag, out *station
	programs map[string]program
	auto     *autorun
	// observe, when set, receives every fact a machine reports, stamped
	// with simulated time, as acquisition would store it. l.mu is held.
	observe func(mes.MachineEvent)

	endpoints []*endpoint
	epBy      map[string]*endpoint

	tickStart atomic.Int64 // wall clock (UnixNano) of the tick loop's start: ticks fall on it plus whole ticks

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// program is an NC program of a route operation.
type program struct {
	op      mes.Operation
	index   int // position on the route
	product *mes.Product
	hash    string
}

// ProgramHash is the hex SHA-256 of a program's name followed by its version,
// as the simulated machines report it.
func ProgramHash(name, version string) string {
	h := sha256.Sum256([]byte(name + version))
	return hex.EncodeToString(h[:])
}

// Start builds the line of o.Line and serves it; it returns once every
// endpoint is listening. ctx bounds the line's life: when it is done the
// line stops as if closed. Errors: EINVALID for bad options or
// configuration, EINTERNAL when a port cannot be opened.
func Start(ctx context.Context, o Options) (*Line, error) {
	if o.Line == nil {
		return nil, mes.Errorf(mes.EINVALID, "sim: no line configuration")
	}
	cfg, err := copyConfig(o.Line)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Speed <= 0 {
		o.Speed = 1
	}
	if o.Tick <= 0 {
		o.Tick = DefaultTick
	}
	var wall mes.WallClock
	if o.Clock != nil {
		o.Start, o.Speed = o.Clock.Now(), o.Clock.Speed()
	}
	if o.Start.IsZero() {
		o.Start = wall.Now()
	}
	o.Start = o.Start.Round(0).Truncate(uaTick)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PortBase < 0 || o.PortBase > 65535 {
		return nil, mes.Errorf(mes.EINVALID, "sim: port base %d out of range", o.PortBase)
	}
	l := &Line{
		cfg: cfg, sim: cfg.Simulation, log: o.Logger, speed: o.Speed, tick: o.Tick, seed: o.Seed,
		simStart: o.Start, now: o.Start, clk: o.Clock, wall: wall,
		byID: map[string]*machine{}, robotBy: map[string]*robot{}, stations: map[string]*station{},
		programs: map[string]program{}, epBy: map[string]*endpoint{},
	}
	l.buildPrograms()
	l.buildPlant()
	if err := l.buildEndpoints(o.PortBase); err != nil {
		return nil, err
	}
	if o.Autorun {
		l.auto = newAutorun(l)
	}
	l.mu.Lock()
	for _, m := range l.machines {
		m.refresh()
		m.publishAll()
	}
	for _, r := range l.robots {
		r.publish()
	}
	for _, s := range l.stations {
		s.publish()
	}
	l.kickAutorun()
	l.mu.Unlock()

	l.ctx, l.cancel = context.WithCancel(ctx)
	l.realT0 = l.wall.Now()
	for _, e := range l.endpoints {
		if err := l.startEndpoint(e, o.PortBase == 0); err != nil {
			l.cancel()
			for _, e := range l.endpoints {
				_ = e.close()
			}
			return nil, err
		}
	}
	for _, e := range l.endpoints {
		l.wg.Add(1)
		go func() { defer l.wg.Done(); e.notifier(l.ctx) }()
	}
	l.wg.Add(1)
	go l.run()
	go func() { <-l.ctx.Done(); _ = l.Close() }()
	l.log.Info("simulated line started", "line", cfg.Name, "endpoints", len(l.endpoints), "speed", o.Speed, "autorun", o.Autorun)
	return l, nil
}

func copyConfig(c *mes.LineConfig) (*mes.LineConfig, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, mes.Errorf(mes.EINVALID, "sim: line configuration: %v", err)
	}
	var out mes.LineConfig
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, mes.Errorf(mes.EINVALID, "sim: line configuration: %v", err)
	}
	return &out, nil
}

func (l *Line) buildPrograms() {
	for pi := range l.cfg.Products {
		p := &l.cfg.Products[pi]
		for i, op := range p.Route {
			if _, ok := l.programs[op.Program]; ok {
				continue
			}
			l.programs[op.Program] = program{op: op, index: i, product: p, hash: ProgramHash(op.Program, op.ProgramVersion)}
		}
	}
}

func (l *Line) buildPlant() {
	for _, s := range l.cfg.Stations {
		st := &station{l: l, cfg: s}
		if s.Kind == mes.KindMagazine {
			st.count = uint32(s.Capacity)
			if l.mag == nil {
				l.mag = st
			}
		} else if l.out == nil {
			l.out = st
		}
		l.stations[s.ID] = st
	}
	for _, r := range l.cfg.Robots {
		rb := &robot{l: l, cfg: r, state: mes.StateIdle}
		if len(r.Serves) > 0 {
			rb.at = r.Serves[0]
		}
		l.robots = append(l.robots, rb)
		l.robotBy[r.ID] = rb
	}
	for i, mc := range l.cfg.Machines {
		m := newMachine(l, i, mc)
		l.machines = append(l.machines, m)
		l.byID[mc.ID] = m
	}
}

func (l *Line) robotFor(m mes.Machine) *robot {
	for _, r := range l.robots {
		if slices.Contains(r.cfg.Serves, m.ID) {
			return r
		}
	}
	for _, r := range l.robots {
		if r.cfg.Row == m.Row {
			return r
		}
	}
	// No robot: the machine has its own loader, never shared.
	return &robot{l: l, cfg: mes.Robot{ID: m.ID + "-loader", Serves: []string{m.ID}}, state: mes.StateIdle, at: m.ID, hidden: true}
}

func (l *Line) buildEndpoints(portBase int) error {
	host := l.sim.Host
	if host == "" {
		host = "127.0.0.1"
	}
	newEP := func(id string) *endpoint {
		e := &endpoint{line: l, id: id, host: host, sp: newSpace(), dirty: map[*node]struct{}{}, wake: make(chan struct{}, 1)}
		if portBase > 0 {
			e.port = portBase + len(l.endpoints)
			if e.port > 65535 {
				return nil
			}
		}
		l.endpoints = append(l.endpoints, e)
		l.epBy[id] = e
		return e
	}
	cellOn := func(e *endpoint) {
		e.sp.cell = e.sp.add(nsPL, 0, ua.NodeClassObject, "Cell")
		e.sp.cell.typeDef = e.sp.typeRef(idFolderType)
		e.sp.link(e.sp.objects, e.sp.cell, id.Organizes)
		e.sp.cell.refs = append(e.sp.cell.refs, ref{typ: id.HasTypeDefinition, forward: true, to: e.sp.foreign[idFolderType]})
		for _, r := range l.robots {
			obj := e.sp.object(e.sp.cell, pl.QName{NS: pl.NsPL, Name: r.cfg.ID}, idBaseObjectType, id.HasComponent)
			r.ep, r.vars = e, e.sp.signalTree(obj, pl.CellSignals(true))
		}
		for _, s := range l.cfg.Stations {
			st := l.stations[s.ID]
			obj := e.sp.object(e.sp.cell, pl.QName{NS: pl.NsPL, Name: s.ID}, idBaseObjectType, id.HasComponent)
			st.ep, st.vars = e, e.sp.signalTree(obj, pl.CellSignals(false))
		}
	}
	if l.sim.Layout == mes.LayoutGateway {
		e := newEP(GatewayEndpoint)
		if e == nil {
			return mes.Errorf(mes.EINVALID, "sim: port base %d leaves no room for the endpoints", portBase)
		}
		for _, m := range l.machines {
			m.attach(e)
		}
		cellOn(e)
		return nil
	}
	for _, m := range l.machines {
		e := newEP(m.cfg.ID)
		if e == nil {
			return mes.Errorf(mes.EINVALID, "sim: port base %d leaves no room for the endpoints", portBase)
		}
		m.attach(e)
	}
	if len(l.robots) > 0 || len(l.stations) > 0 {
		e := newEP(CellEndpoint)
		if e == nil {
			return mes.Errorf(mes.EINVALID, "sim: port base %d leaves no room for the endpoints", portBase)
		}
		cellOn(e)
	}
	return nil
}

func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (l *Line) startEndpoint(e *endpoint, pick bool) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if pick {
			if e.port, err = freePort(e.host); err != nil {
				return mes.Errorf(mes.EINTERNAL, "sim: endpoint %s: %v", e.id, err)
			}
		}
		if err = e.start(l.ctx); err == nil {
			return nil
		}
		if !pick {
			break
		}
	}
	return mes.Errorf(mes.EINTERNAL, "sim: endpoint %s: %v", e.id, err)
}

// Close stops the simulation and every endpoint. It is idempotent.
func (l *Line) Close() error {
	var errs []error
	l.closeOnce.Do(func() {
		l.cancel()
		l.wg.Wait()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, e := range l.endpoints {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := e.close(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	})
	return errors.Join(errs...)
}

// Endpoints lists the line's endpoints in port order: one per machine (ID
// the machine id) and CellEndpoint for robots and stations, or the single
// GatewayEndpoint.
func (l *Line) Endpoints() []mes.Endpoint {
	out := make([]mes.Endpoint, len(l.endpoints))
	for i, e := range l.endpoints {
		e.mu.Lock()
		out[i] = e.endpoint()
		e.mu.Unlock()
	}
	return out
}

// Bind returns a deep copy of c with Endpoints set to the simulator's and
// every machine, robot and station pointing at the endpoint that serves it.
func (l *Line) Bind(c *mes.LineConfig) *mes.LineConfig {
	out, err := copyConfig(c)
	if err != nil {
		return nil
	}
	out.Endpoints = l.Endpoints()
	serving := func(id string) string {
		if l.sim.Layout == mes.LayoutGateway {
			return GatewayEndpoint
		}
		if _, ok := l.epBy[id]; ok {
			return id
		}
		return CellEndpoint
	}
	for i := range out.Machines {
		out.Machines[i].Endpoint = serving(out.Machines[i].ID)
	}
	for i := range out.Robots {
		out.Robots[i].Endpoint = serving(out.Robots[i].ID)
	}
	for i := range out.Stations {
		out.Stations[i].Endpoint = serving(out.Stations[i].ID)
	}
	return out
}

// Now is the simulated clock.
func (l *Line) Now() time.Time {
	if l.realT0.IsZero() {
		return l.simStart
	}
	return l.clock()
}

// clock is the simulated time now. Simulated times are kept to OPC UA's
// DateTime resolution (100 ns) so that a time read over OPC UA equals the
// simulator's own.
func (l *Line) clock() time.Time {
	if l.clk != nil {
		return l.clk.Now().Truncate(uaTick)
	}
	return l.simStart.Add(time.Duration(float64(l.wall.Since(l.realT0)) * l.speed)).Truncate(uaTick)
}

const uaTick = 100 * time.Nanosecond

func (l *Line) endpointByID(id string) (*endpoint, error) {
	e, ok := l.epBy[id]
	if !ok {
		return nil, mes.Errorf(mes.ENOTFOUND, "sim: no endpoint %q", id)
	}
	return e, nil
}

// StopEndpoint kills one endpoint: its connections drop and every new one
// is reset, as by a closed port; the machines behind it keep running. The
// port stays reserved, so that nothing else takes it before StartEndpoint.
// Errors: ENOTFOUND.
func (l *Line) StopEndpoint(id string) error {
	e, err := l.endpointByID(id)
	if err != nil {
		return err
	}
	e.halt()
	return nil
}

// StartEndpoint restarts a stopped endpoint on the same port; it returns
// once the port is listening. Errors: ENOTFOUND, EINTERNAL.
func (l *Line) StartEndpoint(id string) error {
	e, err := l.endpointByID(id)
	if err != nil {
		return err
	}
	if err := l.startEndpoint(e, false); err != nil {
		return err
	}
	e.poke()
	return nil
}

// Stall makes an endpoint keep accepting TCP connections but stop answering
// requests (on = true), or answer again (on = false). Errors: ENOTFOUND.
func (l *Line) Stall(id string, on bool) error {
	e, err := l.endpointByID(id)
	if err != nil {
		return err
	}
	e.setStall(on)
	return nil
}

func (l *Line) machine(id string) (*machine, error) {
	m, ok := l.byID[id]
	if !ok {
		return nil, mes.Errorf(mes.ENOTFOUND, "sim: no machine %q", id)
	}
	return m, nil
}

// SetMaintenance puts a machine into planned maintenance (at once when idle,
// otherwise when its current work ends) or releases it. Errors: ENOTFOUND.
func (l *Line) SetMaintenance(machine string, on bool) error {
	m, err := l.machine(machine)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.advance(l.Now())
	m.setMaintenance(on)
	l.mu.Unlock()
	l.flush()
	return nil
}

// RaiseAlarm injects a fault on a machine now. code is one of AlarmCodes, or
// "" for a random one; other codes are raised with a generic text. A fault
// during grinding or measuring aborts the job. Errors: ENOTFOUND.
func (l *Line) RaiseAlarm(machine, code string) error {
	m, err := l.machine(machine)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.advance(l.Now())
	if code == "" {
		code = alarmTable[m.rng.IntN(len(alarmTable))].Code
	}
	m.raise(code, false)
	l.mu.Unlock()
	l.flush()
	return nil
}

// MachineView is a direct read of a simulated machine's state.
type MachineView struct {
	ID              string
	Kind            string
	State           mes.MachineState
	Parts           uint32 // part counter (completed and aborted jobs)
	EnergyKWh       float64
	Serial          string // bur on the machine, "" when none
	Program         string
	Accepted        uint32 // dispatch sequence accepted so far
	LastCycle       *mes.Cycle
	LastMeasurement *mes.Measurement // inspection station only
	Alarms          []mes.Alarm      // the alarm ring, oldest first
	ActiveAlarms    int
	WheelID         string
	WheelDiameterMM float64
	WheelWearUM     float64
	DressCount      uint32
	Maintenance     bool // in maintenance or waiting to enter it
}

// Machine returns the current state of a machine.
func (l *Line) Machine(id string) (MachineView, bool) {
	m, ok := l.byID[id]
	if !ok {
		return MachineView{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return m.view(), true
}

// Robot returns the current status of a robot arm.
func (l *Line) Robot(id string) (mes.RobotStatus, bool) {
	r, ok := l.robotBy[id]
	if !ok {
		return mes.RobotStatus{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return mes.RobotStatus{State: r.state, At: r.at, Target: r.target, Bur: r.bur}, true
}

// Station returns the current level of the magazine or the output tray.
func (l *Line) Station(id string) (mes.StationStatus, bool) {
	s, ok := l.stations[id]
	if !ok {
		return mes.StationStatus{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return mes.StationStatus{Count: uint64(s.count), LastSerial: s.lastSerial}, true
}

// run advances the simulated clock in real-time ticks. Events inside one
// tick run in time order, each at its own simulated timestamp.
func (l *Line) run() {
	defer l.wg.Done()
	t := time.NewTicker(l.tick)
	l.tickStart.Store(l.wall.Now().UnixNano())
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		l.advance(l.clock())
		l.mu.Unlock()
		l.flush()
	}
}

// advance runs every event up to simulated time to, then refreshes the
// continuous values at to. l.mu must be held.
func (l *Line) advance(to time.Time) {
	for len(l.queue) > 0 && !l.queue[0].t.After(to) {
		ev := heap.Pop(&l.queue).(*event)
		if ev.t.After(l.now) {
			l.now = ev.t
		}
		ev.fn()
	}
	if to.After(l.now) {
		l.now = to
	}
	for _, m := range l.machines {
		m.refresh()
		m.publishProcess()
	}
}

// afterTick is how long until shortly after the simulation's next tick,
// when the tick's changes have reached the monitored items: a publishing
// cycle started then publishes each tick's changes as soon as they exist.
// The margin (a fifth of a tick) covers the tick's own work on a busy
// machine: a change that misses it waits a whole publishing interval.
func (l *Line) afterTick(now time.Time) time.Duration {
	t0 := l.tickStart.Load()
	if t0 == 0 {
		return 0
	}
	since := now.Sub(time.Unix(0, t0))
	next := (since/l.tick + 1) * l.tick
	return next + l.tick/5 - since
}

// flush wakes the notifiers of endpoints with changed values.
func (l *Line) flush() {
	for _, e := range l.endpoints {
		e.dirtyMu.Lock()
		n := len(e.dirty)
		e.dirtyMu.Unlock()
		if n > 0 {
			e.poke()
		}
	}
}

// at schedules fn at simulated time t (not before now). l.mu must be held.
func (l *Line) at(t time.Time, fn func()) {
	if t.Before(l.now) {
		t = l.now
	}
	l.seq++
	heap.Push(&l.queue, &event{t: t, seq: l.seq, fn: fn})
}

// after schedules fn d simulated seconds from now.
func (l *Line) after(d float64, fn func()) {
	l.at(l.now.Add(seconds(d)), fn)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)).Round(uaTick) }

// set stores a value in a node and queues its change notification.
// l.mu must be held.
func (l *Line) set(e *endpoint, n *node, v any) {
	if n == nil || sameValue(n.last, v) {
		return
	}
	n.last = v
	n.val.Store(dataValue(v, l.now))
	if e != nil {
		e.markDirty(n)
	}
}

func (l *Line) kickAutorun() {
	if l.auto == nil || l.auto.pending {
		return
	}
	l.auto.pending = true
	l.at(l.now, func() {
		l.auto.pending = false
		l.auto.dispatch()
	})
}

type event struct {
	t   time.Time
	seq uint64
	fn  func()
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].t.Equal(q[j].t) {
		return q[i].seq < q[j].seq
	}
	return q[i].t.Before(q[j].t)
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	ev := old[len(old)-1]
	*q = old[:len(old)-1]
	return ev
}

func (e *endpoint) String() string { return fmt.Sprintf("%s(%s)", e.id, e.url()) }
