package linesim

import (
	"fmt"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/grinder"
)

// Nominal is the line as configured, before any run measured it: every
// machine of each route operation's group with the simulation section's
// distributions, and the configured reject rate at the last operation.
func Nominal(line *mes.LineConfig, p *mes.Product) (Config, error) {
	if len(p.Route) == 0 {
		return Config{}, fmt.Errorf("linesim: product %s has no route", p.ISO)
	}
	params := grinder.SimulationParams(line.Simulation)
	var c Config
	for i, op := range p.Route {
		st := Stage{Op: op.Name, Group: op.Group, IdealCycleS: op.IdealCycleS}
		for _, mc := range line.Machines {
			if mc.Group != op.Group {
				continue
			}
			st.Machines = append(st.Machines, Machine{
				ID: mc.ID, Params: params, Cycle: grinder.SimulationCycle(line.Simulation, op),
				MinGrindS: grinder.MinGrindShare * op.IdealCycleS, HasWheel: mc.Kind != mes.KindInspection,
			})
		}
		if i == len(p.Route)-1 {
			st.ScrapRate = line.Simulation.RejectRate
		}
		c.Stages = append(c.Stages, st)
	}
	return c, c.Validate()
}
