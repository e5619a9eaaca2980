package soak

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pilotline/pilotline/opcua/sim"
)

// soakKPI is the part of GET /api/v1/kpi the soak checks.
type soakKPI struct {
	PeriodS float64 `json:"period_s"`
	Takt    struct {
		Departures  int     `json:"departures"`
		LastS       float64 `json:"last_s"`
		PeriodMeanS float64 `json:"period_mean_s"`
	} `json:"takt"`
	Cycles struct {
		Machines []struct {
			Machine string  `json:"machine"`
			N       int     `json:"n"`
			Aborted int     `json:"aborted"`
			MeanS   float64 `json:"mean_s"`
			P50S    float64 `json:"p50_s"`
			P95S    float64 `json:"p95_s"`
			MinS    float64 `json:"min_s"`
			MaxS    float64 `json:"max_s"`
		} `json:"machines"`
	} `json:"cycle_time"`
	OEE struct {
		Machines []struct {
			ID   string             `json:"id"`
			Time map[string]float64 `json:"time"`
		} `json:"machines"`
	} `json:"oee"`
	Energy struct {
		TotalKWh float64 `json:"total_kwh"`
		Burs     int     `json:"burs"`
		Batches  []struct {
			Batch string  `json:"batch"`
			Burs  int     `json:"burs"`
			KWh   float64 `json:"kwh"`
		} `json:"batches"`
	} `json:"energy"`
}

// oeeLeaves are the time buckets that partition a machine's period.
var oeeLeaves = []string{"not_scheduled_s", "break_s", "maintenance_s", "grinding_s", "load_unload_s", "dressing_s",
	"wheel_change_s", "alarm_s", "maintenance_unplanned_s", "idle_s", "starved_s", "blocked_s", "comm_lost_s", "unknown_s"}

