// Package grinder is the one model of a tool grinder's working life that
// both the OPC UA simulator (opcua/sim, in real time) and the line
// prescription (mes/linesim, in virtual time) run: how long a job takes, how
// grinding wears the wheel, when the wheel is dressed and when it is changed,
// when a random fault stops the machine and how long the repair takes.
//
// The model holds state and draws from the caller's random source; it never
// reads a clock and schedules nothing. The caller owns time: it asks the
// model for durations and tells it what happened. Draws happen in a fixed
// order per call, so a seeded source gives the same line every run.
//
// The inspection station runs the same model without a wheel.
package grinder

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Physical constants of the modelled grinders.
const (
	WheelNewMM    = 100.0 // diameter of a new grinding wheel
	DressDepthUM  = 50.0  // radial depth removed by one dressing
	WearPerPartUM = 1.5   // radial wear per part over 600 s of grinding
	// DefaultRepairS is the repair time of a fault when no repair
	// distribution is given.
	DefaultRepairS = 60.0
	// MinRepairS is the shortest repair the simulator's exponential repair
	// time is clamped to.
	MinRepairS = 30.0
)

// Dist is a distribution of durations in seconds.
type Dist interface {
	// Sample draws one duration.
	Sample(r *rand.Rand) float64
	// Mean is the distribution's expected value.
	Mean() float64
}

// Fixed is a constant duration; it draws nothing.
type Fixed float64

// Sample returns the constant.
func (f Fixed) Sample(*rand.Rand) float64 { return float64(f) }

// Mean returns the constant.
func (f Fixed) Mean() float64 { return float64(f) }

// Exponential is an exponential duration with mean MeanS.
type Exponential struct{ MeanS float64 }

// Sample draws one exponential duration.
func (e Exponential) Sample(r *rand.Rand) float64 { return r.ExpFloat64() * e.MeanS }

// Mean returns MeanS.
func (e Exponential) Mean() float64 { return e.MeanS }

// AtLeast clamps D from below at MinS.
type AtLeast struct {
	MinS float64
	D    Dist
}

// Sample draws from D and clamps.
func (a AtLeast) Sample(r *rand.Rand) float64 { return max(a.MinS, a.D.Sample(r)) }

// Mean is the mean of the clamped distribution when D is exponential
// (E[max(m, X)] = m + μ·e^(−m/μ)), else an upper-bound approximation.
func (a AtLeast) Mean() float64 {
	if e, ok := a.D.(Exponential); ok && e.MeanS > 0 {
		return a.MinS + e.MeanS*math.Exp(-a.MinS/e.MeanS)
	}
	return max(a.MinS, a.D.Mean())
}

// Jitter is a nominal duration stretched by a half-normal delay:
// IdealS·(1 + Jitter·|N(0,1)|). It is how the simulator's jobs run a little
// slower than their ideal cycle, never faster.
type Jitter struct{ IdealS, Jitter float64 }

// Sample draws one duration.
func (j Jitter) Sample(r *rand.Rand) float64 {
	return j.IdealS * (1 + j.Jitter*math.Abs(r.NormFloat64()))
}

// Mean is IdealS·(1 + Jitter·√(2/π)).
func (j Jitter) Mean() float64 { return j.IdealS * (1 + j.Jitter*math.Sqrt(2/math.Pi)) }

// Empirical draws uniformly from measured values (a bootstrap of a run).
type Empirical struct {
	values []float64
	mean   float64
}

// NewEmpirical returns the empirical distribution of values; nil when
// values is empty.
func NewEmpirical(values []float64) *Empirical {
	if len(values) == 0 {
		return nil
	}
	e := &Empirical{values: slices.Clone(values)}
	for _, v := range values {
		e.mean += v
	}
	e.mean /= float64(len(values))
	return e
}

// Sample draws one of the measured values.
func (e *Empirical) Sample(r *rand.Rand) float64 { return e.values[r.IntN(len(e.values))] }

// Mean is the mean of the measured values.
func (e *Empirical) Mean() float64 { return e.mean }

// N is the number of measured values.
func (e *Empirical) N() int { return len(e.values) }

// Params are the distributions and intervals of one machine.
type Params struct {
	LoadS, UnloadS float64 // robot hand-over inside a job
	// TimeToFailure is the grinding time between random faults; nil: none.
	TimeToFailure Dist
	// Repair is how long a fault stops the machine; nil: DefaultRepairS.
	Repair Dist
	// DressEvery is the number of parts between dressings; 0: never.
	DressEvery int
	Dress      Dist
	// WheelChangeEvery is the number of dressings a wheel takes; 0: never.
	WheelChangeEvery int
	WheelChange      Dist
}

