package soak

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Result is everything a soak measured and every invariant it found broken.
type Result struct {
	Seed     int64     `json:"seed"`
	Shift    string    `json:"shift"`
	Speed    float64   `json:"speed"`
	Viewers  int       `json:"viewers"`
	Kills    int       `json:"kills"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	T0       time.Time `json:"t0"` // line clock at the start of the shift
	T1       time.Time `json:"t1"` // line clock when the line had settled

	Schedule []string `json:"schedule"`
	Injected int      `json:"injected"`
	MESKills int      `json:"mes_kills"`
	Restarts []string `json:"restarts"` // wall time from SIGKILL to the MES answering again

	Burs             int                `json:"burs"`
	GoodBurs         int                `json:"good_burs"`
	CountedJobs      int                `json:"counted_jobs"`
	GenealogyRecords int                `json:"genealogy_records"`
	AckedEvents      int                `json:"acked_events"`
	Departures       int                `json:"departures"`
	TaktMeanS        float64            `json:"takt_mean_s"`
	CommLostS        float64            `json:"comm_lost_s"` // summed over machines
	DownS            float64            `json:"down_s"`      // machine-seconds of endpoints stopped or stalled by the schedule
	downBy           map[string]float64 // DownS per machine
	outagesBy        map[string]int     // scheduled outages per machine
	commLostBy       map[string]float64 // CommLostS per machine
	EnergyBursKWh    float64            `json:"energy_burs_kwh"`
	EnergyJobsKWh    float64            `json:"energy_jobs_kwh"`
	EnergyCounterKWh float64            `json:"energy_counter_kwh"`

	ViewerConnects int64           `json:"viewer_connects"`
	ViewerFailures int64           `json:"viewer_failures"`
	SlowDropped    int             `json:"slow_dropped"`
	SlowOpen       int             `json:"slow_open"`
	SlowConsumer   int             `json:"slow_consumer"` // drops announced with reason slow_consumer
	LatencyN       int             `json:"latency_n"`
	LatencyP50All  float64         `json:"latency_p50_ms"`
	LatencyP99All  float64         `json:"latency_p99_ms"`
	LatencyP99     []latencyWindow `json:"latency_windows"`
	LongestStallS  float64         `json:"longest_stall_s"` // after the first bur left
	FirstOutS      float64         `json:"first_out_s"`     // simulated seconds until the first bur left the line
	LagN           int             `json:"lag_n"`
	LagP50MS       float64         `json:"lag_p50_ms"` // job end on the machine → received by acquisition
	LagP99MS       float64         `json:"lag_p99_ms"`
	LagMaxMS       float64         `json:"lag_max_ms"`

	Malformed    int    `json:"malformed"`
	Valid        int    `json:"valid_during_burst"`
	DigestBefore string `json:"digest_before"`
	DigestAfter  string `json:"digest_after"`

	RSSBaseAt      string       `json:"rss_base_at"`
	RSSBaseMB      float64      `json:"rss_base_mb"`
	RSSEndMB       float64      `json:"rss_end_mb"`
	GoroutinesBase float64      `json:"goroutines_base"`
	GoroutinesEnd  float64      `json:"goroutines_end"`
	Samples        []soakSample `json:"samples"`

	mu       sync.Mutex
	Failures []soakFailure `json:"failures"`
}

// soakFailure is one broken invariant with what was seen.
type soakFailure struct {
	Invariant string `json:"invariant"`
	Detail    string `json:"detail"`
}

type latencyWindow struct {
	Wall  time.Time `json:"wall"`
	P99MS float64   `json:"p99_ms"`
	N     int       `json:"n"`
}

// soakSample is one reading during the shift.
type soakSample struct {
	OffsetS     float64   `json:"offset_s"` // simulated seconds into the shift
	Wall        time.Time `json:"wall"`
	Incarnation int       `json:"incarnation"`
	RSSMB       float64   `json:"rss_mb"`
	Goroutines  float64   `json:"goroutines"`
	Completed   int       `json:"completed"` // burs finished (good or scrap) over all batches
	Viewers     int       `json:"viewers"`
}

func (r *Result) fail(invariant, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Failures = append(r.Failures, soakFailure{invariant, fmt.Sprintf(format, args...)})
}

// broken names each broken invariant once, in order of first failure.
func (r *Result) broken() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, f := range r.Failures {
		if !slices.Contains(out, f.Invariant) {
			out = append(out, f.Invariant)
		}
	}
	return out
}

// soakInvariants lists every invariant the soak checks, for the report.
var soakInvariants = []string{
	"one complete genealogy record per counted job",
	"no serial twice",
	"acknowledged events survive SIGKILL",
	"OEE buckets partition the shift",
	"cycle-time statistics match the raw events",
	"takt matches the raw events",
	"energy per batch and bur matches the counters",
	"comm-lost periods counted in OEE",
	"twin snapshot equals the simulator and the MES",
	"slow viewers dropped",
	"fast viewers p99 < 100 ms",
	"dispatch never waited on a viewer",
	"malformed requests get a 4xx JSON error",
	"malformed requests change nothing",
	"no leak: RSS",
	"goroutines back to baseline",
}

// text is the short report.
func (r *Result) text() string {
	var b strings.Builder
	wall := r.Finished.Sub(r.Started).Round(time.Second)
	fmt.Fprintf(&b, "Pilotline soak: seed %d, shift %s at speed %g (%s wall), %d viewers, %d MES kills, %d faults injected\n",
		r.Seed, r.Shift, r.Speed, wall, r.Viewers, r.MESKills, r.Injected)
	fmt.Fprintf(&b, "  burs %d (good %d), counted jobs %d, genealogy records matched %d, departures %d, takt %.1f s\n",
		r.Burs, r.GoodBurs, r.CountedJobs, r.GenealogyRecords, r.Departures, r.TaktMeanS)
	fmt.Fprintf(&b, "  acknowledged events re-read after kills %d; MES restarts %s; endpoints down %.0f machine-s, comm lost in OEE %.0f machine-s\n",
		r.AckedEvents, strings.Join(r.Restarts, ", "), r.DownS, r.CommLostS)
	fmt.Fprintf(&b, "  energy: burs %.4f kWh = jobs %.4f kWh; counters %.4f kWh (%.4f kWh between jobs)\n",
		r.EnergyBursKWh, r.EnergyJobsKWh, r.EnergyCounterKWh, r.EnergyCounterKWh-r.EnergyJobsKWh)
	fmt.Fprintf(&b, "  viewers: %d connects, %d failed; delivery latency p50 %.2f ms, p99 %.2f ms over %d deltas; slow viewers dropped %d (%d announced slow_consumer), still open %d\n",
		r.ViewerConnects, r.ViewerFailures, r.LatencyP50All, r.LatencyP99All, r.LatencyN, r.SlowDropped, r.SlowConsumer, r.SlowOpen)
	fmt.Fprintf(&b, "  acquisition lag (job end → received, outside MES outages) p50 %.0f ms, p99 %.0f ms, max %.0f ms over %d jobs\n", r.LagP50MS, r.LagP99MS, r.LagMaxMS, r.LagN)
	fmt.Fprintf(&b, "  malformed requests %d (valid during burst %d); first bur out after %.0f s, then longest stretch without a finished bur %.0f s\n", r.Malformed, r.Valid, r.FirstOutS, r.LongestStallS)
	fmt.Fprintf(&b, "  RSS %.1f MB at %s after the last start, %.1f MB at the end; goroutines %v baseline, %v at the end\n",
		r.RSSBaseMB, r.RSSBaseAt, r.RSSEndMB, r.GoroutinesBase, r.GoroutinesEnd)
	broken := r.broken()
	for _, inv := range soakInvariants {
		mark := "ok    "
		if slices.Contains(broken, inv) {
			mark = "BROKEN"
		}
		fmt.Fprintf(&b, "  [%s] %s\n", mark, inv)
	}
	for _, inv := range broken {
		if !slices.Contains(soakInvariants, inv) {
			fmt.Fprintf(&b, "  [BROKEN] %s\n", inv)
		}
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "  FAIL %s: %s\n", f.Invariant, f.Detail)
	}
	if len(broken) == 0 {
		b.WriteString("PASS\n")
	} else {
		fmt.Fprintf(&b, "FAIL: %s\n", strings.Join(broken, "; "))
	}
	return b.String()
}

// write stores report.txt, soak.json and report.html in dir.
func (r *Result) write(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"report.txt":  []byte(r.text()),
		"soak.json":   js,
		"report.html": []byte(r.html()),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o640); err != nil {
			return fmt.Errorf("soak report: %w", err)
		}
	}
	return nil
}

// html is a self-contained page with three SVG charts over the shift:
// throughput, delivery latency p99 and the MES's RSS.
func (r *Result) html() string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>Pilotline soak</title>
<style>body{font-family:sans-serif;margin:2em;color:#222}svg{background:#fafafa;border:1px solid #ddd;margin:.5em 0}pre{background:#f4f4f4;padding:1em}</style></head><body>`)
	fmt.Fprintf(&b, "<h1>Pilotline soak, seed %d</h1><pre>%s</pre>", r.Seed, html.EscapeString(r.text()))
	var xs, thr, rss, gor []float64
	for i, s := range r.Samples {
		xs = append(xs, s.OffsetS/3600)
		rss = append(rss, s.RSSMB)
		gor = append(gor, s.Goroutines)
		// Burs per simulated hour over the last ten samples.
		j := max(0, i-10)
		if dt := s.OffsetS - r.Samples[j].OffsetS; dt > 0 && s.Incarnation == r.Samples[j].Incarnation {
			thr = append(thr, float64(s.Completed-r.Samples[j].Completed)/dt*3600)
		} else {
			thr = append(thr, 0)
		}
	}
	b.WriteString(svgChart("Throughput (burs per simulated hour)", xs, thr, "h into the shift"))
	var lx, ly []float64
	if len(r.Samples) > 0 {
		w0 := r.Samples[0].Wall
		span := r.Samples[len(r.Samples)-1].Wall.Sub(w0).Seconds()
		last := r.Samples[len(r.Samples)-1].OffsetS / 3600
		for _, w := range r.LatencyP99 {
			if span > 0 {
				lx = append(lx, w.Wall.Sub(w0).Seconds()/span*last)
				ly = append(ly, w.P99MS)
			}
		}
	}
	b.WriteString(svgChart("Fast viewers' delivery latency p99 (ms)", lx, ly, "h into the shift"))
	b.WriteString(svgChart("MES resident memory (MB)", xs, rss, "h into the shift"))
	b.WriteString(svgChart("MES goroutines", xs, gor, "h into the shift"))
	b.WriteString("</body></html>\n")
	return b.String()
}

func svgChart(title string, xs, ys []float64, xlabel string) string {
	const w, h, pad = 720.0, 220.0, 40.0
	var b strings.Builder
	fmt.Fprintf(&b, `<h3>%s</h3><svg width="%g" height="%g" xmlns="http://www.w3.org/2000/svg">`, html.EscapeString(title), w, h)
	if len(xs) > 1 {
		xmax, ymax := slices.Max(xs), slices.Max(ys)
		if xmax <= 0 {
			xmax = 1
		}
		if ymax <= 0 {
			ymax = 1
		}
		var pts []string
		for i := range xs {
			x := pad + xs[i]/xmax*(w-2*pad)
			y := h - pad - ys[i]/ymax*(h-2*pad)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="%s"/>`, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="4" y="%g" font-size="11">%.3g</text><text x="4" y="%g" font-size="11">0</text>`, pad, ymax, h-pad)
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="11">%.2f %s</text>`, w-pad-120, h-8, xmax, html.EscapeString(xlabel))
	}
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#888"/></svg>`, pad, h-pad, w-pad, h-pad)
	return b.String()
}
