package kpi

import (
	"cmp"
	"slices"
	"strings"
)

// EnergyReport is the energy and carbon of the burs made in the period.
//
// Each job's energy (the grinder's energy-counter delta over the job, as
// reported in its cycle) is booked to the bur it worked on, and each bur to
// its batch. Carbon uses the blended factor of LineConfig.Carbon (grid and
// the park's own renewable share). Energy drawn between jobs (idle,
// dressing, wheel change) is in no cycle and is not apportioned. A bur whose
// jobs straddle the period's edges carries only the jobs inside it.
type EnergyReport struct {
	KgCO2ePerKWh     float64       `json:"kg_co2e_per_kwh"` // blended emission factor used
	TotalKWh         float64       `json:"total_kwh"`
	TotalKgCO2e      float64       `json:"total_kg_co2e"`
	Burs             int           `json:"burs"`      // burs with at least one job in the period
	GoodBurs         int           `json:"good_burs"` // of those, burs that passed inspection
	KWhPerBur        float64       `json:"kwh_per_bur"`
	KgCO2ePerBur     float64       `json:"kg_co2e_per_bur"`
	KWhPerGoodBur    float64       `json:"kwh_per_good_bur"` // all energy, scrap's included, over good burs
	KgCO2ePerGoodBur float64       `json:"kg_co2e_per_good_bur"`
	Batches          []BatchEnergy `json:"batches"`
	BurDetail        []BurEnergy   `json:"bur_detail,omitempty"` // when Query.BurDetail
}

// BatchEnergy is the energy and carbon of one batch's burs in the period.
type BatchEnergy struct {
	Batch            string  `json:"batch"` // "" for burs whose batch is not known
	Burs             int     `json:"burs"`
	GoodBurs         int     `json:"good_burs"`
	KWh              float64 `json:"kwh"`
	KgCO2e           float64 `json:"kg_co2e"`
	KWhPerBur        float64 `json:"kwh_per_bur"`
	KgCO2ePerBur     float64 `json:"kg_co2e_per_bur"`
	KWhPerGoodBur    float64 `json:"kwh_per_good_bur"`
	KgCO2ePerGoodBur float64 `json:"kg_co2e_per_good_bur"`
}

// BurEnergy is the energy and carbon of one bur's jobs in the period.
type BurEnergy struct {
	Serial string  `json:"serial"`
	Batch  string  `json:"batch,omitempty"`
	Jobs   int     `json:"jobs"`
	KWh    float64 `json:"kwh"`
	KgCO2e float64 `json:"kg_co2e"`
	Status string  `json:"status"` // good, failed (inspection), scrap (aborted job), in_process
}

// Bur statuses in BurEnergy.
const (
	statusGood      = "good"
	statusFailed    = "failed"
	statusScrap     = "scrap"
	statusInProcess = "in_process"
)

// burTally accumulates one bur.
type burTally struct {
	kwh     float64
	jobs    int
	aborted bool
}

// defaultBurBatch derives a bur's batch from the line's serial
// pattern when it starts with "{batch}" followed by a literal separator,
// as the default "{batch}-{seq:05}" does: the batch is everything before
// the last separator. Other patterns give "".
func defaultBurBatch(pattern string) func(string) string {
	rest, ok := strings.CutPrefix(pattern, "{batch}")
	if !ok {
		return func(string) string { return "" }
	}
	sep, _, _ := strings.Cut(rest, "{")
	if sep == "" {
		return func(string) string { return "" }
	}
	return func(serial string) string {
		if i := strings.LastIndex(serial, sep); i > 0 {
			return serial[:i]
		}
		return ""
	}
}

// reportEnergy builds the report. status gives the inspection verdict of a
// serial: true/false when measured, ok=false when not (yet).
func reportEnergy(factor float64, burs map[string]*burTally, burBatch func(string) string,
	status func(string) (pass, ok bool), detail bool) EnergyReport {
	r := EnergyReport{KgCO2ePerKWh: factor}
	batches := map[string]*BatchEnergy{}
	for serial, b := range burs {
		st := statusInProcess
		if pass, ok := status(serial); ok {
			st = statusFailed
			if pass {
				st = statusGood
			}
		}
		if b.aborted && st != statusGood {
			st = statusScrap
		}
		batch := burBatch(serial)
		be := batches[batch]
		if be == nil {
			be = &BatchEnergy{Batch: batch}
			batches[batch] = be
		}
		be.Burs++
		be.KWh += b.kwh
		r.Burs++
		r.TotalKWh += b.kwh
		if st == statusGood {
			be.GoodBurs++
			r.GoodBurs++
		}
		if detail {
			r.BurDetail = append(r.BurDetail, BurEnergy{Serial: serial, Batch: batch, Jobs: b.jobs,
				KWh: b.kwh, KgCO2e: b.kwh * factor, Status: st})
		}
	}
	r.TotalKgCO2e = r.TotalKWh * factor
	r.KWhPerBur = ratio(r.TotalKWh, float64(r.Burs))
	r.KgCO2ePerBur = r.KWhPerBur * factor
	r.KWhPerGoodBur = ratio(r.TotalKWh, float64(r.GoodBurs))
	r.KgCO2ePerGoodBur = r.KWhPerGoodBur * factor
	r.Batches = make([]BatchEnergy, 0, len(batches))
	for _, be := range batches {
		be.KgCO2e = be.KWh * factor
		be.KWhPerBur = ratio(be.KWh, float64(be.Burs))
		be.KgCO2ePerBur = be.KWhPerBur * factor
		be.KWhPerGoodBur = ratio(be.KWh, float64(be.GoodBurs))
		be.KgCO2ePerGoodBur = be.KWhPerGoodBur * factor
		r.Batches = append(r.Batches, *be)
	}
	slices.SortFunc(r.Batches, func(a, b BatchEnergy) int { return cmp.Compare(a.Batch, b.Batch) })
	slices.SortFunc(r.BurDetail, func(a, b BurEnergy) int { return cmp.Compare(a.Serial, b.Serial) })
	return r
}
