package linesim

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/grinder"
)

// MachineFigures is what a run measured on one machine: the inputs the
// simulation is fed with, named so that the report can show them.
type MachineFigures struct {
	ID               string  `json:"id"`
	Group            string  `json:"group"`
	Jobs             int     `json:"jobs"`
	Aborted          int     `json:"aborted"`
	CycleMeanS       float64 `json:"cycle_mean_s"`
	HandoverMeanS    float64 `json:"handover_mean_s"`
	GrindingS        float64 `json:"grinding_s"`
	Faults           int     `json:"faults"`
	MTBFS            float64 `json:"mtbf_s"` // grinding seconds per fault; 0: no fault seen
	MTTRS            float64 `json:"mttr_s"` // mean time in alarm
	DressEvery       int     `json:"dress_every"`
	DressMeanS       float64 `json:"dress_mean_s"`
	WheelChangeEvery int     `json:"wheel_change_every"`
	WheelChangeMeanS float64 `json:"wheel_change_mean_s"`
}

// RunFigures is a run's measured output, defined as the simulation defines
// its own: good burs leaving the last operation in a period, per open hour.
type RunFigures struct {
	From, To    time.Time        `json:"-"`
	OpenS       float64          `json:"open_s"`
	Good        int              `json:"good"`
	Inspected   int              `json:"inspected"`
	Rejected    int              `json:"rejected"`
	GoodPerHour float64          `json:"good_per_hour"`
	TaktS       float64          `json:"takt_s"`
	Machines    []MachineFigures `json:"machines"`
}

type machineTrack struct {
	fig        MachineFigures
	state      mes.MachineState
	since      time.Time
	cycles     []float64
	handovers  []float64
	repairs    []float64
	dresses    []float64
	changes    []float64
	goodSince  int
	dressSince int
	dressAt    []int
	changeAt   []int
}

