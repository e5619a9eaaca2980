package linesim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Estimate is the mean of a figure over replications with its confidence
// interval (Student t on the replications' spread).
type Estimate struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

func estimate(xs []float64, conf float64) Estimate {
	m, sd := stat.MeanStdDev(xs, nil)
	if len(xs) < 2 || math.IsNaN(sd) {
		return Estimate{Mean: m, Low: m, High: m}
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(xs) - 1)}.Quantile(1 - (1-conf)/2)
	h := t * sd / math.Sqrt(float64(len(xs)))
	return Estimate{Mean: m, SD: sd, Low: m - h, High: m + h}
}

// StageSummary is a stage's figures over replications.
type StageSummary struct {
	Group            string   `json:"group"`
	Machines         int      `json:"machines"`
	Utilisation      Estimate `json:"utilisation"`
	SustainableTaktS Estimate `json:"sustainable_takt_s"`
}

// Summary is the outcome of several replications.
type Summary struct {
	Replications int            `json:"replications"`
	Confidence   float64        `json:"confidence"`
	GoodPerHour  Estimate       `json:"good_per_hour"`
	TaktS        Estimate       `json:"takt_s"`
	OEE          Estimate       `json:"oee"`
	IdealTaktS   float64        `json:"ideal_takt_s"`
	Stages       []StageSummary `json:"stages"`
	// Bottleneck is the group with the longest sustainable takt: the one
	// that paces the line.
	Bottleneck string `json:"bottleneck"`
}

// Replicate runs n replications of c in parallel (seeds run.Seed+0…n−1)
// and summarises them at confidence conf (0: 0.95).
func Replicate(ctx context.Context, c Config, run Run, n int, conf float64) (Summary, error) {
	if n < 1 {
		return Summary{}, errors.New("linesim: at least one replication")
	}
	if conf == 0 {
		conf = 0.95
	}
	if err := c.Validate(); err != nil {
		return Summary{}, err
	}
	results := make([]Result, n)
	errs := make([]error, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := run
				r.Seed = run.Seed + uint64(i)
				results[i], errs[i] = Simulate(c, r)
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Summary{}, fmt.Errorf("linesim: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		return Summary{}, err
	}
	return summarise(results, conf), nil
}

func summarise(rs []Result, conf float64) Summary {
	pick := func(f func(Result) float64) Estimate {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		return estimate(xs, conf)
	}
	s := Summary{
		Replications: len(rs), Confidence: conf, IdealTaktS: rs[0].IdealTaktS,
		GoodPerHour: pick(func(r Result) float64 { return r.GoodPerHour }),
		TaktS:       pick(func(r Result) float64 { return r.TaktS }),
		OEE:         pick(func(r Result) float64 { return r.OEE }),
	}
	var worst float64
	for si, st := range rs[0].Stages {
		ss := StageSummary{
			Group: st.Group, Machines: st.Machines,
			Utilisation:      pick(func(r Result) float64 { return r.Stages[si].Utilisation }),
			SustainableTaktS: pick(func(r Result) float64 { return r.Stages[si].SustainableTaktS }),
		}
		if ss.SustainableTaktS.Mean > worst {
			worst, s.Bottleneck = ss.SustainableTaktS.Mean, st.Group
		}
		s.Stages = append(s.Stages, ss)
	}
	return s
}
