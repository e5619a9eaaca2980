package grinder

import "github.com/pilotline/pilotline/mes"

// MinGrindShare is the smallest share of an operation's ideal cycle that
// grinding takes, however short the drawn job.
const MinGrindShare = 0.25

// SimulationParams are the model's parameters of a line's simulation
// configuration: exponential faults and repairs (clamped at MinRepairS),
// fixed dressing and wheel change times.
func SimulationParams(s mes.Simulation) Params {
	p := Params{
		LoadS: s.LoadS, UnloadS: s.UnloadS,
		DressEvery: s.DressEvery, Dress: Fixed(s.DressS),
		WheelChangeEvery: s.WheelChangeEvery, WheelChange: Fixed(s.WheelChangeS),
	}
	if s.MTBFS > 0 {
		p.TimeToFailure = Exponential{MeanS: s.MTBFS}
	}
	if s.MTTRS > 0 {
		p.Repair = AtLeast{MinS: MinRepairS, D: Exponential{MeanS: s.MTTRS}}
	}
	return p
}

// SimulationCycle is the configured job time of an operation: its ideal
// cycle stretched by the simulation's jitter.
func SimulationCycle(s mes.Simulation, op mes.Operation) Dist {
	return Jitter{IdealS: op.IdealCycleS, Jitter: s.CycleJitter}
}
