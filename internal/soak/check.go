package soak

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pilotline/pilotline/opcua/sim"
)

func ioCopy(w io.Writer, resp *http.Response) (int64, error) { return io.Copy(w, resp.Body) }

// malformedRequest is one bad request of the burst.
type malformedRequest struct {
	method, path, contentType string
	body                      []byte
}

// malformedRequests are bad JSON, unknown fields, huge bodies, wrong types
// and path traversal in ids, against the API's write and read routes.
func malformedRequests() []malformedRequest {
	huge := append([]byte(`{"iso":"`), bytes.Repeat([]byte("9"), 3<<20)...)
	huge = append(huge, `"}`...)
	js := "application/json"
	return []malformedRequest{
		{"POST", "api/v1/products", js, []byte(`{"iso":`)},
		{"POST", "api/v1/products", js, []byte(`{"iso":"500314001001014","bogus":1}`)},
		{"POST", "api/v1/products", js, huge},
		{"POST", "api/v1/products", js, []byte(`{"iso":500314001001014}`)},
		{"POST", "api/v1/products", js, []byte(`[1,2,3]`)},
		{"POST", "api/v1/products", "text/plain", []byte(`{"iso":"1"}`)},
		{"POST", "api/v1/batches", js, []byte(`{"product":"500314001001014","quantity":"ten"}`)},
		{"POST", "api/v1/batches", js, []byte(`{"product":"500314001001014","quantity":-5}`)},
		{"POST", "api/v1/batches", js, []byte(`{"product":"500314001001014","quantity":5,"evil":true}`)},
		{"POST", "api/v1/batches", js, []byte("{\"product\":\"\x00\xff\"}")},
		{"POST", "api/v1/batches", js, []byte(`{"product":"500314001001014","quantity":5}{"x":1}`)},
		{"POST", "api/v1/batches/..%2F..%2Fetc%2Fpasswd/hold", js, []byte(`{}`)},
		{"POST", "api/v1/batches/B000001/hold", js, []byte(`{"reason":5}`)},
		{"POST", "api/v1/batches/B000001/resume", js, []byte(`{"reason":"x","by":"someone-else"}`)},
		{"GET", "api/v1/batches/..%2F..%2Fetc%2Fpasswd", "", nil},
		{"GET", "api/v1/burs/..%2F..%2F..%2Fetc%2Fpasswd", "", nil},
		{"GET", "api/v1/burs/%2E%2E%2Fdata%2Fpilotline.db", "", nil},
		{"GET", "api/v1/batches/" + strings.Repeat("B", 5000), "", nil},
		{"GET", "api/v1/events?limit=abc", "", nil},
		{"GET", "api/v1/events?from=yesterday", "", nil},
		{"GET", "api/v1/kpi?machine=..%2Fetc", "", nil},
		{"GET", "api/v1/kpi?last_n=-1", "", nil},
		{"POST", "api/v1/orgs", js, []byte(`{"name":{"nested":true}}`)},
		{"POST", "api/v1/users", js, []byte(`{"id":"../admin","role":"god"}`)},
	}
}

