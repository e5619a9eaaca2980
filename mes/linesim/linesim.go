package linesim

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/pilotline/pilotline/mes/grinder"
)

// Machine is one machine of a stage.
type Machine struct {
	ID     string
	Params grinder.Params
	// Cycle is the job time at this machine, start of loading to end of
	// unloading.
	Cycle grinder.Dist
	// Handover is the wait for the robot before a job's loading starts;
	// nil: none.
	Handover  grinder.Dist
	MinGrindS float64
	HasWheel  bool
}

// Stage is one operation of the route and the machines that perform it.
type Stage struct {
	Op          string
	Group       string
	IdealCycleS float64
	Machines    []Machine
	// ScrapRate is the share of burs scrapped at this stage besides jobs
	// aborted by a fault (at the inspection stage: burs out of tolerance).
	ScrapRate float64
}

// Window is a daily open period of the line, in seconds after midnight.
// ToS may exceed 86400 for a shift that runs past midnight.
type Window struct{ FromS, ToS float64 }

// Config is a line to simulate.
type Config struct {
	Stages []Stage
	// WIPLimit caps burs on the line: a blank is released only while fewer
	// are in work (CONWIP). 0: the number of machines + 5, as the pilot
	// line's own dispatcher does.
	WIPLimit int
	// Open lists the daily open windows; empty: around the clock.
	Open []Window
}

// Run is how long one replication runs.
type Run struct {
	// HorizonS is the simulated time; WarmupS at its start is not counted.
	HorizonS, WarmupS float64
	Seed              uint64
}

// StageResult is what one stage did in the counted period, in machine
// seconds.
type StageResult struct {
	Group       string  `json:"group"`
	Machines    int     `json:"machines"`
	Jobs        int     `json:"jobs"`
	Aborted     int     `json:"aborted"`
	Scrapped    int     `json:"scrapped"`
	BusyS       float64 `json:"busy_s"`   // handover and job
	DownS       float64 `json:"down_s"`   // repairs
	DressS      float64 `json:"dress_s"`  // dressing
	ChangeS     float64 `json:"change_s"` // wheel changes
	IdleS       float64 `json:"idle_s"`   // starved or closed
	Utilisation float64 `json:"utilisation"`
	// SustainableTaktS is the takt the stage could hold alone: open time
	// per job it completes when never starved, from its measured busy,
	// down, dressing and change time per good job.
	SustainableTaktS float64 `json:"sustainable_takt_s"`
}

// Result is one replication's outcome over the counted period.
type Result struct {
	CountedS    float64       `json:"counted_s"`
	OpenS       float64       `json:"open_s"`
	Released    int           `json:"released"`
	Good        int           `json:"good"`
	Scrap       int           `json:"scrap"`
	GoodPerHour float64       `json:"good_per_hour"` // per open hour
	TaktS       float64       `json:"takt_s"`        // open seconds per good bur
	OEE         float64       `json:"oee"`
	IdealTaktS  float64       `json:"ideal_takt_s"`
	Stages      []StageResult `json:"stages"`
}

// Validate reports a configuration that cannot run.
func (c Config) Validate() error {
	if len(c.Stages) == 0 {
		return errors.New("linesim: no stages")
	}
	for i, s := range c.Stages {
		if len(s.Machines) == 0 {
			return fmt.Errorf("linesim: stage %d (%s) has no machines", i, s.Group)
		}
		if s.ScrapRate < 0 || s.ScrapRate >= 1 {
			return fmt.Errorf("linesim: stage %s scrap rate %g not in [0,1)", s.Group, s.ScrapRate)
		}
		for _, m := range s.Machines {
			if m.Cycle == nil || !(m.Cycle.Mean() > 0) {
				return fmt.Errorf("linesim: machine %s has no cycle time", m.ID)
			}
		}
	}
	for _, w := range c.Open {
		if !(w.ToS > w.FromS) || w.FromS < 0 || w.ToS-w.FromS > 86400 {
			return fmt.Errorf("linesim: open window %g–%g s is not a period within a day", w.FromS, w.ToS)
		}
	}
	return nil
}

// IdealTaktS is the line's ideal takt: the slowest stage's ideal cycle
// divided by its machines.
func (c Config) IdealTaktS() float64 {
	var t float64
	for _, s := range c.Stages {
		t = max(t, s.IdealCycleS/float64(len(s.Machines)))
	}
	return t
}

// Machines is the number of machines on the line.
func (c Config) Machines() int {
	n := 0
	for _, s := range c.Stages {
		n += len(s.Machines)
	}
	return n
}

// OpenShare is the share of a day the line is open.
func (c Config) OpenShare() float64 {
	if len(c.Open) == 0 {
		return 1
	}
	var s float64
	for _, w := range c.Open {
		s += w.ToS - w.FromS
	}
	return min(s/86400, 1)
}

