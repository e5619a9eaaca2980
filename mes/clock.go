package mes

import (
	"context"
	"sync"
	"time"
)

// Pilotline keeps two time bases, and every time it reads or records is on
// exactly one of them.
//
// Line time is when things happened on the line: the machines' source
// timestamps (acquisition follows each machine's own clock) and every record
// the MES makes about the line — batch transitions, dispatch, bur
// operations, bookings and the capacity calendar, quotes, nonconformances and
// their dispositions, e-signatures of batch records, KPIs, and the audit
// entries of those records. A LineClock tells it. The simulated line at
// --speed N runs it N times as fast as the wall clock, from where it last
// stopped: the clock reserves its time ahead in the store, so a restart
// continues it and it never goes back.
//
// Wall time is the host's clock, for everything that protects people and
// credentials: session and API token lifetimes, the sign-in and e-signature
// password limits, the setup token, TLS certificates, and network deadlines.
// A WallClock tells it. A 12-hour session lasts 12 real hours at any speed.
//
// IMPORTANT: this file is the only place that reads the host's clock
// (time.Now, time.Since, time.Until); clockrule_test.go enforces it. Everything
// else is handed a LineClock or a WallClock.

// TimeBase names one of the two time bases.
type TimeBase string

// The time bases.
const (
	LineTime TimeBase = "line"
	WallTime TimeBase = "wall"
)

// WallClock tells wall time: the host's clock. The zero value reads the
// host's clock; tests make one that reads a fake with NewWallClock.
type WallClock struct {
	now func() time.Time
}

// NewWallClock returns a wall clock that reads now (for tests: a fake wall
// clock). A nil now is the host's clock.
func NewWallClock(now func() time.Time) WallClock { return WallClock{now: now} }

// Now is the wall time now. The host's clock carries a monotonic reading.
func (c WallClock) Now() time.Time {
	if c.now == nil {
		return time.Now()
	}
	return c.now()
}

// Since is the wall time elapsed since t.
func (c WallClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Until is the wall time left until t.
func (c WallClock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }

// LineTimeStore keeps the line time a LineClock has reserved, so that a
// restart continues from there. mes/bolt's DB implements it.
type LineTimeStore interface {
	// LineTime returns the line time reserved last; zero for a new store.
	LineTime(ctx context.Context) (time.Time, error)
	// ReserveLineTime records t as reserved: the clock may hand out times up
	// to t. It never lowers the stored time.
	ReserveLineTime(ctx context.Context, t time.Time) error
}

// LineClockOptions configure OpenLineClock.
type LineClockOptions struct {
	// Wall paces the line clock. Zero: the host's clock.
	Wall WallClock
	// Speed is line seconds per wall second: N for the simulated line at
	// --speed N, 1 for a real line. Zero means 1.
	Speed float64
	// Simulated: line time continues from where it stopped (a simulated line
	// has no clock of its own). False: line time follows the wall clock, as
	// a real line's machine clocks do, but never goes back behind what was
	// reserved.
	Simulated bool
	// Store keeps the reserved line time. Nil: nothing is persisted (tests).
	Store LineTimeStore
	// Ahead is the wall time reserved ahead with each write to Store.
	// Zero: DefaultLineReserve.
	Ahead time.Duration
}

// DefaultLineReserve is how much wall time a LineClock reserves ahead with
// one store write: at most one write per this much wall time, and after a
// crash line time resumes at most this much (times the speed) ahead.
const DefaultLineReserve = 2 * time.Second

// LineClock tells line time (see the time bases above). Its times never go
// back: Now returns no time earlier than one it returned before, in this
// run or, with a store, in an earlier one.
//
// IMPORTANT: the clock never hands out a time beyond what the store holds
// as reserved; when a write fails it stops at the reserved time rather than
// hand out a time a restart could repeat. A nil *LineClock is the host's
// clock, for tests that do not care.
type LineClock struct {
	source func() time.Time // replaces origin+elapsed×speed when set (LineClockFrom)
	wall   WallClock
	speed  float64
	store  LineTimeStore
	ahead  time.Duration

	mu       sync.Mutex
	origin   time.Time // line time at anchor
	anchor   time.Time // wall reading the line time runs from
	last     time.Time // latest time handed out
	reserved time.Time // handed-out times stay at or before it (store only)
	failed   error     // last reservation failure, for Err
}

// OpenLineClock starts the line clock from the store's reserved time (or the
// wall clock for a new store or a real line). Errors: the store's.
func OpenLineClock(ctx context.Context, o LineClockOptions) (*LineClock, error) {
	c := &LineClock{wall: o.Wall, speed: o.Speed, store: o.Store, ahead: o.Ahead}
	if c.speed <= 0 {
		c.speed = 1
	}
	if c.ahead <= 0 {
		c.ahead = DefaultLineReserve
	}
	c.anchor = c.wall.Now()
	c.origin = c.anchor.Round(0)
	if o.Store != nil {
		stored, err := o.Store.LineTime(ctx)
		if err != nil {
			return nil, err
		}
		if !stored.IsZero() && (o.Simulated || stored.After(c.origin)) {
			c.origin = stored
		}
		c.reserved = c.origin
	}
	c.origin = c.origin.UTC()
	c.last = c.origin
	return c, nil
}

// NewLineClock returns a line clock that starts at start and runs speed
// times as fast as wall, without a store (tests and tools).
func NewLineClock(start time.Time, speed float64, wall WallClock) *LineClock {
	if speed <= 0 {
		speed = 1
	}
	return &LineClock{wall: wall, speed: speed, ahead: DefaultLineReserve,
		origin: start.UTC(), anchor: wall.Now(), last: start.UTC()}
}

// LineClockFrom returns a line clock that reads now, kept from going
// back, without a store: for tests with a fake line clock, and for tools
// reading a store offline.
func LineClockFrom(now func() time.Time) *LineClock {
	t := now().UTC()
	return &LineClock{source: now, speed: 1, ahead: DefaultLineReserve, origin: t, last: t}
}

// Now is the line time now: never earlier than a time it returned before.
func (c *LineClock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Time
	if c.source != nil {
		t = c.source().UTC()
	} else {
		t = c.origin.Add(time.Duration(float64(c.wall.Now().Sub(c.anchor)) * c.speed))
	}
	if t.Before(c.last) {
		t = c.last
	}
	if c.store != nil && t.After(c.reserved) {
		next := t.Add(time.Duration(float64(c.ahead) * c.speed))
		// The reservation outlives the request that happened to make it.
		if err := c.store.ReserveLineTime(context.Background(), next); err != nil {
			c.failed = err
			t = c.reserved
		} else {
			c.reserved, c.failed = next, nil
		}
	}
	c.last = t
	return t
}

// Start is the line time the clock started at.
func (c *LineClock) Start() time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.origin
}

// Speed is line seconds per wall second.
func (c *LineClock) Speed() float64 {
	if c == nil {
		return 1
	}
	return c.speed
}

// Err is the last failure to reserve line time in the store, nil once a
// reservation succeeds again. While it is set the clock stands still.
func (c *LineClock) Err() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// Later returns the later of t and after: the time a record following one
// stamped after is stamped with, so that no record of an object is earlier
// than the record it follows.
func Later(t, after time.Time) time.Time {
	if t.Before(after) {
		return after
	}
	return t
}