// Measure reads a run's machine events (state changes, cycles, alarms and
// measurements of product p on line) and returns the simulation
// configuration they imply, with the run's own figures counted over
// [from, to) of open time (open as in Config.Open; nil: around the clock).
// Machines without a completed job fall back to the route's ideal cycle.
func Measure(line *mes.LineConfig, p *mes.Product, events []mes.MachineEvent, from, to time.Time, open []Window) (Config, RunFigures, error) {
	if len(p.Route) == 0 {
		return Config{}, RunFigures{}, fmt.Errorf("linesim: product %s has no route", p.ISO)
	}
	if !to.After(from) {
		return Config{}, RunFigures{}, fmt.Errorf("linesim: period %s–%s is empty", from, to)
	}
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b mes.MachineEvent) int { return a.SourceTime.Compare(b.SourceTime) })

	group := map[string]string{}
	for _, m := range line.Machines {
		group[m.ID] = m.Group
	}
	last := p.Route[len(p.Route)-1].Group
	tracks := map[string]*machineTrack{}
	track := func(id string) *machineTrack {
		t := tracks[id]
		if t == nil {
			t = &machineTrack{fig: MachineFigures{ID: id, Group: group[id]}}
			tracks[id] = t
		}
		return t
	}
	good := map[string]bool{} // serial → passed inspection
	fig := RunFigures{From: from, To: to}
	var departures []time.Time
	for _, e := range evs {
		if _, ok := group[e.Machine]; !ok {
			continue
		}
		t := track(e.Machine)
		switch e.Kind {
		case mes.EventState:
			d := e.SourceTime.Sub(t.since).Seconds()
			if !t.since.IsZero() {
				switch t.state {
				case mes.StateStarved:
					if e.State == mes.StateLoading {
						t.handovers = append(t.handovers, d)
					}
				case mes.StateGrinding, mes.StateMeasuring:
					t.fig.GrindingS += d
				case mes.StateAlarm:
					t.repairs = append(t.repairs, d)
				case mes.StateDressing:
					t.dresses = append(t.dresses, d)
				case mes.StateToolChange:
					t.changes = append(t.changes, d)
				}
			}
			switch e.State {
			case mes.StateDressing:
				t.dressAt = append(t.dressAt, t.goodSince)
				t.goodSince = 0
				t.dressSince++
			case mes.StateToolChange:
				t.changeAt = append(t.changeAt, t.dressSince)
				t.dressSince = 0
			}
			t.state, t.since = e.State, e.SourceTime
		case mes.EventAlarmRaised:
			if t.state == mes.StateGrinding || t.state == mes.StateMeasuring {
				t.fig.Faults++
			}
		case mes.EventCycle:
			c := e.Cycle
			if c == nil {
				continue
			}
			t.fig.Jobs++
			if c.Aborted {
				t.fig.Aborted++
				continue
			}
			t.goodSince++
			t.cycles = append(t.cycles, c.End.Sub(c.Start).Seconds())
			if t.fig.Group == last && good[c.Serial] && !c.End.Before(from) && c.End.Before(to) {
				departures = append(departures, c.End)
			}
		case mes.EventMeasurement:
			m := e.Measurement
			if m == nil {
				continue
			}
			ok := true
			for ch, tol := range p.Tolerances {
				if v, has := m.Values[ch]; !has || !tol.Contains(v) {
					ok = false
				}
			}
			good[m.Serial] = ok
			fig.Inspected++
			if !ok {
				fig.Rejected++
			}
		}
	}

	cfg := Config{Open: open}
	for _, op := range p.Route {
		st := Stage{Op: op.Name, Group: op.Group, IdealCycleS: op.IdealCycleS}
		for _, mc := range line.Machines {
			if mc.Group != op.Group {
				continue
			}
			t := track(mc.ID)
			st.Machines = append(st.Machines, t.machine(mc, op, line.Simulation))
			fig.Machines = append(fig.Machines, t.fig)
		}
		if op.Group == last && fig.Inspected > 0 {
			st.ScrapRate = float64(fig.Rejected) / float64(fig.Inspected)
		}
		cfg.Stages = append(cfg.Stages, st)
	}
	w := &world{cfg: &cfg}
	fig.OpenS = w.openWithin(0, to.Sub(from).Seconds())
	fig.Good = len(departures)
	if fig.OpenS > 0 {
		fig.GoodPerHour = float64(fig.Good) / fig.OpenS * 3600
	}
	if fig.Good > 0 {
		fig.TaktS = fig.OpenS / float64(fig.Good)
	}
	return cfg, fig, cfg.Validate()
}

func (t *machineTrack) machine(mc mes.Machine, op mes.Operation, sim mes.Simulation) Machine {
	f := &t.fig
	m := Machine{ID: mc.ID, HasWheel: mc.Kind != mes.KindInspection, MinGrindS: grinder.MinGrindShare * op.IdealCycleS}
	m.Params.LoadS, m.Params.UnloadS = sim.LoadS, sim.UnloadS
	if e := grinder.NewEmpirical(t.cycles); e != nil {
		m.Cycle = e
		f.CycleMeanS = e.Mean()
	} else {
		m.Cycle = grinder.Fixed(op.IdealCycleS)
	}
	if e := grinder.NewEmpirical(t.handovers); e != nil {
		m.Handover = e
		f.HandoverMeanS = e.Mean()
	}
	if f.Faults > 0 {
		f.MTBFS = f.GrindingS / float64(f.Faults)
		m.Params.TimeToFailure = grinder.Exponential{MeanS: f.MTBFS}
	}
	if e := grinder.NewEmpirical(t.repairs); e != nil {
		m.Params.Repair = e
		f.MTTRS = e.Mean()
	}
	if m.HasWheel {
		f.DressEvery = median(t.dressAt)
		f.WheelChangeEvery = median(t.changeAt)
		m.Params.DressEvery, m.Params.WheelChangeEvery = f.DressEvery, f.WheelChangeEvery
		if e := grinder.NewEmpirical(t.dresses); e != nil {
			m.Params.Dress = e
			f.DressMeanS = e.Mean()
		}
		if e := grinder.NewEmpirical(t.changes); e != nil {
			m.Params.WheelChange = e
			f.WheelChangeMeanS = e.Mean()
		}
	}
	return m
}

func median(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.SortFunc(s, cmp.Compare)
	return s[len(s)/2]
}
