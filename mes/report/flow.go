package report

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/linesim"
)

// Scrap is scrap and first-pass yield by grinder, by operation and the
// alarms behind aborted jobs.
type Scrap struct {
	Machines   []MachineYield `json:"machines"`
	Operations []OpYield      `json:"operations"`
	Alarms     []AlarmCount   `json:"alarms"`
	Inspected  int            `json:"inspected"`
	Rejected   int            `json:"rejected"`
}

// MachineYield is one machine's jobs for the batch and what became of them.
type MachineYield struct {
	Machine string  `json:"machine"`
	Jobs    int     `json:"jobs"`
	Aborted int     `json:"aborted"`
	Good    int     `json:"good"`   // burs it worked on that ended good
	Judged  int     `json:"judged"` // burs it worked on that ended good or scrap
	FPY     float64 `json:"fpy"`    // good ÷ judged
}

// OpYield is one operation's jobs and aborts.
type OpYield struct {
	Number  int    `json:"number"`
	Name    string `json:"name"`
	NameZH  string `json:"name_zh"`
	Jobs    int    `json:"jobs"`
	Aborted int    `json:"aborted"`
}

// AlarmCount counts the alarms of one code raised in the window.
type AlarmCount struct {
	Code  string `json:"code"`
	Text  string `json:"text"`
	Count int    `json:"count"`
}

func buildScrap(in Input) Scrap {
	var s Scrap
	mach := map[string]*MachineYield{}
	ops := map[int]*OpYield{}
	for _, op := range in.Product.Route {
		o := &OpYield{Number: op.Number, Name: op.Name, NameZH: op.NameZH}
		ops[op.Number] = o
	}
	for _, b := range in.Burs {
		if b.Measurement != nil {
			s.Inspected++
			for _, r := range b.Results {
				if !r.Pass {
					s.Rejected++
					break
				}
			}
		}
		judged := b.Disposition == mes.BurGood || b.Disposition == mes.BurScrap
		for _, rec := range b.Operations {
			m := mach[rec.Machine]
			if m == nil {
				m = &MachineYield{Machine: rec.Machine}
				mach[rec.Machine] = m
			}
			m.Jobs++
			if o := ops[rec.Number]; o != nil {
				o.Jobs++
				if rec.Aborted {
					o.Aborted++
				}
			}
			if rec.Aborted {
				m.Aborted++
			}
			if judged {
				m.Judged++
				if b.Disposition == mes.BurGood {
					m.Good++
				}
			}
		}
	}
	for _, m := range mach {
		if m.Judged > 0 {
			m.FPY = float64(m.Good) / float64(m.Judged)
		}
		s.Machines = append(s.Machines, *m)
	}
	sort.Slice(s.Machines, func(i, j int) bool { return s.Machines[i].Machine < s.Machines[j].Machine })
	for _, op := range in.Product.Route {
		s.Operations = append(s.Operations, *ops[op.Number])
	}
	alarms := map[string]*AlarmCount{}
	for _, e := range in.Events {
		if e.Kind != mes.EventAlarmRaised || e.Alarm == nil {
			continue
		}
		a := alarms[e.Alarm.Code]
		if a == nil {
			a = &AlarmCount{Code: e.Alarm.Code, Text: e.Alarm.Text}
			alarms[e.Alarm.Code] = a
		}
		a.Count++
	}
	for _, a := range alarms {
		s.Alarms = append(s.Alarms, *a)
	}
	sort.Slice(s.Alarms, func(i, j int) bool {
		if s.Alarms[i].Count != s.Alarms[j].Count {
			return s.Alarms[i].Count > s.Alarms[j].Count
		}
		return s.Alarms[i].Code < s.Alarms[j].Code
	})
	return s
}