type evKind uint8

const (
	evJobEnd evKind = iota // job (or handover + job) finished
	evFault                // random fault during grinding
	evRepaired
	evDressed
	evChanged
	evOpen // a window opens: dispatch
)

type event struct {
	t    float64
	seq  uint64
	kind evKind
	m    int32
}

type queue []event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].t == q[j].t {
		return q[i].seq < q[j].seq
	}
	return q[i].t < q[j].t
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type mstate uint8

const (
	mIdle mstate = iota
	mBusy
	mDown
	mDress
	mChange
)

type simMachine struct {
	cfg    *Machine
	stage  int
	model  *grinder.Model
	state  mstate
	since  float64 // time the state began
	job    grinder.Job
	jobEnd float64
	epoch  uint64
}

type world struct {
	cfg     *Config
	run     Run
	r       *rand.Rand
	now     float64
	seq     uint64
	q       queue
	ms      []simMachine
	byStage [][]int
	waiting []int // burs waiting per stage (identities are not needed)
	wip     int
	limit   int
	res     Result
	lastOK  float64
}

// Simulate runs one replication of c.
func Simulate(c Config, run Run) (Result, error) {
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	if !(run.HorizonS > run.WarmupS) || run.WarmupS < 0 {
		return Result{}, fmt.Errorf("linesim: horizon %g s must exceed warm-up %g s", run.HorizonS, run.WarmupS)
	}
	w := &world{cfg: &c, run: run, r: rand.New(rand.NewPCG(run.Seed, 0x9e3779b97f4a7c15))}
	w.limit = c.WIPLimit
	if w.limit <= 0 {
		w.limit = c.Machines() + 5
	}
	w.byStage = make([][]int, len(c.Stages))
	w.waiting = make([]int, len(c.Stages))
	w.res.Stages = make([]StageResult, len(c.Stages))
	for si := range c.Stages {
		s := &c.Stages[si]
		w.res.Stages[si] = StageResult{Group: s.Group, Machines: len(s.Machines)}
		for mi := range s.Machines {
			mc := &s.Machines[mi]
			w.byStage[si] = append(w.byStage[si], len(w.ms))
			w.ms = append(w.ms, simMachine{cfg: mc, stage: si, model: grinder.New(mc.Params, mc.HasWheel, w.r)})
		}
	}
	w.q = make(queue, 0, len(w.ms)*2)
	w.scheduleWindows()
	w.dispatch()
	for len(w.q) > 0 {
		e := heap.Pop(&w.q).(event)
		if e.t > run.HorizonS {
			break
		}
		w.now = e.t
		w.handle(e)
	}
	w.now = run.HorizonS
	for i := range w.ms {
		w.account(i, run.HorizonS)
	}
	w.finish()
	return w.res, nil
}

func (w *world) push(t float64, k evKind, m int) {
	w.seq++
	heap.Push(&w.q, event{t: t, seq: w.seq, kind: k, m: int32(m)})
}

func (w *world) scheduleWindows() {
	for day := 0.0; day*86400 < w.run.HorizonS; day++ {
		for _, win := range w.cfg.Open {
			if t := day*86400 + win.FromS; t < w.run.HorizonS {
				w.push(t, evOpen, -1)
			}
		}
	}
}

// open reports whether the line may start work at t.
func (w *world) open(t float64) bool {
	if len(w.cfg.Open) == 0 {
		return true
	}
	tod := math.Mod(t, 86400)
	for _, win := range w.cfg.Open {
		if (tod >= win.FromS && tod < win.ToS) || (win.ToS > 86400 && tod < win.ToS-86400) {
			return true
		}
	}
	return false
}

// openWithin is the open time in [a, b).
func (w *world) openWithin(a, b float64) float64 {
	if len(w.cfg.Open) == 0 {
		return b - a
	}
	var s float64
	for day := math.Floor(a/86400) - 1; day*86400 < b; day++ {
		for _, win := range w.cfg.Open {
			lo, hi := day*86400+win.FromS, day*86400+win.ToS
			s += max(0, min(hi, b)-max(lo, a))
		}
	}
	return s
}

// account adds the time machine i spent in its current state up to t to
// the counted period's totals.
func (w *world) account(i int, t float64) {
	m := &w.ms[i]
	from := max(m.since, w.run.WarmupS)
	m.since = t
	if t <= from {
		return
	}
	d := t - from
	sr := &w.res.Stages[m.stage]
	switch m.state {
	case mBusy:
		sr.BusyS += d
	case mDown:
		sr.DownS += d
	case mDress:
		sr.DressS += d
	case mChange:
		sr.ChangeS += d
	default:
		sr.IdleS += d
	}
}

func (w *world) setState(i int, s mstate) {
	w.account(i, w.now)
	w.ms[i].state = s
}