// kpiChecks compares the KPI report with what the raw stored events, the
// genealogy and the machines' energy counters say.
func (r *soakRun) kpiChecks(ctx context.Context, period [2]time.Time, burs []soakBur, cycles, meas []soakEvent, start, end *sim.State) {
	res := r.res
	var k soakKPI
	if err := r.get(ctx, fmt.Sprintf("api/v1/kpi?from=%s&to=%s", queryTimeParam(period[0]), queryTimeParam(period[1])), &k); err != nil {
		res.fail("harness", "kpi: %v", err)
		return
	}
	want := period[1].Sub(period[0]).Seconds()

	// OEE time buckets partition the period exactly, per grinder.
	const part = "OEE buckets partition the shift"
	for _, m := range k.OEE.Machines {
		sum := 0.0
		for _, leaf := range oeeLeaves {
			v := m.Time[leaf]
			if v < 0 {
				res.fail(part, "%s %s is negative: %v", m.ID, leaf, v)
			}
			sum += v
		}
		res.CommLostS += m.Time["comm_lost_s"]
		if res.commLostBy == nil {
			res.commLostBy = map[string]float64{}
		}
		res.commLostBy[m.ID] += m.Time["comm_lost_s"]
		if math.Abs(sum-want) > 1e-6 || math.Abs(m.Time["period_s"]-want) > 1e-6 {
			res.fail(part, "%s: buckets sum to %.6f s, period_s %.6f s, shift %.6f s", m.ID, sum, m.Time["period_s"], want)
		}
	}
	if len(k.OEE.Machines) == 0 {
		res.fail(part, "the KPI report has no machines")
	}

	// Cycle-time statistics recomputed from the raw cycle events.
	const cyc = "cycle-time statistics match the raw events"
	times := map[string][]float64{}
	aborted := map[string]int{}
	seen := map[string]bool{}
	for _, e := range cycles {
		id := fmt.Sprintf("%s|%d", e.Machine, e.Cycle.Seq)
		if e.Cycle == nil || seen[id] {
			continue
		}
		seen[id] = true
		if e.Cycle.Aborted {
			aborted[e.Machine]++
			continue
		}
		times[e.Machine] = append(times[e.Machine], e.Cycle.End.Sub(e.Cycle.Start).Seconds())
	}
	for _, m := range k.Cycles.Machines {
		ts := times[m.Machine]
		slices.Sort(ts)
		got := []float64{float64(m.N), float64(m.Aborted), m.MeanS, m.MinS, m.MaxS, m.P50S, m.P95S}
		w := []float64{float64(len(ts)), float64(aborted[m.Machine]), mean(ts), first(ts), last(ts), percentile(ts, 50), percentile(ts, 95)}
		names := []string{"n", "aborted", "mean", "min", "max", "p50", "p95"}
		for i := range got {
			if math.Abs(got[i]-w[i]) > 1e-6 {
				res.fail(cyc, "%s %s: API %v, recomputed %v", m.Machine, names[i], got[i], w[i])
			}
		}
	}

	// Takt from the raw measurement (departure) events.
	var deps []time.Time
	seenM := map[string]bool{}
	for _, e := range meas {
		id := fmt.Sprintf("%s|%d", e.Machine, e.Measurement.Seq)
		if seenM[id] {
			continue
		}
		seenM[id] = true
		deps = append(deps, e.SourceTime)
	}
	slices.SortFunc(deps, func(a, b time.Time) int { return a.Compare(b) })
	res.Departures = len(deps)
	if k.Takt.Departures != len(deps) {
		res.fail("takt matches the raw events", "departures: API %d, raw measurement events %d", k.Takt.Departures, len(deps))
	} else if n := len(deps); n >= 2 {
		pm := deps[n-1].Sub(deps[0]).Seconds() / float64(n-1)
		ls := deps[n-1].Sub(deps[n-2]).Seconds()
		if math.Abs(pm-k.Takt.PeriodMeanS) > 1e-6 || math.Abs(ls-k.Takt.LastS) > 1e-6 {
			res.fail("takt matches the raw events", "period mean %v / last %v s from the API, %v / %v recomputed", k.Takt.PeriodMeanS, k.Takt.LastS, pm, ls)
		}
		res.TaktMeanS = pm
	}

	// Energy. Per batch, the KPI's figure must equal the sum over its burs'
	// genealogy records. Over all burs, that sum must equal the sum of the
	// grinders' job energies (each a counter delta over a job); and the
	// counters' deltas over the shift must cover it: what they hold beyond
	// the jobs is energy between jobs (idle, dressing, wheel change, alarm),
	// which is in no bur.
	const en = "energy per batch and bur matches the counters"
	perBatch := map[string]float64{}
	burSum := 0.0
	for _, b := range burs {
		for _, op := range b.Operations {
			if op.Machine == "" || len(op.Machine) > 0 && op.Machine[0] == 'Q' {
				continue
			}
			perBatch[b.Batch] += op.EnergyKWh
			burSum += op.EnergyKWh
		}
	}
	for _, b := range k.Energy.Batches {
		if math.Abs(b.KWh-perBatch[b.Batch]) > 1e-6*float64(max(b.Burs, 1)) {
			res.fail(en, "batch %s: KPI %.9f kWh, sum over its burs %.9f kWh", b.Batch, b.KWh, perBatch[b.Batch])
		}
	}
	cycleSum := 0.0
	for _, e := range cycles {
		if e.Cycle != nil && e.Machine[0] == 'G' && e.Cycle.Serial != "" {
			cycleSum += e.Cycle.EnergyKWh
		}
	}
	startE := map[string]float64{}
	for _, m := range start.Machines {
		startE[m.ID] = m.EnergyKWh
	}
	counter := 0.0
	for _, m := range end.Machines {
		if m.Kind != "inspection" {
			counter += m.EnergyKWh - startE[m.ID]
		}
	}
	res.EnergyBursKWh, res.EnergyJobsKWh, res.EnergyCounterKWh = burSum, cycleSum, counter
	if math.Abs(burSum-cycleSum) > 1e-6*float64(max(len(cycles), 1)) {
		res.fail(en, "sum over burs %.6f kWh, sum over the grinders' jobs %.6f kWh", burSum, cycleSum)
	}
	if cycleSum > counter+1e-6 {
		res.fail(en, "jobs hold %.6f kWh but the counters rose only %.6f kWh", cycleSum, counter)
	}
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func first(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

func last(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

// twinCheck compares a fresh viewer's snapshot with the simulator's state
// and the MES's batches.
func (r *soakRun) twinCheck(ctx context.Context, end *sim.State) {
	const inv = "twin snapshot equals the simulator and the MES"
	res := r.res
	var snap struct {
		Grinders []struct {
			ID         string `json:"id"`
			State      string `json:"state"`
			Counter    uint64 `json:"counter"`
			WheelID    string `json:"wheel_id"`
			DressCount uint32 `json:"dress_count"`
			Serial     string `json:"serial"`
		} `json:"grinders"`
		Output struct {
			Count uint64 `json:"count"`
		} `json:"output"`
	}
	// The MES may still be folding the last events: retry for a few seconds.
	var diffs []string
	for try := range 20 {
		if try > 0 {
			sleepCtx(ctx, 500*time.Millisecond)
		}
		c, _, err := websocket.DefaultDialer.DialContext(ctx, wsURLOf(r.base), nil)
		if err != nil {
			diffs = []string{err.Error()}
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		err = c.ReadJSON(&snap)
		c.Close()
		if err != nil {
			diffs = []string{err.Error()}
			continue
		}
		st, err := r.simState(ctx)
		if err != nil {
			diffs = []string{err.Error()}
			continue
		}
		diffs = diffs[:0]
		byID := map[string]int{}
		for i, g := range snap.Grinders {
			byID[g.ID] = i
		}
		for _, m := range st.Machines {
			if m.Kind == "inspection" {
				continue
			}
			i, ok := byID[m.ID]
			if !ok {
				diffs = append(diffs, m.ID+" missing")
				continue
			}
			g := snap.Grinders[i]
			if g.State != string(m.State) || g.Counter != uint64(m.Parts) || g.Serial != m.Serial {
				diffs = append(diffs, fmt.Sprintf("%s twin{%s counter %d serial %q} sim{%s counter %d serial %q}", m.ID,
					g.State, g.Counter, g.Serial, m.State, m.Parts, m.Serial))
			}
			if g.WheelID != m.WheelID || g.DressCount != m.DressCount {
				diffs = append(diffs, fmt.Sprintf("%s twin{wheel %s dressed %d} sim{wheel %s dressed %d}", m.ID, g.WheelID, g.DressCount, m.WheelID, m.DressCount))
			}
		}
		if out, ok := st.Stations["OUT"]; ok && snap.Output.Count != out.Count {
			diffs = append(diffs, fmt.Sprintf("output twin %d sim %d", snap.Output.Count, out.Count))
		}
		if len(diffs) == 0 {
			return
		}
	}
	for i, d := range diffs {
		if i == 5 {
			res.fail(inv, "%d differences in all", len(diffs))
			break
		}
		res.fail(inv, "%s", d)
	}
	_ = end
}
