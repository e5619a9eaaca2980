package linesim

import (
	"context"
	"fmt"

	"github.com/pilotline/pilotline/mes/grinder"
)

// WithMachines returns c with n machines in group's stage: machines are
// removed from the end or added as copies of the stage's machines in turn
// (a new grinder is expected to behave like the group's measured ones).
func (c Config) WithMachines(group string, n int) (Config, error) {
	if n < 1 {
		return Config{}, fmt.Errorf("linesim: %d machines in %s", n, group)
	}
	out := c.Clone()
	for si := range out.Stages {
		s := &out.Stages[si]
		if s.Group != group {
			continue
		}
		base := len(s.Machines)
		for len(s.Machines) < n {
			m := s.Machines[len(s.Machines)%base]
			m.ID = fmt.Sprintf("%s+%d", group, len(s.Machines)-base+1)
			s.Machines = append(s.Machines, m)
		}
		s.Machines = s.Machines[:n]
		return out, nil
	}
	return Config{}, fmt.Errorf("linesim: no stage for group %s", group)
}

// WithDressing returns c with every dressing taking scale times as long.
func (c Config) WithDressing(scale float64) Config {
	out := c.Clone()
	for si := range out.Stages {
		for mi := range out.Stages[si].Machines {
			p := &out.Stages[si].Machines[mi].Params
			if p.Dress != nil {
				p.Dress = grinder.Fixed(p.Dress.Mean() * scale)
			}
		}
	}
	return out
}

// WithOpen returns c with other daily open windows (a shift pattern).
func (c Config) WithOpen(open []Window) Config {
	out := c.Clone()
	out.Open = append([]Window(nil), open...)
	return out
}

// Target is what a production line has to deliver.
type Target struct {
	AnnualGood  int     `json:"annual_good"`  // good burs a year
	WorkingDays float64 `json:"working_days"` // days a year the shift plan runs; default 250
	TaktS       float64 `json:"takt_s"`       // customer takt, if given; else derived from the volume
}

// Prescription is the line a target needs and how it is expected to run.
type Prescription struct {
	Target          Target         `json:"target"`
	RequiredTaktS   float64        `json:"required_takt_s"` // open seconds per good bur the target needs
	MachinesByGroup map[string]int `json:"machines_by_group"`
	Expected        Summary        `json:"expected"`
	// Met is false when the search gave up (maxMachines reached).
	Met bool `json:"met"`
}

// Prescribe adds machines to the bottleneck group of c, one at a time,
// until the lower confidence bound of the simulated takt meets the
// target's (its upper bound of takt ≤ required), or the line has
// maxMachines machines.
func Prescribe(ctx context.Context, c Config, t Target, run Run, reps, maxMachines int) (Prescription, error) {
	if t.WorkingDays == 0 {
		t.WorkingDays = 250
	}
	if t.AnnualGood <= 0 && t.TaktS <= 0 {
		return Prescription{}, fmt.Errorf("linesim: a target needs an annual volume or a takt")
	}
	openPerYear := c.OpenShare() * 86400 * t.WorkingDays
	req := t.TaktS
	if t.AnnualGood > 0 {
		v := openPerYear / float64(t.AnnualGood)
		if req == 0 || v < req {
			req = v
		}
	}
	p := Prescription{Target: t, RequiredTaktS: req}
	cur := c.Clone()
	for {
		sum, err := Replicate(ctx, cur, run, reps, 0)
		if err != nil {
			return Prescription{}, err
		}
		p.Expected = sum
		p.MachinesByGroup = map[string]int{}
		for _, s := range cur.Stages {
			p.MachinesByGroup[s.Group] = len(s.Machines)
		}
		if sum.TaktS.High <= req && sum.TaktS.Mean > 0 {
			p.Met = true
			return p, nil
		}
		if cur.Machines() >= maxMachines {
			return p, nil
		}
		n := p.MachinesByGroup[sum.Bottleneck]
		if cur, err = cur.WithMachines(sum.Bottleneck, n+1); err != nil {
			return Prescription{}, err
		}
		cur.WIPLimit = 0
	}
}
