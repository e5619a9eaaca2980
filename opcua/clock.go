package opcua

import (
	"sync"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

// wall is the MES host's clock: what machine clocks are measured against,
// and the acquisition's network deadlines and heartbeats.
var wall mes.WallClock

// machineClock follows an endpoint's own clock, read as the server's
// Server_ServerStatus_CurrentTime with every heartbeat, so that the events
// acquisition stamps itself (communication lost and restored, objects the
// server lacks) land on the same timeline as the source timestamps of the
// machine's values. A machine tool's clock may be offset from the MES's and,
// for the simulated line at --speed N, run N times as fast; the clock keeps
// the last reading and the rate of the machine's clock against the local
// monotonic clock, measured between readings at least rateSpan apart.
//
// IMPORTANT: without any reading yet it answers the local clock; an
// endpoint never reached takes the line's clock from its other endpoints
// instead (endpoint.machineTime).
type machineClock struct {
	mu     sync.Mutex
	last   clockReading // newest reading
	anchor clockReading // older reading the rate is measured from
	rate   float64      // machine seconds per local second; 1 until measured
	// measured is set once rate comes from two readings of the current
	// anchor; until then readings are not checked against the prediction
	measured bool
}

// clockReading pairs a machine time with the local time it was read at
// (carrying the monotonic reading).
type clockReading struct {
	machine, local time.Time
}

const (
	// rateSpan is the least local time between two readings the rate is
	// measured over: long enough for request latency to matter little.
	rateSpan = time.Second
	// rateWindow is when the anchor moves up, so that the rate follows a
	// clock that drifts or is slewed.
	rateWindow = 5 * time.Minute
	// clockJump (plus half the time since the last reading) is how far a
	// reading may stray from the prediction before the clock is taken as
	// reset (server restarted, clock set).
	clockJump = 5 * time.Second
)

// observe records that the machine's clock read machine at local time local.
// Readings that are zero or before OPC UA's epoch are ignored.
func (c *machineClock) observe(machine, local time.Time) {
	if !machine.After(opcEpoch) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := clockReading{machine: machine, local: local}
	if c.last.local.IsZero() {
		c.last, c.anchor = r, r
		if c.rate == 0 {
			c.rate = 1
		}
		return
	}
	if c.measured {
		// a reading far off the prediction means a restarted server or a set
		// clock: measure the rate anew from it, keeping the last rate as the
		// best guess meanwhile
		tol := clockJump + local.Sub(c.last.local)/2
		if d := machine.Sub(c.predict(local)); d > tol || -d > tol {
			c.last, c.anchor, c.measured = r, r, false
			return
		}
	}
	if span := local.Sub(c.anchor.local); span >= rateSpan {
		if rate := float64(machine.Sub(c.anchor.machine)) / float64(span); rate > 0 {
			c.rate, c.measured = rate, true
		}
		if span >= rateWindow {
			c.anchor = c.last
		}
	}
	c.last = r
}

// at is the machine's time at local time local (before or after the last
// reading): the last reading moved at the measured rate, or local itself
// when the machine was never read.
func (c *machineClock) at(local time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last.local.IsZero() {
		return local
	}
	return c.predict(local)
}

// known tells whether the machine's clock was ever read.
func (c *machineClock) known() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.last.local.IsZero()
}

// lastRead is the local time of the newest reading; zero if none.
func (c *machineClock) lastRead() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last.local
}

// predict extrapolates from the last reading at the measured rate.
func (c *machineClock) predict(local time.Time) time.Time {
	return c.last.machine.Add(time.Duration(float64(local.Sub(c.last.local)) * c.rate))
}

// observeValue records the server time of a heartbeat's DataValue.
func (c *machineClock) observeValue(dv *ua.DataValue, local time.Time) {
	if dv == nil || dv.Status != ua.StatusOK || dv.Value == nil {
		return
	}
	if t, ok := dv.Value.Value().(time.Time); ok {
		c.observe(t, local)
	}
}