// GroupLoad is how a group's machines spent the window, in machine hours,
// and the takt the group could hold alone.
type GroupLoad struct {
	Group       string  `json:"group"`
	Machines    int     `json:"machines"`
	BusyH       float64 `json:"busy_h"`
	StarvedH    float64 `json:"starved_h"`
	BlockedH    float64 `json:"blocked_h"`
	IdleH       float64 `json:"idle_h"`
	DownH       float64 `json:"down_h"`
	DressH      float64 `json:"dress_h"`
	ChangeH     float64 `json:"change_h"`
	Utilisation float64 `json:"utilisation"` // busy ÷ observed time
	// SustainableTaktS is the takt the group could hold alone, from the
	// simulation of the measured run (seconds per good bur).
	SustainableTaktS float64 `json:"sustainable_takt_s"`
	Paces            bool    `json:"paces"`
	// MarginS is how much slower this group is than the next slowest
	// (only for the group that paces the line).
	MarginS float64 `json:"margin_s,omitempty"`
}

func stateLoads(in Input, from, to time.Time) map[string]*GroupLoad {
	group := map[string]string{}
	loads := map[string]*GroupLoad{}
	for _, m := range in.Line.Machines {
		group[m.ID] = m.Group
		l := loads[m.Group]
		if l == nil {
			l = &GroupLoad{Group: m.Group}
			loads[m.Group] = l
		}
		l.Machines++
	}
	type cur struct {
		s     mes.MachineState
		since time.Time
	}
	state := map[string]cur{}
	add := func(id string, c cur, until time.Time) {
		a, b := c.since, until
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if !b.After(a) {
			return
		}
		h := b.Sub(a).Hours()
		l := loads[group[id]]
		switch c.s {
		case mes.StateLoading, mes.StateGrinding, mes.StateUnloading, mes.StateMeasuring:
			l.BusyH += h
		case mes.StateStarved:
			l.StarvedH += h
		case mes.StateBlocked:
			l.BlockedH += h
		case mes.StateAlarm:
			l.DownH += h
		case mes.StateDressing:
			l.DressH += h
		case mes.StateToolChange:
			l.ChangeH += h
		default:
			l.IdleH += h
		}
	}
	for _, e := range in.Events {
		if e.Kind != mes.EventState || group[e.Machine] == "" {
			continue
		}
		if c, ok := state[e.Machine]; ok {
			add(e.Machine, c, e.SourceTime)
		}
		state[e.Machine] = cur{s: e.State, since: e.SourceTime}
	}
	for id, c := range state {
		add(id, c, to)
	}
	for _, l := range loads {
		if t := l.BusyH + l.StarvedH + l.BlockedH + l.IdleH + l.DownH + l.DressH + l.ChangeH; t > 0 {
			l.Utilisation = l.BusyH / t
		}
	}
	return loads
}

// Prescription is what a production line would need, from the simulation
// of the measured run.
type Prescription struct {
	// Inputs are the measured figures the simulation was fed with.
	Inputs     linesim.RunFigures `json:"inputs"`
	Reproduced linesim.Summary    `json:"reproduced"` // the pilot line as run
	// Deviation is (simulated − measured) ÷ measured throughput.
	Deviation float64              `json:"deviation"`
	Target    linesim.Prescription `json:"target"`
	WhatIfs   []WhatIf             `json:"what_ifs"`
}

// WhatIf is one change to the line and what it would give.
type WhatIf struct {
	Name    string          `json:"name"`
	NameZH  string          `json:"name_zh"`
	Summary linesim.Summary `json:"summary"`
}

// WarmupS is how long the prescription's simulation runs before it counts:
// long enough for the first burs to reach the end of the route.
const WarmupS = 12 * 3600

