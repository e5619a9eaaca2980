package soak

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// soakBatch is the part of a batch the soak reads.
type soakBatch struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Quantity  int    `json:"quantity"`
	Completed int    `json:"completed"`
	Scrap     int    `json:"scrap"`
}

// run drives the whole soak and returns its result; err is for failures
// of the harness itself (a process that will not start), not invariants.
func (r *soakRun) run(ctx context.Context) (*Result, error) {
	res := r.res
	if err := r.startSim(ctx); err != nil {
		return res, err
	}
	wall0 := time.Now()
	start, err := r.simState(ctx)
	if err != nil {
		return res, err
	}
	// The simulator's clock runs at a fixed speed from its start, so a
	// source time maps to the wall time it happened at.
	r.wallOf = func(src time.Time) time.Time {
		return wall0.Add(time.Duration(float64(src.Sub(start.Now)) / r.cfg.Speed))
	}
	if err := r.startServe(ctx); err != nil {
		return res, err
	}
	t0 := start.Now
	res.T0 = t0
	shiftEnd := t0.Add(r.cfg.Shift)
	faults := schedule(r.cfg.Seed, r.cfg.Shift, r.cfg.Faults, r.cfg.Kills)
	downSince := map[string]time.Duration{}
	res.downBy, res.outagesBy = map[string]float64{}, map[string]int{}
	r.epDown = map[string][][2]time.Time{}
	for _, f := range faults {
		res.Schedule = append(res.Schedule, f.String())
		for _, id := range f.IDs {
			switch f.Kind {
			case "endpoint-stop", "stall-on":
				downSince[id] = f.At
			case "endpoint-start", "stall-off":
				res.DownS += (f.At - downSince[id]).Seconds()
				res.downBy[id] += (f.At - downSince[id]).Seconds()
				res.outagesBy[id]++
				// Reconnecting takes a backoff of up to some seconds of wall time.
				settle := time.Duration(30 * float64(time.Second) * r.cfg.Speed)
				r.epDown[id] = append(r.epDown[id], [2]time.Time{t0.Add(downSince[id]), t0.Add(f.At + settle)})
			}
		}
	}
	r.log.Info("soak started", "seed", r.cfg.Seed, "shift", r.cfg.Shift, "speed", r.cfg.Speed, "faults", len(faults), "mes", r.base, "work", r.work)

	r.viewers = newViewerPool(ctx, r.cfg.Viewers, r.cfg.Seed, wsURLOf(r.base), func() int { return int(r.incarn.Load()) })
	base := r.baselineGoroutines(ctx)
	r.viewers.start()

	acked := map[string]struct{}{} // events the MES answered with before a kill
	rssMark := time.Duration(0)    // offset after which the leak baseline is taken
	rssHour := min(time.Hour, r.cfg.Shift/4)
	var rssBase float64
	next := 0
	sampleEvery := time.Second
	lastSample := time.Time{}
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		st, err := r.simState(ctx)
		if err != nil {
			return res, err
		}
		off := st.Now.Sub(t0)
		for next < len(faults) && faults[next].At <= off {
			f := faults[next]
			next++
			if err := r.inject(ctx, f, t0, acked); err != nil {
				res.fail("harness", "fault %s: %v", f, err)
			}
			if f.Kind == "mes-kill" {
				rssMark = off
				rssBase = 0
			}
		}
		if time.Since(lastSample) >= sampleEvery {
			lastSample = time.Now()
			s := r.sample(ctx, off)
			res.Samples = append(res.Samples, s)
			if rssBase == 0 && off-rssMark >= rssHour && s.RSSMB > 0 {
				rssBase = s.RSSMB
				res.RSSBaseAt = fmtOffset(off)
			}
		}
		if !st.Now.Before(shiftEnd) {
			break
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
	res.RSSBaseMB = rssBase
	r.log.Info("shift over, settling the line")
	r.finish(ctx, t0, shiftEnd, start, base)
	res.Finished = time.Now()
	return res, nil
}

// baselineGoroutines reads go_goroutines before any viewer connects.
func (r *soakRun) baselineGoroutines(ctx context.Context) float64 {
	sleepCtx(ctx, 2*time.Second)
	g, _ := r.metric(ctx, "go_goroutines")
	r.res.GoroutinesBase = g
	return g
}

// inject performs one scheduled fault.
func (r *soakRun) inject(ctx context.Context, f fault, t0 time.Time, acked map[string]struct{}) error {
	r.log.Info("fault", "at", fmtOffset(f.At), "kind", f.Kind, "ids", strings.Join(f.IDs, ","))
	r.res.Injected++
	for _, id := range f.IDs {
		var err error
		switch f.Kind {
		case "endpoint-stop":
			err = r.simPost(ctx, "/endpoints/"+id+"/stop")
		case "endpoint-start":
			err = r.simPost(ctx, "/endpoints/"+id+"/start")
		case "stall-on", "stall-off":
			err = r.simPost(ctx, "/endpoints/"+id+"/stall?on="+strconv.FormatBool(f.Kind == "stall-on"))
		case "maint-on", "maint-off":
			err = r.simPost(ctx, "/machines/"+id+"/maintenance?on="+strconv.FormatBool(f.Kind == "maint-on"))
		case "alarm-storm":
			for range 5 {
				if err = r.simPost(ctx, "/machines/"+id+"/alarm"); err != nil {
					break
				}
			}
		}
		if err != nil {
			return err
		}
	}
	switch f.Kind {
	case "mes-kill":
		return r.killMES(ctx, t0, acked)
	case "malformed":
		return r.malformedBurst(ctx)
	}
	return nil
}

// killMES records what the MES has acknowledged, kills it with SIGKILL,
// restarts it on the same data, and checks nothing acknowledged was lost.
func (r *soakRun) killMES(ctx context.Context, t0 time.Time, acked map[string]struct{}) error {
	st, err := r.simState(ctx)
	if err != nil {
		return err
	}
	to := st.Now
	before, err := r.eventKeys(ctx, t0, to)
	if err != nil {
		return fmt.Errorf("events before kill: %w", err)
	}
	for k := range before {
		acked[k] = struct{}{}
	}
	r.serve.kill()
	r.serve = nil
	r.res.MESKills++
	killedAt := time.Now()
	defer func() { r.down = append(r.down, [2]time.Time{killedAt, time.Now().Add(5 * time.Second)}) }()
	sleepCtx(ctx, 2*time.Second) // the line runs on without its MES
	if err := r.startServe(ctx); err != nil {
		return err
	}
	r.res.Restarts = append(r.res.Restarts, time.Since(killedAt).Round(time.Millisecond).String())
	after, err := r.eventKeys(ctx, t0, to)
	if err != nil {
		return fmt.Errorf("events after restart: %w", err)
	}
	missing := 0
	var example string
	for k := range acked {
		if _, ok := after[k]; !ok {
			missing++
			example = k
		}
	}
	r.res.AckedEvents = len(acked)
	if missing > 0 {
		r.res.fail("acknowledged events survive SIGKILL", "%d of %d events read from the MES before kill %d are gone after the restart (e.g. %s)", missing, len(acked), r.res.MESKills, example)
	}
	// The goroutine baseline stays the first start's, taken before any
	// viewer connected: viewers reconnect at once after a restart.
	r.viewers.connectSlow()
	return nil
}

// eventKeys pages through GET /api/v1/events over [from, to) and returns
// the identity of every durable fact (samples excluded: they are sampled
// telemetry, not facts the line is accountable for).
func (r *soakRun) eventKeys(ctx context.Context, from, to time.Time) (map[string]struct{}, error) {
	keys := map[string]struct{}{}
	kinds := "state,counter,cycle,alarm_raised,alarm_cleared,measurement,comm_lost,comm_restored"
	cur := from
	for {
		var page struct {
			Events []soakEvent `json:"events"`
			More   bool        `json:"more"`
			Next   *time.Time  `json:"next"`
		}
		path := fmt.Sprintf("api/v1/events?from=%s&to=%s&limit=5000&kind=%s", queryTimeParam(cur), queryTimeParam(to), kinds)
		if err := r.get(ctx, path, &page); err != nil {
			return nil, err
		}
		for _, e := range page.Events {
			keys[e.key()] = struct{}{}
		}
		if !page.More || page.Next == nil {
			return keys, nil
		}
		if !page.Next.After(cur) {
			return nil, fmt.Errorf("events: paging stuck at %s", cur)
		}
		cur = *page.Next
	}
}

// soakEvent is the part of a stored machine event the soak reads.
type soakEvent struct {
	Machine    string    `json:"machine"`
	Kind       string    `json:"kind"`
	SourceTime time.Time `json:"source_time"`
	Received   time.Time `json:"received"`
	State      string    `json:"state"`
	Counter    uint64    `json:"counter"`
	Reason     string    `json:"reason"`
	Alarm      *struct {
		Seq uint64 `json:"seq"`
	} `json:"alarm"`
	Cycle *struct {
		Seq       uint64    `json:"seq"`
		Serial    string    `json:"serial"`
		Start     time.Time `json:"start"`
		End       time.Time `json:"end"`
		EnergyKWh float64   `json:"energy_kwh"`
		Aborted   bool      `json:"aborted"`
	} `json:"cycle"`
	Measurement *struct {
		Seq    uint64 `json:"seq"`
		Serial string `json:"serial"`
	} `json:"measurement"`
}

func (e soakEvent) key() string {
	k := e.Machine + "|" + e.Kind + "|" + e.SourceTime.UTC().Format(time.RFC3339Nano)
	switch {
	case e.Cycle != nil:
		k += "|c" + strconv.FormatUint(e.Cycle.Seq, 10)
	case e.Alarm != nil:
		k += "|a" + strconv.FormatUint(e.Alarm.Seq, 10)
	case e.Measurement != nil:
		k += "|m" + strconv.FormatUint(e.Measurement.Seq, 10)
	default:
		k += "|" + e.State + "|" + strconv.FormatUint(e.Counter, 10)
	}
	return k
}

// sample reads the MES's resident memory, goroutines and output, and the
// viewers' state, for the chart.
func (r *soakRun) sample(ctx context.Context, off time.Duration) soakSample {
	s := soakSample{OffsetS: off.Seconds(), Wall: time.Now(), Incarnation: int(r.incarn.Load())}
	if r.serve != nil {
		s.RSSMB = rssMB(r.serve.cmd.Process.Pid)
	}
	if g, err := r.metric(ctx, "go_goroutines"); err == nil {
		s.Goroutines = g
	}
	var bl struct {
		Batches []soakBatch `json:"batches"`
	}
	if r.get(ctx, "api/v1/batches", &bl) == nil {
		for _, b := range bl.Batches {
			s.Completed += b.Completed + b.Scrap
		}
	}
	s.Viewers = int(r.viewers.connected.Load())
	return s
}

// metric reads one unlabelled gauge from GET /metrics.
func (r *soakRun) metric(ctx context.Context, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b := new(strings.Builder)
	if _, err := ioCopy(b, resp); err != nil {
		return 0, err
	}
	for _, l := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found (HTTP %d)", name, resp.StatusCode)
}

// rssMB is a process's resident set size in MB, from /proc; 0 if unknown.
func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