func (w *world) counted() bool { return w.now >= w.run.WarmupS }

// dispatch starts every job that can start now, last stage first as the
// pilot line's dispatcher does.
func (w *world) dispatch() {
	if !w.open(w.now) {
		return
	}
	for si := len(w.cfg.Stages) - 1; si >= 0; si-- {
		for _, i := range w.byStage[si] {
			m := &w.ms[i]
			if m.state != mIdle {
				continue
			}
			if si == 0 {
				if w.wip >= w.limit {
					break
				}
				w.wip++
				w.res.Released += b2i(w.counted())
			} else {
				if w.waiting[si] == 0 {
					break
				}
				w.waiting[si]--
			}
			w.start(i)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (w *world) start(i int) {
	m := &w.ms[i]
	w.setState(i, mBusy)
	var wait float64
	if m.cfg.Handover != nil {
		wait = m.cfg.Handover.Sample(w.r)
	}
	m.job = m.model.Job(m.cfg.Cycle, m.cfg.MinGrindS, w.r)
	m.epoch++
	if fault, at := m.model.FaultWithin(m.job.GrindS); fault {
		w.push(w.now+wait+m.model.P.LoadS+at, evFault, i)
		return
	}
	w.push(w.now+wait+m.job.TotalS, evJobEnd, i)
}

func (w *world) handle(e event) {
	i := int(e.m)
	switch e.kind {
	case evOpen:
		w.dispatch()
		return
	case evJobEnd:
		m := &w.ms[i]
		m.model.Ground(m.job.GrindS, w.r)
		if w.counted() {
			w.res.Stages[m.stage].Jobs++
		}
		w.forward(m.stage)
		w.afterJob(i)
	case evFault:
		m := &w.ms[i]
		m.model.Faulted(true, 0, w.r)
		if w.counted() {
			w.res.Stages[m.stage].Aborted++
		}
		w.scrap()
		w.setState(i, mDown)
		w.push(w.now+m.model.RepairS(w.r)+m.model.P.UnloadS, evRepaired, i)
	case evRepaired:
		w.afterJob(i)
	case evDressed:
		if w.ms[i].model.Dressed() {
			w.setState(i, mChange)
			w.push(w.now+w.ms[i].model.WheelChangeS(w.r), evChanged, i)
			return
		}
		w.setState(i, mIdle)
	case evChanged:
		w.ms[i].model.NewWheel(w.r)
		w.setState(i, mIdle)
	}
	w.dispatch()
}

// forward moves a finished bur on from stage si, or scraps it.
func (w *world) forward(si int) {
	s := &w.cfg.Stages[si]
	if s.ScrapRate > 0 && w.r.Float64() < s.ScrapRate {
		if w.counted() {
			w.res.Stages[si].Scrapped++
		}
		w.scrap()
		return
	}
	if si+1 < len(w.cfg.Stages) {
		w.waiting[si+1]++
		return
	}
	w.wip--
	if w.counted() {
		w.res.Good++
	}
}

func (w *world) scrap() {
	w.wip--
	if w.counted() {
		w.res.Scrap++
	}
}

func (w *world) afterJob(i int) {
	m := &w.ms[i]
	if m.model.DressDue() {
		w.setState(i, mDress)
		w.push(w.now+m.model.DressS(w.r), evDressed, i)
		return
	}
	w.setState(i, mIdle)
}

func (w *world) finish() {
	r := &w.res
	r.CountedS = w.run.HorizonS - w.run.WarmupS
	r.OpenS = w.openWithin(w.run.WarmupS, w.run.HorizonS)
	r.IdealTaktS = w.cfg.IdealTaktS()
	if r.OpenS > 0 {
		r.GoodPerHour = float64(r.Good) / r.OpenS * 3600
		r.OEE = float64(r.Good) * r.IdealTaktS / r.OpenS
	}
	if r.Good > 0 {
		r.TaktS = r.OpenS / float64(r.Good)
	}
	for si := range r.Stages {
		s := &r.Stages[si]
		total := s.BusyS + s.DownS + s.DressS + s.ChangeS + s.IdleS
		if total > 0 {
			s.Utilisation = (s.BusyS + s.DownS + s.DressS + s.ChangeS) / total
		}
		if good := s.Jobs - s.Scrapped; good > 0 {
			s.SustainableTaktS = (s.BusyS + s.DownS + s.DressS + s.ChangeS) / float64(good) / float64(s.Machines)
		}
	}
}

// Clone returns a deep copy of c whose stages and machines can be changed
// without touching c.
func (c Config) Clone() Config {
	out := c
	out.Open = slices.Clone(c.Open)
	out.Stages = slices.Clone(c.Stages)
	for i := range out.Stages {
		out.Stages[i].Machines = slices.Clone(c.Stages[i].Machines)
	}
	return out
}
