package mes

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Dispatcher timing defaults.
const (
	// DispatchInterval is how often the dispatcher looks for free machines
	// even when no event woke it.
	DispatchInterval = 250 * time.Millisecond
	// DispatchStaleAfter is how long a machine may stay idle with a job
	// assigned before the dispatcher takes the job back and dispatches again.
	DispatchStaleAfter = 15 * time.Second
)

// Dispatcher drives the line: when a machine of an operation's group is
// free and a dispatchable batch has a bur waiting for that operation (or
// needs a new blank started), it writes the job to the machine and records
// the assignment; when the machine reports the job done it records the
// operation in the bur's genealogy, and when the inspection station reports
// a measurement it records the result.
//
// IMPORTANT: the dispatcher must see events only after they are durable
// (put it after the event store in a Sinks chain), and every write it makes
// to the BurService is idempotent, so replayed events after a reconnect or a
// restart change nothing twice.
type Dispatcher struct {
	Line    *LineConfig
	Burs    BurService
	Batches BatchService
	// Products is where a batch's product and route are read: products
	// created through the API or from a booking spec live only there. Nil:
	// the line configuration's products only.
	Products ProductService
	Writer   MachineWriter
	Logger   *slog.Logger
	// WIPLimit caps the burs in process per batch; 0 means the number of
	// machines on the batch's route plus 5.
	WIPLimit int
	// Clock stamps the dispatcher's records (a bur started, its batch
	// running) on line time. Nil: the host's clock.
	Clock *LineClock
	// Wall times a dispatched job the machine never started
	// (DispatchStaleAfter is a network timeout). Zero: the host's clock.
	Wall WallClock

	mu       sync.Mutex
	queue    []MachineEvent
	wake     chan struct{}
	machines map[string]*machineSlot
	restored bool // assignments read back from the store
}

// machineSlot is what the dispatcher knows of one machine.
type machineSlot struct {
	id        string
	group     string
	state     MachineState
	comm      bool
	pending   string    // serial dispatched and not yet reported done
	idleSince time.Time // wall time the machine was last seen entering idle with a job pending
}

var _ EventSink = (*Dispatcher)(nil)

func (d *Dispatcher) init() {
	if d.wake != nil {
		return
	}
	d.wake = make(chan struct{}, 1)
	d.machines = map[string]*machineSlot{}
	for _, m := range d.Line.Machines {
		d.machines[m.ID] = &machineSlot{id: m.ID, group: m.Group, state: StateOffline}
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
}

// Publish queues events for the dispatcher's goroutine. It never blocks on
// the line; samples are ignored.
func (d *Dispatcher) Publish(_ context.Context, events ...MachineEvent) error {
	d.mu.Lock()
	d.init()
	for _, e := range events {
		if e.Kind == EventSample || e.Kind == EventRobot || e.Kind == EventStation {
			continue
		}
		d.queue = append(d.queue, e)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run processes events and dispatches until ctx is done: a Tick on every
// Publish and every DispatchInterval. Its first Tick restores the
// assignments recorded in the store, so a restarted MES continues where it
// stopped. Errors: the store's, from restoring.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.Tick(ctx); err != nil {
		return err
	}
	t := time.NewTicker(DispatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-t.C:
		}
		if err := d.Tick(ctx); err != nil {
			return err
		}
	}
}

// Tick applies the events published since the last one and gives every
// free machine a job, synchronously; the first Tick restores the
// assignments from the store. Run calls it; tests call it directly. Do not
// call it while Run runs. Errors: the store's, from restoring.
func (d *Dispatcher) Tick(ctx context.Context) error {
	d.mu.Lock()
	d.init()
	restored := d.restored
	d.mu.Unlock()
	if !restored {
		if err := d.restore(ctx); err != nil {
			return err
		}
		d.mu.Lock()
		d.restored = true
		d.mu.Unlock()
	}
	d.mu.Lock()
	events := d.queue
	d.queue = nil
	d.mu.Unlock()
	for _, e := range events {
		d.apply(ctx, e)
	}
	d.dispatch(ctx)
	return nil
}

// restore rebuilds pending jobs from burs assigned to machines.
func (d *Dispatcher) restore(ctx context.Context) error {
	batches, err := d.Batches.ListBatches(ctx, BatchFilter{States: []BatchState{BatchReleased, BatchRunning, BatchHeld}})
	if err != nil {
		return err
	}
	for _, b := range batches {
		burs, err := d.Burs.ListBurs(ctx, b.ID)
		if err != nil {
			return err
		}
		for _, bur := range burs {
			if s, ok := d.machines[bur.Machine]; ok && bur.Disposition == BurInProcess {
				s.pending = bur.Serial
			}
		}
	}
	return nil
}

func (d *Dispatcher) apply(ctx context.Context, e MachineEvent) {
	s, ok := d.machines[e.Machine]
	if !ok {
		return
	}
	switch e.Kind {
	case EventState:
		s.state, s.comm = e.State, true
		if e.State == StateIdle && s.pending != "" && s.idleSince.IsZero() {
			s.idleSince = d.Wall.Now()
		} else if e.State != StateIdle {
			s.idleSince = time.Time{}
		}
	case EventCommLost:
		s.comm = false
	case EventCommRestored:
		s.comm = true
	case EventCycle:
		if e.Cycle == nil {
			return
		}
		if _, err := d.Burs.CompleteOperation(ctx, e.Machine, *e.Cycle); err != nil && ErrorCode(err) != ENOTFOUND {
			d.Logger.Error("record operation", "machine", e.Machine, "serial", e.Cycle.Serial, "err", err)
			return
		}
		if s.pending == e.Cycle.Serial {
			s.pending, s.idleSince = "", time.Time{}
		}
	case EventMeasurement:
		if e.Measurement == nil {
			return
		}
		if _, err := d.Burs.RecordMeasurement(ctx, *e.Measurement); err != nil && ErrorCode(err) != ENOTFOUND {
			d.Logger.Error("record measurement", "serial", e.Measurement.Serial, "err", err)
		}
	}
}

