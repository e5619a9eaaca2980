package kpi

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi/kpitest"
)

// jobEvents appends one job of M1 on the test line: loading 20 s, grinding g,
// unloading 20 s from start, and its cycle (Start at loading, End after
// unloading, as the machines report it); idle afterwards.
func jobEvents(ev []mes.MachineEvent, machine string, start time.Time, seq uint64, serial string, grind time.Duration, aborted bool) []mes.MachineEvent {
	st := func(t time.Time, s mes.MachineState) mes.MachineEvent {
		return mes.MachineEvent{Machine: machine, Kind: mes.EventState, SourceTime: t, State: s}
	}
	g := start.Add(20 * time.Second)
	u := g.Add(grind)
	end := u.Add(20 * time.Second)
	ev = append(ev, st(start, mes.StateLoading), st(g, mes.StateGrinding))
	if aborted {
		ev = append(ev, st(u, mes.StateAlarm), st(end, mes.StateIdle))
	} else {
		ev = append(ev, st(u, mes.StateUnloading), st(end, mes.StateIdle))
	}
	c := cycleEv(machine, end, seq, serial, end.Sub(start), 0.1, aborted)
	c.Cycle.Program = "P10"
	return append(ev, c)
}

// TestOEE_PRUAndAPTOnTheSameBasis: PRU 700 s is planned from the start of
// loading to the end of unloading. A job of 20 s loading, 660 s grinding and
// 20 s unloading ran exactly at ideal speed: APT = 700 s, effectiveness
// = 700 × 1 / 700 = 1 (grinding alone as APT would give 700/660 = 1.06).
func TestOEE_PRUAndAPTOnTheSameBasis(t *testing.T) {
	ev := []mes.MachineEvent{stateEv("M1", "-01:00", mes.StateIdle)}
	ev = jobEvents(ev, "M1", at("07:00"), 1, "B1-00001", 660*time.Second, false)
	rep, err := Compute(context.Background(), Input{Line: testLine(), Events: kpitest.NewMemStore(ev...)}, scenarioQuery())
	require.NoError(t, err)
	m1 := byID(rep.OEE.Machines, "M1")
	require.NotNil(t, m1)
	assert.Equal(t, 700.0, m1.Time.APTS)
	assert.Equal(t, 660.0, m1.Time.GrindingS)
	assert.Equal(t, 40.0, m1.Time.LoadUnloadS)
	assert.InDelta(t, 1.0, m1.EffectivenessUncapped, 1e-12)
}

// TestOEE_AbortedJobIsScrapAtItsOperation: a job aborted by an alarm after
// 20 s loading and 280 s grinding produced no good unit. It is scrap at this
// operation (PQ 1, SQ 1, GQ 0) and earns the 320 s it ran (less than PRU
// 700 s) as ideal time, not the full PRU: effectiveness = 320 / 300 of APT
// (20 s loading + 280 s grinding) — crediting 700 s would give 2.33.
func TestOEE_AbortedJobIsScrapAtItsOperation(t *testing.T) {
	ev := []mes.MachineEvent{stateEv("M1", "-01:00", mes.StateIdle)}
	ev = jobEvents(ev, "M1", at("07:00"), 1, "B1-00001", 280*time.Second, true)
	rep, err := Compute(context.Background(), Input{Line: testLine(), Events: kpitest.NewMemStore(ev...)}, scenarioQuery())
	require.NoError(t, err)
	m1 := byID(rep.OEE.Machines, "M1")
	require.NotNil(t, m1)
	assert.Equal(t, []int{1, 0, 1, 1}, []int{m1.PQ, m1.GQ, m1.SQ, m1.AbortedQ})
	assert.Equal(t, 300.0, m1.Time.APTS)
	assert.InDelta(t, 320.0, m1.IdealS, 1e-9)
	assert.InDelta(t, 320.0/300, m1.EffectivenessUncapped, 1e-12)
	assert.Zero(t, m1.Quality)
	assert.Equal(t, []int{1, 0, 1}, []int{rep.OEE.Line.PQ, rep.OEE.Line.GQ, rep.OEE.Line.SQ}, "the line lost the bur")
}

// twoOpLine has two grinding operations: 10 on M1 (forms the head
// diameter), 20 on M2 (forms the working length), then inspection.
func twoOpLine() *mes.LineConfig {
	line := testLine()
	line.Groups = []mes.Group{{ID: "G1"}, {ID: "G2"}, {ID: "QC"}}
	line.Machines = []mes.Machine{
		{ID: "M1", Kind: mes.KindGrinder, Row: 1, Col: 1, Group: "G1"},
		{ID: "M2", Kind: mes.KindGrinder, Row: 1, Col: 2, Group: "G2"},
		{ID: "QC1", Kind: mes.KindInspection, Group: "QC"},
	}
	p := &line.Products[0]
	p.Tolerances[mes.CharWorkingLength] = mes.Tolerance{Nominal: 1.3, Lower: 1.25, Upper: 1.35}
	p.Route = []mes.Operation{
		{Number: 10, Name: "Head", Group: "G1", Program: "P10", IdealCycleS: 700, Forms: []string{mes.CharHeadDiameter}},
		{Number: 20, Name: "Flutes", Group: "G2", Program: "P20", IdealCycleS: 700, Forms: []string{mes.CharWorkingLength}},
		{Number: 30, Name: "Inspect", Group: "QC", Program: "Q30", IdealCycleS: 60},
	}
	return line
}

