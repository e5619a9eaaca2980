package linesim

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/grinder"
)

func fixed(id string, cycleS float64) Machine {
	return Machine{ID: id, Cycle: grinder.Fixed(cycleS), HasWheel: true}
}

func TestSingleMachineHandComputed(t *testing.T) {
	// One machine, 100 s a job, nothing else: jobs end at 100, 200, …,
	// 10,000 s, so 100 good burs in 10,000 s: 36 an hour, takt 100 s.
	c := Config{Stages: []Stage{{Group: "A", IdealCycleS: 100, Machines: []Machine{fixed("A1", 100)}}}}
	r, err := Simulate(c, Run{HorizonS: 10000})
	require.NoError(t, err)
	assert.Equal(t, 100, r.Good)
	assert.InDelta(t, 36, r.GoodPerHour, 1e-9)
	assert.InDelta(t, 100, r.TaktS, 1e-9)
	assert.InDelta(t, 1, r.OEE, 1e-9)
	assert.InDelta(t, 1, r.Stages[0].Utilisation, 1e-9)
}

func TestBottleneckPacesTheLine(t *testing.T) {
	// A: 2 machines × 100 s (50 s a bur), B: 1 machine × 80 s. B paces the
	// line: after the first bur (100 s at A) B finishes one every 80 s.
	c := Config{Stages: []Stage{
		{Group: "A", IdealCycleS: 100, Machines: []Machine{fixed("A1", 100), fixed("A2", 100)}},
		{Group: "B", IdealCycleS: 80, Machines: []Machine{fixed("B1", 80)}},
	}}
	r, err := Simulate(c, Run{HorizonS: 100 + 80*100})
	require.NoError(t, err)
	assert.Equal(t, 100, r.Good)
	assert.InDelta(t, 80, c.IdealTaktS(), 1e-9)
	assert.Less(t, r.Stages[0].Utilisation, r.Stages[1].Utilisation)
	assert.InDelta(t, 80, r.Stages[1].SustainableTaktS, 1e-9)
	// A's busy time includes the jobs still running at the horizon.
	assert.InDelta(t, 50, r.Stages[0].SustainableTaktS, 1)
}

func TestDressingTime(t *testing.T) {
	// 100 s jobs, a 100 s dressing every 4 parts: 4 burs per 500 s.
	m := fixed("A1", 100)
	m.Params = grinder.Params{DressEvery: 4, Dress: grinder.Fixed(100)}
	c := Config{Stages: []Stage{{Group: "A", IdealCycleS: 100, Machines: []Machine{m}}}}
	r, err := Simulate(c, Run{HorizonS: 50000})
	require.NoError(t, err)
	assert.Equal(t, 400, r.Good)
	assert.InDelta(t, 0.2*50000, r.Stages[0].DressS, 1e-6)
	faster, err := Simulate(c.WithDressing(0.5), Run{HorizonS: 50000})
	require.NoError(t, err)
	assert.Equal(t, 444, faster.Good, "4 burs per 450 s: 111 rounds in 49,950 s")
}

func TestScrapAndFaults(t *testing.T) {
	m := fixed("A1", 100)
	m.Params = grinder.Params{LoadS: 10, UnloadS: 10, TimeToFailure: grinder.Exponential{MeanS: 2000}, Repair: grinder.Fixed(300)}
	c := Config{Stages: []Stage{{Group: "A", IdealCycleS: 100, Machines: []Machine{m}, ScrapRate: 0.1}}}
	r, err := Simulate(c, Run{HorizonS: 2e6, Seed: 3})
	require.NoError(t, err)
	st := r.Stages[0]
	require.Positive(t, st.Aborted)
	// Faults come every 2000 s of grinding (80 s a job): about one job in 25.
	assert.InDelta(t, 1.0/25, float64(st.Aborted)/float64(st.Jobs+st.Aborted), 0.01)
	assert.InDelta(t, 0.1, float64(st.Scrapped)/float64(st.Jobs), 0.01)
	assert.Equal(t, r.Scrap, st.Aborted+st.Scrapped)
	assert.Equal(t, r.Good, st.Jobs-st.Scrapped)
	assert.Positive(t, st.DownS)
}