// Wheel is the state of a grinding wheel.
type Wheel struct {
	No         int     // wheels fitted so far, 1 for the first
	BaseMM     float64 // diameter after the last dressing
	WearUM     float64 // radial wear since the last dressing
	DressCount int     // dressings of this wheel
	SinceDress int     // parts since the last dressing
}

// DiameterMM is the current wheel diameter.
func (w Wheel) DiameterMM() float64 { return w.BaseMM - 2*w.WearUM/1000 }

// Model is one machine's state in the model.
type Model struct {
	P     Params
	Wheel Wheel
	// HasWheel is false for the inspection station.
	HasWheel bool
	// TTF is the grinding time left until the next random fault.
	TTF float64
}

// New fits the first wheel (when hasWheel) and draws the first time to
// failure, in that order.
func New(p Params, hasWheel bool, r *rand.Rand) *Model {
	m := &Model{P: p, HasWheel: hasWheel}
	if hasWheel {
		m.NewWheel(r)
	}
	if p.TimeToFailure != nil {
		m.TTF = p.TimeToFailure.Sample(r)
	}
	return m
}

// NewWheel fits a new wheel; its diameter varies by 0.02 mm between wheels.
func (m *Model) NewWheel(r *rand.Rand) {
	m.Wheel = Wheel{No: m.Wheel.No + 1, BaseMM: WheelNewMM + 0.02*r.NormFloat64()}
}

// Job is one job's timing: TotalS from the start of loading to the end of
// unloading, GrindS the grinding (or measuring) inside it.
type Job struct {
	TotalS, GrindS float64
}

// Job draws a job's duration from cycle; the grinding part is what is left
// after loading and unloading, but at least minGrindS.
func (m *Model) Job(cycle Dist, minGrindS float64, r *rand.Rand) Job {
	total := cycle.Sample(r)
	return Job{TotalS: total, GrindS: max(total-m.P.LoadS-m.P.UnloadS, minGrindS)}
}

// FaultWithin reports whether a random fault stops grinding of grindS
// seconds, and after how many seconds.
func (m *Model) FaultWithin(grindS float64) (bool, float64) {
	if m.P.TimeToFailure == nil || m.TTF >= grindS {
		return false, 0
	}
	return true, m.TTF
}

// Ground records grindS seconds of completed grinding: the time to failure
// runs down and the wheel wears.
func (m *Model) Ground(grindS float64, r *rand.Rand) {
	if m.P.TimeToFailure != nil {
		m.TTF -= grindS
	}
	if m.HasWheel {
		m.Wheel.WearUM += WearPerPartUM * grindS / 600 * (1 + 0.1*r.NormFloat64())
		m.Wheel.SinceDress++
	}
}

// RepairS draws how long the fault just raised stops the machine.
func (m *Model) RepairS(r *rand.Rand) float64 {
	if m.P.Repair == nil {
		return DefaultRepairS
	}
	return m.P.Repair.Sample(r)
}

// Faulted records a fault that stopped grinding after elapsedS seconds: a
// random fault draws the next time to failure; any other stop only uses up
// the time ground so far.
func (m *Model) Faulted(random bool, elapsedS float64, r *rand.Rand) {
	if m.P.TimeToFailure == nil {
		return
	}
	if random {
		m.TTF = m.P.TimeToFailure.Sample(r)
		return
	}
	m.TTF -= elapsedS
}

// DressDue reports whether the wheel must be dressed before the next job.
func (m *Model) DressDue() bool {
	return m.HasWheel && m.P.DressEvery > 0 && m.Wheel.SinceDress >= m.P.DressEvery
}

// Dressed records a dressing and reports whether the wheel is now due for a
// change.
func (m *Model) Dressed() (changeDue bool) {
	m.Wheel.BaseMM -= 2 * DressDepthUM / 1000
	m.Wheel.WearUM, m.Wheel.SinceDress = 0, 0
	m.Wheel.DressCount++
	return m.P.WheelChangeEvery > 0 && m.Wheel.DressCount >= m.P.WheelChangeEvery
}

// DressS draws a dressing's duration.
func (m *Model) DressS(r *rand.Rand) float64 { return sampleOr(m.P.Dress, r) }

// WheelChangeS draws a wheel change's duration.
func (m *Model) WheelChangeS(r *rand.Rand) float64 { return sampleOr(m.P.WheelChange, r) }

func sampleOr(d Dist, r *rand.Rand) float64 {
	if d == nil {
		return 0
	}
	return d.Sample(r)
}