// TestOEE_QualityCountsOwnScrapOnly: burs 1–3 pass both grinders. Bur 1
// passes inspection; bur 2 fails the working length, which operation 20
// (M2) forms; bur 3 is not inspected yet. M1: GQ 2 (burs 1, 2), SQ 0,
// pending 1, quality 2/3. M2: GQ 1, SQ 1, pending 1, quality 1/3.
// (Charging bur 2 to both and counting bur 3 as good gives M1 SQ 1 and M2
// quality 2/3.)
func TestOEE_QualityCountsOwnScrapOnly(t *testing.T) {
	line := twoOpLine()
	var ev []mes.MachineEvent
	for i, serial := range []string{"B1-00001", "B1-00002", "B1-00003"} {
		end := at("07:00").Add(time.Duration(i) * 20 * time.Minute)
		c1 := cycleEv("M1", end, uint64(i+1), serial, 700*time.Second, 0.1, false)
		c2 := cycleEv("M2", end.Add(15*time.Minute), uint64(i+1), serial, 700*time.Second, 0.1, false)
		c2.Cycle.Program = "P20"
		ev = append(ev, c1, c2)
	}
	meas := func(tm time.Time, seq uint64, serial string, wl float64) mes.MachineEvent {
		e := measEv("QC1", tm, seq, serial, 1.40)
		e.Measurement.Values[mes.CharWorkingLength] = wl
		return e
	}
	ev = append(ev, meas(at("08:00"), 1, "B1-00001", 1.30), meas(at("08:20"), 2, "B1-00002", 1.40))
	rep, err := Compute(context.Background(), Input{Line: line, Events: kpitest.NewMemStore(ev...)}, scenarioQuery())
	require.NoError(t, err)
	m1, m2 := byID(rep.OEE.Machines, "M1"), byID(rep.OEE.Machines, "M2")
	require.NotNil(t, m1)
	require.NotNil(t, m2)
	assert.Equal(t, []int{3, 2, 0, 1}, []int{m1.PQ, m1.GQ, m1.SQ, m1.PendingQ}, "M1: PQ GQ SQ pending")
	assert.Equal(t, []int{3, 1, 1, 1}, []int{m2.PQ, m2.GQ, m2.SQ, m2.PendingQ}, "M2: PQ GQ SQ pending")
	assert.InDelta(t, 2.0/3, m1.Quality, 1e-12)
	assert.InDelta(t, 1.0/3, m2.Quality, 1e-12)
}

// TestCompute_MaintenanceWindowFromTheCalendar: a maintenance reservation
// of group GRD over 08:00–09:00 makes M1's maintenance 08:00–09:00 planned
// (PDOT) and its maintenance 09:00–09:30 unplanned (ADET); one taking the
// whole line also leaves the line's planned busy time.
func TestCompute_MaintenanceWindowFromTheCalendar(t *testing.T) {
	ev := []mes.MachineEvent{stateEv("M1", "-01:00", mes.StateIdle), stateEv("M1", "08:00", mes.StateMaintenance), stateEv("M1", "09:30", mes.StateIdle)}
	in := Input{Line: testLine(), Events: kpitest.NewMemStore(ev...), Reservations: []*mes.Reservation{
		{Kind: mes.ReservationMaintenance, Groups: []string{"GRD"}, Start: at("08:00"), End: at("09:00")},
		{Kind: mes.ReservationBooking, Groups: []string{"GRD", "QC"}, Start: at("06:00"), End: at("14:00")},
		{Kind: mes.ReservationMaintenance, Groups: []string{"GRD", "QC"}, Start: at("12:00"), End: at("13:00")},
	}}
	rep, err := Compute(context.Background(), in, scenarioQuery())
	require.NoError(t, err)
	m1 := byID(rep.OEE.Machines, "M1")
	require.NotNil(t, m1)
	assert.Equal(t, 3600.0, m1.Time.MaintenanceS)
	assert.Equal(t, 1800.0, m1.Time.MaintenanceUnplannedS)
	assert.Equal(t, 1, m1.Failures)
	assert.Equal(t, 25200.0-3600, rep.OEE.Line.PBTS, "the line-wide window 12:00–13:00 is planned downtime of the line")
}
