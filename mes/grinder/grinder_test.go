package grinder

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDressAndWheelChange(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := New(Params{LoadS: 20, UnloadS: 20, DressEvery: 3, Dress: Fixed(240), WheelChangeEvery: 2, WheelChange: Fixed(900)}, true, r)
	require.Equal(t, 1, m.Wheel.No)
	var dressings, changes int
	for part := 1; part <= 12; part++ {
		j := m.Job(Fixed(780), 195, r)
		assert.Equal(t, 740.0, j.GrindS, "grinding is the job less loading and unloading")
		m.Ground(j.GrindS, r)
		if m.DressDue() {
			dressings++
			assert.Equal(t, 240.0, m.DressS(r))
			if m.Dressed() {
				changes++
				m.NewWheel(r)
			}
		}
	}
	// 12 parts, a dressing every 3 parts, a new wheel every 2 dressings.
	assert.Equal(t, 4, dressings)
	assert.Equal(t, 2, changes)
	assert.Equal(t, 3, m.Wheel.No)
	assert.Zero(t, m.Wheel.DressCount)
}

func TestWearAndDiameter(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m := New(Params{}, true, r)
	base := m.Wheel.BaseMM
	assert.InDelta(t, WheelNewMM, base, 0.1)
	m.Ground(600, r)
	assert.InDelta(t, WearPerPartUM, m.Wheel.WearUM, 0.5, "about 1.5 µm per 600 s")
	assert.InDelta(t, base-2*m.Wheel.WearUM/1000, m.Wheel.DiameterMM(), 1e-12)
	m.P.DressEvery = 1
	require.True(t, m.DressDue())
	m.Dressed()
	assert.InDelta(t, base-0.1, m.Wheel.BaseMM, 1e-12, "a dressing takes 50 µm off the radius")
	assert.Zero(t, m.Wheel.WearUM)
}

func TestFaults(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m := New(Params{TimeToFailure: Fixed(1000), Repair: Fixed(300)}, true, r)
	fault, _ := m.FaultWithin(800)
	assert.False(t, fault)
	m.Ground(800, r)
	fault, at := m.FaultWithin(800)
	require.True(t, fault)
	assert.Equal(t, 200.0, at)
	assert.Equal(t, 300.0, m.RepairS(r))
	m.Faulted(true, at, r)
	assert.Equal(t, 1000.0, m.TTF, "a random fault draws a new time to failure")
	m.Faulted(false, 150, r)
	assert.Equal(t, 850.0, m.TTF, "another stop uses up the time ground")

	none := New(Params{}, false, r)
	fault, _ = none.FaultWithin(1e9)
	assert.False(t, fault)
	assert.Equal(t, DefaultRepairS, none.RepairS(r))
	none.Ground(100, r)
	assert.False(t, none.DressDue(), "the inspection station has no wheel")
}

func TestDistributionMeans(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	dists := []Dist{
		Jitter{IdealS: 780, Jitter: 0.03},
		AtLeast{MinS: 30, D: Exponential{MeanS: 900}},
		AtLeast{MinS: 30, D: Exponential{MeanS: 20}},
		Exponential{MeanS: 28800},
		NewEmpirical([]float64{1, 2, 3, 10}),
	}
	for _, d := range dists {
		const n = 200000
		var s float64
		for range n {
			s += d.Sample(r)
		}
		assert.InDelta(t, d.Mean(), s/n, 0.01*d.Mean(), "%T", d)
	}
	assert.InDelta(t, 780*(1+0.03*math.Sqrt(2/math.Pi)), Jitter{IdealS: 780, Jitter: 0.03}.Mean(), 1e-9)
	assert.Nil(t, NewEmpirical(nil))
}