// buildFlow fills reliability, bottleneck and the prescription from the
// machine events.
func buildFlow(ctx context.Context, in Input, r *Report) error {
	loads := stateLoads(in, r.From, r.To)
	defer func() {
		for _, op := range in.Product.Route {
			if l := loads[op.Group]; l != nil {
				r.Bottleneck = append(r.Bottleneck, *l)
			}
		}
		markPace(r.Bottleneck)
	}()
	if !r.To.After(r.From) {
		return fmt.Errorf("the batch has no production window yet")
	}
	cfg, fig, err := linesim.Measure(in.Line, in.Product, in.Events, r.From, r.To, nil)
	if err != nil {
		return err
	}
	r.Reliability = fig.Machines
	if fig.Good == 0 {
		return fmt.Errorf("no good bur left the line in the window")
	}
	reps := in.Replications
	if reps == 0 {
		reps = 8
	}
	// The measured window starts with the line already full: the
	// simulation runs a warm-up before it counts.
	span := r.To.Sub(r.From).Seconds()
	run := linesim.Run{HorizonS: WarmupS + span, WarmupS: WarmupS, Seed: 1}
	sum, err := linesim.Replicate(ctx, cfg, run, reps, 0)
	if err != nil {
		return err
	}
	for _, st := range sum.Stages {
		if l := loads[st.Group]; l != nil {
			l.SustainableTaktS = st.SustainableTaktS.Mean
		}
	}
	p := &Prescription{Inputs: fig, Reproduced: sum}
	if fig.GoodPerHour > 0 {
		p.Deviation = (sum.GoodPerHour.Mean - fig.GoodPerHour) / fig.GoodPerHour
	}
	week := linesim.Run{HorizonS: 7 * 86400, WarmupS: 12 * 3600, Seed: 1}
	var open []linesim.Window
	for _, s := range in.Line.Shifts {
		if t, err := time.Parse("15:04", s.Start); err == nil {
			from := float64(t.Hour()*3600 + t.Minute()*60)
			// The break is taken off the end of the shift: the
			// simulation needs its length, not its place.
			open = append(open, linesim.Window{FromS: from, ToS: from + s.DurationS - s.BreakTotalS()})
		}
	}
	target := linesim.Target{AnnualGood: in.AnnualGood, TaktS: in.Line.TaktS}
	shifted := cfg
	if len(open) > 0 && validWindows(open) {
		shifted = cfg.WithOpen(open)
	}
	if tp, err := linesim.Prescribe(ctx, shifted, target, week, 4, 4*cfg.Machines()); err == nil {
		p.Target = tp
	} else {
		return err
	}
	if n := len(cfg.Stages); n > 0 && sum.Bottleneck != "" {
		for _, st := range cfg.Stages {
			if st.Group != sum.Bottleneck {
				continue
			}
			c, err := cfg.WithMachines(st.Group, len(st.Machines)+1)
			if err != nil {
				return err
			}
			c.WIPLimit = 0
			if s, err := linesim.Replicate(ctx, c, week, 4, 0); err == nil {
				p.WhatIfs = append(p.WhatIfs, WhatIf{
					Name:   fmt.Sprintf("one more grinder in %s", st.Group),
					NameZH: fmt.Sprintf("%s 组增加一台磨床", st.Group), Summary: s,
				})
			}
		}
	}
	if s, err := linesim.Replicate(ctx, cfg.WithDressing(0.5), week, 4, 0); err == nil {
		p.WhatIfs = append(p.WhatIfs, WhatIf{Name: "dressing in half the time", NameZH: "修整时间减半", Summary: s})
	}
	if s, err := linesim.Replicate(ctx, cfg.WithOpen([]linesim.Window{{FromS: 6 * 3600, ToS: 22 * 3600}}), week, 4, 0); err == nil {
		p.WhatIfs = append(p.WhatIfs, WhatIf{Name: "two shifts (06:00–22:00)", NameZH: "两班制（06:00–22:00）", Summary: s})
	}
	r.Prescription = p
	return nil
}

// validWindows reports whether windows are daily periods the simulation
// accepts.
func validWindows(ws []linesim.Window) bool {
	for _, w := range ws {
		if !(w.ToS > w.FromS) || w.FromS < 0 || w.ToS-w.FromS > 86400 {
			return false
		}
	}
	return true
}

func markPace(loads []GroupLoad) {
	best, second := -1, 0.0
	for i, l := range loads {
		if best < 0 || l.SustainableTaktS > loads[best].SustainableTaktS {
			if best >= 0 {
				second = max(second, loads[best].SustainableTaktS)
			}
			best = i
		} else {
			second = max(second, l.SustainableTaktS)
		}
	}
	if best >= 0 && loads[best].SustainableTaktS > 0 {
		loads[best].Paces = true
		loads[best].MarginS = loads[best].SustainableTaktS - second
	}
}