// businessDigest is a checksum of the business data the API shows that
// the running line does not move: products, organisations, users and the
// batches' identity, order and plan (not their live counters and state).
func (r *soakRun) businessDigest(ctx context.Context) (string, error) {
	h := sha256.New()
	for _, p := range []string{"api/v1/products", "api/v1/orgs", "api/v1/users"} {
		var v any
		if err := r.get(ctx, p, &v); err != nil {
			return "", err
		}
		b, _ := json.Marshal(v)
		h.Write(b)
	}
	var bl struct {
		Batches []map[string]any `json:"batches"`
	}
	if err := r.get(ctx, "api/v1/batches", &bl); err != nil {
		return "", err
	}
	for _, b := range bl.Batches {
		for _, k := range []string{"id", "product", "quantity", "good_required", "org", "blank_lot", "planned_start", "planned_end"} {
			fmt.Fprintf(h, "%s=%v;", k, b[k])
		}
	}
	fmt.Fprintf(h, "batches=%d", len(bl.Batches))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// malformedBurst sends the malformed requests mixed with valid reads and
// checks each got a 4xx with a JSON error body and changed nothing.
func (r *soakRun) malformedBurst(ctx context.Context) error {
	before, err := r.businessDigest(ctx)
	if err != nil {
		return err
	}
	bad := 0
	for round := range 5 {
		for _, m := range malformedRequests() {
			req, err := http.NewRequestWithContext(ctx, m.method, r.base+m.path, bytes.NewReader(m.body))
			if err != nil {
				return err
			}
			if m.contentType != "" {
				req.Header.Set("Content-Type", m.contentType)
			}
			req.Header.Set("X-CSRF-Token", r.csrf)
			resp, err := r.client.Do(req)
			if err != nil {
				r.res.fail("malformed requests get a 4xx JSON error", "%s %s: %v", m.method, truncateStr(m.path, 60), err)
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			r.res.Malformed++
			var e struct {
				Error any `json:"error"`
			}
			isJSON := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && json.Unmarshal(body, &e) == nil && e.Error != nil
			if resp.StatusCode < 400 || resp.StatusCode > 499 || !isJSON {
				bad++
				if bad <= 5 {
					r.res.fail("malformed requests get a 4xx JSON error", "%s %s (%d bytes): HTTP %d %q", m.method, truncateStr(m.path, 60), len(m.body), resp.StatusCode, truncateStr(string(body), 120))
				}
			}
			// A valid read between the bad ones must still be served.
			if round == 0 {
				var v any
				if err := r.get(ctx, "api/v1/line", &v); err != nil {
					r.res.fail("valid requests served during the burst", "%v", err)
				}
				r.res.Valid++
			}
		}
	}
	after, err := r.businessDigest(ctx)
	if err != nil {
		return err
	}
	r.res.DigestBefore, r.res.DigestAfter = before, after
	if before != after {
		r.res.fail("malformed requests change nothing", "business data checksum %s before the burst, %s after", before[:12], after[:12])
	}
	return nil
}

func truncateStr(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// finish settles the line at the end of the shift and checks every invariant.
func (r *soakRun) finish(ctx context.Context, t0, shiftEnd time.Time, start *sim.State, goroutineBase float64) {
	res := r.res
	latAt, latMS := r.viewers.latencies()
	r.latencyChecks(latAt, latMS)

	// Slow viewers: the latest generation must have been dropped by now.
	dropped, open, slow := r.viewers.slowDropped(15 * time.Second)
	res.SlowDropped, res.SlowOpen, res.SlowConsumer = dropped, open, slow
	if open > 0 {
		res.fail("slow viewers dropped", "%d of %d slow viewers still connected at the end of the shift", open, dropped+open)
	}
	res.ViewerConnects = r.viewers.connects.Load()
	res.ViewerFailures = r.viewers.failures.Load()
	r.viewers.close()

	// Dispatch never waited on a viewer: the line kept dispatching while the
	// slow viewers were connected, i.e. the completions kept rising in every
	// tenth of the shift after the last restart.
	r.dispatchCheck()

	// Stop new work: hold every batch, let the machines empty, let the MES catch up.
	var bl struct {
		Batches []soakBatch `json:"batches"`
	}
	if err := r.get(ctx, "api/v1/batches", &bl); err != nil {
		res.fail("harness", "batches: %v", err)
		return
	}
	for _, b := range bl.Batches {
		if b.State == "running" || b.State == "released" {
			if code, err := r.do(ctx, http.MethodPost, "api/v1/batches/"+b.ID+"/hold", []byte(`{"reason":"end of soak shift"}`), nil); err != nil || code != http.StatusOK {
				res.fail("harness", "hold %s: HTTP %d %v", b.ID, code, err)
			}
		}
	}
	end, err := r.settle(ctx)
	if err != nil {
		res.fail("line settles after the shift", "%v", err)
		return
	}
	res.T1 = end.Now
	period := [2]time.Time{t0, end.Now.Truncate(time.Second)}
	r.waitIngested(ctx, end)

	burs, err := r.allBurs(ctx)
	if err != nil {
		res.fail("harness", "burs: %v", err)
		return
	}
	cycles, meas, err := r.rawEvents(ctx, t0, period[1])
	if err != nil {
		res.fail("harness", "events: %v", err)
		return
	}
	r.lagCheck(cycles)
	r.genealogyChecks(start, end, burs)
	r.kpiChecks(ctx, period, burs, cycles, meas, start, end)
	r.commLostCheck()
	r.twinCheck(ctx, end)

	// Leaks: RSS and goroutines of the last MES incarnation.
	res.RSSEndMB = rssMB(r.serve.cmd.Process.Pid)
	switch {
	case res.RSSBaseMB == 0:
		res.fail("no leak: RSS", "no RSS baseline: the MES's last start left less than the first hour of the shift (or /proc is unreadable)")
	case res.RSSEndMB > res.RSSBaseMB*1.2:
		res.fail("no leak: RSS", "RSS %.1f MB after the shift, more than 20%% over %.1f MB after the first hour", res.RSSEndMB, res.RSSBaseMB)
	}
	g := r.goroutinesSettled(ctx, goroutineBase)
	res.GoroutinesEnd = g
	if g > goroutineBase*1.1+5 {
		res.fail("goroutines back to baseline", "%v goroutines at the end, baseline %v", g, goroutineBase)
	}
}

// goroutinesSettled waits up to 20 s for go_goroutines to come down to the
// baseline after the viewers left and returns the last reading.
func (r *soakRun) goroutinesSettled(ctx context.Context, base float64) float64 {
	var g float64
	for range 40 {
		v, err := r.metric(ctx, "go_goroutines")
		if err == nil {
			g = v
			if g <= base*1.1+5 {
				return g
			}
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
	return g
}

func (r *soakRun) latencyChecks(at []time.Time, ms []float64) {
	res := r.res
	res.LatencyN = len(ms)
	if len(ms) == 0 {
		if r.cfg.Viewers > 0 {
			res.fail("fast viewers p99 < 100 ms", "no delta was received by any fast viewer")
		}
		return
	}
	// Per window of the shift, so that "throughout" is checked, not just overall.
	start, end := at[0], at[0]
	for _, t := range at {
		start = minTime(start, t)
		end = maxTime(end, t)
	}
	const windows = 20
	w := end.Sub(start)/windows + time.Millisecond
	buckets := make([][]float64, windows)
	for i, t := range at {
		k := min(int(t.Sub(start)/w), windows-1)
		buckets[k] = append(buckets[k], ms[i])
	}
	for i, b := range buckets {
		if len(b) == 0 {
			continue
		}
		p := percentile(b, 99)
		res.LatencyP99 = append(res.LatencyP99, latencyWindow{Wall: start.Add(time.Duration(i) * w), P99MS: p, N: len(b)})
		if budget := float64(r.cfg.MaxP99) / float64(time.Millisecond); budget > 0 && p >= budget {
			res.fail("fast viewers p99 < 100 ms", "window %d/%d: p99 %.1f ms over %d deltas", i+1, windows, p, len(b))
		}
	}
	all := slices.Clone(ms)
	res.LatencyP99All = percentile(all, 99)
	res.LatencyP50All = percentile(all, 50)
}

// lagCheck measures how long after a job ended on the machine acquisition
// received it. Acquisition hands events to the sink chain (store,
// dispatcher, metrics, twin) and polls again only when the chain returns,
// so a chain held up by viewers would show as lag. Jobs that ended while
// the MES was dead or reconnecting, or while their machine's endpoint was
// stopped or stalled, are left out.
func (r *soakRun) lagCheck(cycles []soakEvent) {
	var lags []float64
	for _, e := range cycles {
		if e.Received.IsZero() {
			continue
		}
		w := r.wallOf(e.SourceTime)
		out := false
		for _, d := range r.down {
			out = out || (!w.Before(d[0]) && w.Before(d[1]))
		}
		for _, d := range r.epDown[e.Machine] {
			out = out || (!e.SourceTime.Before(d[0]) && e.SourceTime.Before(d[1]))
		}
		if !out {
			lags = append(lags, float64(e.Received.Sub(w))/float64(time.Millisecond))
		}
	}
	r.res.LagN = len(lags)
	r.res.LagP50MS = percentile(lags, 50)
	r.res.LagP99MS = percentile(lags, 99)
	if len(lags) > 0 {
		r.res.LagMaxMS = slices.Max(lags)
	}
	if budget := float64(r.cfg.MaxLag) / float64(time.Millisecond); budget > 0 && r.res.LagP99MS > budget {
		r.res.fail("dispatch never waited on a viewer", "acquisition lag p99 %.0f ms over %d jobs, budget %.0f ms", r.res.LagP99MS, len(lags), budget)
	}
}

// dispatchCheck looks for a stretch of the shift in which the line made no
// progress while the MES was up: a sign dispatch waited on something.
func (r *soakRun) dispatchCheck() {
	s := r.res.Samples
	if len(s) < 20 {
		return
	}
	// Longest run of samples of one incarnation with no new completion,
	// after the first bur left: before that the line is filling (a bur
	// spends about 70 minutes on its route).
	longest, run := 0.0, 0.0
	for i := 1; i < len(s); i++ {
		if s[i-1].Completed == 0 {
			continue
		}
		if r.res.FirstOutS == 0 {
			r.res.FirstOutS = s[i-1].OffsetS
		}
		if s[i].Incarnation == s[i-1].Incarnation && s[i].Completed == s[i-1].Completed {
			run += s[i].OffsetS - s[i-1].OffsetS
		} else {
			run = 0
		}
		longest = math.Max(longest, run)
	}
	r.res.LongestStallS = longest
	// A bur leaves the line about every takt (180 s) with 25 grinders; an
	// hour without one while the MES is up is a line that stopped.
	if longest > 3600 {
		r.res.fail("dispatch never waited on a viewer", "no bur finished for %.0f simulated seconds while the MES was up", longest)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// settle waits until no machine holds a bur and no robot carries one.
func (r *soakRun) settle(ctx context.Context) (*sim.State, error) {
	deadline := time.Now().Add(time.Duration(float64(2*time.Hour)/r.cfg.Speed) + 30*time.Second)
	for {
		st, err := r.simState(ctx)
		if err != nil {
			return nil, err
		}
		busy := []string{}
		for _, m := range st.Machines {
			if m.Serial != "" {
				busy = append(busy, m.ID+":"+string(m.State))
			}
		}
		for id, rb := range st.Robots {
			if rb.Bur != "" {
				busy = append(busy, id)
			}
		}
		if len(busy) == 0 {
			return st, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("still busy after the batches were held: %s", strings.Join(busy, " "))
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
}

// waitIngested waits until the MES has stored every cycle the grinders'
// counters show (or 30 s), so the checks see the MES's final word.
func (r *soakRun) waitIngested(ctx context.Context, end *sim.State) {
	want := 0
	for _, m := range end.Machines {
		want += int(m.Parts)
	}
	for range 60 {
		burs, err := r.allBurs(ctx)
		if err == nil {
			got := 0
			for _, b := range burs {
				got += len(b.Operations)
			}
			if got >= want {
				return
			}
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
}

// soakBur is the part of a bur's genealogy the soak reads.
type soakBur struct {
	Serial      string   `json:"serial"`
	Batch       string   `json:"batch"`
	NextOp      int      `json:"next_op"`
	Disposition string   `json:"disposition"`
	Operations  []soakOp `json:"operations"`
}

// soakOp is one operation record of a bur's genealogy.
type soakOp struct {
	Number    int       `json:"number"`
	Machine   string    `json:"machine"`
	CycleSeq  uint64    `json:"cycle_seq"`
	Program   string    `json:"program"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	CycleS    float64   `json:"cycle_s"`
	EnergyKWh float64   `json:"energy_kwh"`
	Aborted   bool      `json:"aborted"`
}

func (r *soakRun) allBurs(ctx context.Context) ([]soakBur, error) {
	var bl struct {
		Batches []soakBatch `json:"batches"`
	}
	if err := r.get(ctx, "api/v1/batches", &bl); err != nil {
		return nil, err
	}
	var out []soakBur
	for _, b := range bl.Batches {
		var page struct {
			Burs []soakBur `json:"burs"`
		}
		if err := r.get(ctx, "api/v1/batches/"+b.ID+"/burs", &page); err != nil {
			return nil, err
		}
		out = append(out, page.Burs...)
	}
	return out, nil
}

// rawEvents reads the stored cycle and measurement events of the period.
func (r *soakRun) rawEvents(ctx context.Context, from, to time.Time) (cycles, meas []soakEvent, err error) {
	seen := map[string]bool{}
	cur := from
	for {
		var page struct {
			Events []soakEvent `json:"events"`
			More   bool        `json:"more"`
			Next   *time.Time  `json:"next"`
		}
		path := fmt.Sprintf("api/v1/events?from=%s&to=%s&limit=5000&kind=cycle,measurement", queryTimeParam(cur), queryTimeParam(to))
		if err := r.get(ctx, path, &page); err != nil {
			return nil, nil, err
		}
		for _, e := range page.Events {
			k := e.key()
			if seen[k] {
				continue
			}
			seen[k] = true
			switch e.Kind {
			case "cycle":
				cycles = append(cycles, e)
			case "measurement":
				meas = append(meas, e)
			}
		}
		if !page.More || page.Next == nil {
			return cycles, meas, nil
		}
		if !page.Next.After(cur) {
			return nil, nil, fmt.Errorf("events: paging stuck at %s", cur)
		}
		cur = *page.Next
	}
}

// genealogyChecks: every job a machine's own counter counted in the shift
// has exactly one complete genealogy record, and no serial repeats.
func (r *soakRun) genealogyChecks(start, end *sim.State, burs []soakBur) {
	res := r.res
	const inv = "one complete genealogy record per counted job"
	type opKey struct {
		machine string
		seq     uint64
	}
	records := map[opKey]int{}
	serials := map[string]int{}
	for _, b := range burs {
		serials[b.Serial]++
		nums := map[int]bool{}
		for _, op := range b.Operations {
			records[opKey{op.Machine, op.CycleSeq}]++
			if nums[op.Number] {
				res.fail(inv, "bur %s has operation %d twice", b.Serial, op.Number)
			}
			nums[op.Number] = true
			if op.Machine == "" || op.Program == "" || op.CycleSeq == 0 || op.Start.IsZero() || op.End.Before(op.Start) || (!op.Aborted && op.CycleS <= 0) {
				res.fail(inv, "bur %s operation %d on %q is incomplete (seq %d, program %q, %s..%s)", b.Serial, op.Number, op.Machine, op.CycleSeq, op.Program, op.Start, op.End)
			}
		}
		res.Burs++
		if b.Disposition == "good" {
			res.GoodBurs++
		}
	}
	for s, n := range serials {
		if n > 1 {
			res.fail("no serial twice", "serial %s appears %d times", s, n)
		}
	}
	startParts := map[string]uint32{}
	for _, m := range start.Machines {
		startParts[m.ID] = m.Parts
	}
	missing, extra := 0, 0
	for _, m := range end.Machines {
		if m.Kind == "inspection" {
			continue
		}
		res.CountedJobs += int(m.Parts - startParts[m.ID])
		for seq := uint64(startParts[m.ID]) + 1; seq <= uint64(m.Parts); seq++ {
			switch n := records[opKey{m.ID, seq}]; {
			case n == 0:
				missing++
				if missing <= 5 {
					res.fail(inv, "%s job %d (by its own counter) has no genealogy record", m.ID, seq)
				}
			case n > 1:
				res.fail(inv, "%s job %d has %d genealogy records", m.ID, seq, n)
			}
			delete(records, opKey{m.ID, seq})
		}
	}
	for k := range records {
		if k.machine != "" && !strings.HasPrefix(k.machine, "QC") {
			extra++
			if extra <= 5 {
				res.fail(inv, "genealogy record %s job %d was not counted by the machine", k.machine, k.seq)
			}
		}
	}
	if missing > 5 {
		res.fail(inv, "%d counted jobs in all have no genealogy record", missing)
	}
	res.GenealogyRecords = res.CountedJobs - missing
}

// commLostCheck checks that every scheduled outage of a grinder's endpoint
// shows in its OEE as communication lost, on the machine's own clock: no
// less than the outage less the detection lag (two poll intervals, taken
// generously) and the time the MES itself was killed, and no more than the
// outage plus the reconnect backoff.
func (r *soakRun) commLostCheck() {
	const inv = "comm-lost periods counted in OEE"
	res := r.res
	mesDown := 0.0
	for _, d := range r.down {
		mesDown += d[1].Sub(d[0]).Seconds() * r.cfg.Speed
	}
	detect := 5 * r.cfg.Speed  // machine-seconds per outage: two poll intervals, generously
	settle := 30 * r.cfg.Speed // machine-seconds per outage: reconnect backoff (as epDown)
	ids := make([]string, 0, len(res.downBy))
	for id := range res.downBy {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		down, n, lost := res.downBy[id], float64(res.outagesBy[id]), res.commLostBy[id]
		if lo := down - n*detect - mesDown; lost < lo {
			res.fail(inv, "%s: endpoint down %.0f s in %v outages, OEE shows %.0f s comm lost (less than %.0f s)", id, down, n, lost, lo)
		}
		if hi := down + n*settle; lost > hi {
			res.fail(inv, "%s: endpoint down %.0f s in %v outages, OEE shows %.0f s comm lost (more than %.0f s)", id, down, n, lost, hi)
		}
	}
}