// dispatch gives every free machine a job, if there is one for its group.
func (d *Dispatcher) dispatch(ctx context.Context) {
	ids := make([]string, 0, len(d.machines))
	for id := range d.machines {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := d.machines[id]
		if s.pending != "" && !s.idleSince.IsZero() && d.Wall.Since(s.idleSince) > DispatchStaleAfter {
			// The machine never started the job (write lost, machine reset): take it back.
			d.Logger.Warn("dispatch went stale; taking the job back", "machine", id, "serial", s.pending)
			if err := d.Burs.UnassignBur(ctx, s.pending, id); err != nil {
				d.Logger.Error("unassign", "machine", id, "err", err)
			}
			s.pending, s.idleSince = "", time.Time{}
		}
		if !s.comm || s.state != StateIdle || s.pending != "" {
			continue
		}
		if err := d.dispatchTo(ctx, s); err != nil {
			d.Logger.Warn("dispatch", "machine", id, "err", err)
		}
	}
}

func (d *Dispatcher) dispatchTo(ctx context.Context, s *machineSlot) error {
	bur, op, err := d.nextBur(ctx, s.group)
	if err != nil || bur == nil {
		return err
	}
	if err := d.Burs.AssignBur(ctx, bur.Serial, s.id); err != nil {
		return err
	}
	job := Job{Machine: s.id, Serial: bur.Serial, Program: op.Program, ProgramVersion: op.ProgramVersion, Operation: op.Number, Batch: bur.Batch}
	if err := d.Writer.Dispatch(ctx, job); err != nil {
		if uerr := d.Burs.UnassignBur(ctx, bur.Serial, s.id); uerr != nil {
			d.Logger.Error("unassign after refused dispatch", "machine", s.id, "err", uerr)
		}
		return err
	}
	s.pending, s.idleSince = bur.Serial, time.Time{}
	d.Logger.Debug("dispatched", "machine", s.id, "serial", bur.Serial, "op", op.Number)
	return nil
}

// nextBur finds the bur a machine of group should work on next: the oldest
// waiting bur for that group, else a new blank for the oldest batch whose
// route starts at that group.
func (d *Dispatcher) nextBur(ctx context.Context, group string) (*Bur, Operation, error) {
	waiting, err := d.Burs.WaitingBurs(ctx, group, 1)
	if err != nil {
		return nil, Operation{}, err
	}
	if len(waiting) > 0 {
		b := waiting[0]
		p, ok, err := d.product(ctx, b.Product)
		if err != nil {
			return nil, Operation{}, err
		}
		if !ok || b.NextOp >= len(p.Route) {
			return nil, Operation{}, Errorf(EINTERNAL, "bur %s: no operation %d on its route", b.Serial, b.NextOp)
		}
		return b, p.Route[b.NextOp], nil
	}
	batches, err := d.Batches.ListBatches(ctx, BatchFilter{States: []BatchState{BatchReleased, BatchRunning}})
	if err != nil {
		return nil, Operation{}, err
	}
	sort.Slice(batches, func(i, j int) bool {
		if !batches[i].PlannedStart.Equal(batches[j].PlannedStart) {
			return batches[i].PlannedStart.Before(batches[j].PlannedStart)
		}
		return batches[i].ID < batches[j].ID
	})
	for _, b := range batches {
		p, ok, err := d.product(ctx, b.Product)
		if err != nil {
			return nil, Operation{}, err
		}
		if !ok || len(p.Route) == 0 || p.Route[0].Group != group {
			continue
		}
		if b.Started-b.Completed-b.Scrap-b.Rework >= d.wipLimit(p) {
			continue
		}
		bur, err := d.Burs.StartBur(ctx, b.ID, d.Clock.Now())
		if ErrorCode(err) == ECONFLICT {
			continue // batch needs no more blanks
		} else if err != nil {
			return nil, Operation{}, err
		}
		return bur, p.Route[0], nil
	}
	return nil, Operation{}, nil
}

// product returns the product iso: from the store when there is one (the
// line configuration's products are seeded into it), else from the line
// configuration.
func (d *Dispatcher) product(ctx context.Context, iso string) (Product, bool, error) {
	if d.Products != nil {
		p, err := d.Products.FindProduct(ctx, iso)
		if err == nil {
			return *p, true, nil
		} else if ErrorCode(err) != ENOTFOUND {
			return Product{}, false, err
		}
	}
	p, ok := d.Line.Product(iso)
	return p, ok, nil
}

func (d *Dispatcher) wipLimit(p Product) int {
	if d.WIPLimit > 0 {
		return d.WIPLimit
	}
	n := 5
	for _, op := range p.Route {
		n += len(d.Line.GroupMachines(op.Group))
	}
	return n
}

// Sinks publishes to each sink in order and stops at the first error, so a
// sink later in the chain sees only what the earlier ones accepted (put the
// durable store first).
type Sinks []EventSink

// Publish implements EventSink.
func (s Sinks) Publish(ctx context.Context, events ...MachineEvent) error {
	for _, sink := range s {
		if err := sink.Publish(ctx, events...); err != nil {
			return err
		}
	}
	return nil
}