func TestOpenWindows(t *testing.T) {
	c := Config{Stages: []Stage{{Group: "A", IdealCycleS: 100, Machines: []Machine{fixed("A1", 100)}}}}
	day, err := Simulate(c.WithOpen([]Window{{FromS: 6 * 3600, ToS: 18 * 3600}}), Run{HorizonS: 10 * 86400})
	require.NoError(t, err)
	assert.InDelta(t, 10*12*3600, day.OpenS, 1e-6)
	// Jobs start only while open; one that starts before closing finishes.
	assert.Equal(t, 10*432, day.Good)
	assert.InDelta(t, 36, day.GoodPerHour, 1e-9, "per open hour")
	night := c.WithOpen([]Window{{FromS: 22 * 3600, ToS: 30 * 3600}})
	assert.InDelta(t, 8.0/24, night.OpenShare(), 1e-12)
	r, err := Simulate(night, Run{HorizonS: 3 * 86400})
	require.NoError(t, err)
	// 00:00–06:00 of the first night, two whole nights, 22:00–24:00 of the last.
	assert.InDelta(t, (6+8+8+2)*3600, r.OpenS, 1e-6)
}

func TestValidate(t *testing.T) {
	_, err := Simulate(Config{}, Run{HorizonS: 1})
	assert.ErrorContains(t, err, "no stages")
	_, err = Simulate(Config{Stages: []Stage{{Group: "A"}}}, Run{HorizonS: 1})
	assert.ErrorContains(t, err, "no machines")
	c := Config{Stages: []Stage{{Group: "A", Machines: []Machine{fixed("A1", 100)}}}}
	_, err = Simulate(c, Run{HorizonS: 10, WarmupS: 20})
	assert.ErrorContains(t, err, "warm-up")
	c.Stages[0].ScrapRate = 1
	_, err = Simulate(c, Run{HorizonS: 100})
	assert.ErrorContains(t, err, "scrap rate")
	_, err = Config{Stages: []Stage{{Group: "A", Machines: []Machine{fixed("A1", 100)}}}}.WithMachines("B", 2)
	assert.ErrorContains(t, err, "no stage")
}

func pilotLine(tb testing.TB) (*mes.LineConfig, Config) {
	tb.Helper()
	line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(tb, err)
	c, err := Nominal(line, &line.Products[0])
	require.NoError(tb, err)
	return line, c
}

func TestReplicateAndPrescribe(t *testing.T) {
	_, c := pilotLine(t)
	run := Run{HorizonS: 4 * 86400, WarmupS: 12 * 3600, Seed: 9}
	sum, err := Replicate(context.Background(), c, run, 6, 0.95)
	require.NoError(t, err)
	assert.Equal(t, 6, sum.Replications)
	assert.Less(t, sum.GoodPerHour.Low, sum.GoodPerHour.Mean)
	assert.Greater(t, sum.GoodPerHour.High, sum.GoodPerHour.Mean)
	assert.Equal(t, "FLT", sum.Bottleneck, "flutes: 1,620 s on 10 grinders")
	one, err := Simulate(c, Run{HorizonS: run.HorizonS, WarmupS: run.WarmupS, Seed: 9 + 2})
	require.NoError(t, err)
	again, err := Replicate(context.Background(), c, run, 6, 0.95)
	require.NoError(t, err)
	assert.Equal(t, sum, again, "replications are reproducible whatever the scheduling")
	assert.Less(t, sum.GoodPerHour.Low, one.GoodPerHour)

	// A target of 180 s takt with two shifts: the line needs more than today.
	target := Target{TaktS: 180}
	p, err := Prescribe(context.Background(), c, target, run, 4, 60)
	require.NoError(t, err)
	require.True(t, p.Met)
	assert.LessOrEqual(t, p.Expected.TaktS.High, 180.0)
	assert.Greater(t, p.MachinesByGroup["FLT"], 10)

	_, err = Prescribe(context.Background(), c, Target{}, run, 2, 60)
	assert.Error(t, err)
}
