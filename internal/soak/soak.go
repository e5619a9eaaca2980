package soak

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/opcua/sim"
)

// Config is one soak run: which binary, where the report goes, and the
// shape of the shift.
type Config struct {
	Bin     string        // pilotline binary to run as the simulated line and the MES
	Out     string        // output directory for the report, the chart and the run's data
	Seed    int64         // seed of the line and of the fault schedule
	Shift   time.Duration // simulated length of the shift
	Speed   float64       // simulated seconds per real second
	Viewers int           // WebSocket viewers; a fifth of them never read
	Kills   int           // times the MES is killed with SIGKILL and restarted
	Faults  int           // endpoint kills of single grinders (rows, stalls, storms and maintenance scale with it)
	MaxP99  time.Duration // fast viewers' delivery latency budget; 0 = measure only
	MaxLag  time.Duration // acquisition lag budget (source to received), p99; 0 = measure only
	Logger  *slog.Logger  // the soak's own log; nil discards
}

// Validate checks the ranges of c.
func (c Config) Validate() error {
	switch {
	case c.Shift < 10*time.Minute || c.Shift > 24*time.Hour:
		return fmt.Errorf("--shift: must be 10m..24h, got %v", c.Shift)
	case c.Speed < 1 || c.Speed > 1000:
		return fmt.Errorf("--speed: must be 1..1000, got %v", c.Speed)
	case c.Viewers < 0 || c.Viewers > 2000:
		return fmt.Errorf("--viewers: must be 0..2000, got %d", c.Viewers)
	case c.Kills < 0 || c.Kills > 10:
		return fmt.Errorf("--kills: must be 0..10, got %d", c.Kills)
	case c.Faults < 0 || c.Faults > 100:
		return fmt.Errorf("--faults: must be 0..100, got %d", c.Faults)
	case c.Out == "":
		return errors.New("--out: must not be empty")
	case c.Bin == "":
		return errors.New("--bin: must not be empty")
	}
	return nil
}

// adminEnv holds the admin password the soak gives the MES it starts.
const adminEnv = "PILOTLINE_SOAK_ADMIN_PASSWORD"

// Run performs the soak, writes the report to cfg.Out and its text to
// stdout. The Result is returned whenever the shift ran, also when the
// error names broken invariants.
func Run(ctx context.Context, cfg Config, stdout io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := newSoakRun(cfg)
	if err != nil {
		return nil, err
	}
	defer r.stopAll()
	res, err := r.run(ctx)
	if res != nil {
		if werr := res.write(cfg.Out); werr != nil && err == nil {
			err = werr
		}
		fmt.Fprint(stdout, res.text())
	}
	if err != nil {
		return res, err
	}
	if broken := res.broken(); len(broken) > 0 {
		return res, fmt.Errorf("soak: %d invariant(s) broken: %s", len(broken), strings.Join(broken, "; "))
	}
	return res, nil
}

// soakRun is one soak in progress.
type soakRun struct {
	cfg      Config
	log      *slog.Logger
	work     string // run data: line.json, bound.json, data/, logs
	httpAddr string // the MES listens here across restarts

	sim     *soakProc
	serve   *soakProc
	control string // sim control base URL
	base    string // MES base URL, ending in /; fixed across restarts
	client  *http.Client
	csrf    string
	incarn  atomic.Int64 // MES incarnation, bumped at every (re)start; read by viewers

	viewers *viewerPool
	res     *Result
	wallOf  func(src time.Time) time.Time // wall time of a source time
	down    [][2]time.Time                // wall windows the MES was dead (and reconnecting)
	epDown  map[string][][2]time.Time     // machine → source-time windows its endpoint was stopped or stalled
}

// soakProc is a child process with its output captured to a log file.
type soakProc struct {
	cmd   *exec.Cmd
	lines chan string // stdout lines
	done  chan error
	log   *os.File
}

func newSoakRun(m Config) (*soakRun, error) {
	work := filepath.Join(m.Out, "run")
	if err := os.RemoveAll(work); err != nil {
		return nil, fmt.Errorf("soak: clean %s: %w", work, err)
	}
	if err := os.MkdirAll(work, 0o750); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	r := &soakRun{cfg: m, log: m.Logger, work: work, httpAddr: addr, base: "http://" + addr + "/"}
	r.res = &Result{Seed: m.Seed, Shift: m.Shift.String(), Speed: m.Speed, Viewers: m.Viewers, Kills: m.Kills, Started: time.Now()}
	return r, nil
}

// freeLoopbackAddr picks a free port on 127.0.0.1 so the MES can come back
// on the same address after it is killed and viewers can find it again.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("soak: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// soakLine is the default line with dressing and wheel changes frequent
// enough that every grinder changes its wheel within the shift.
func soakLine(shift time.Duration) ([]byte, error) {
	var cfg map[string]any
	if err := json.Unmarshal(fixtures.LineJSON, &cfg); err != nil {
		return nil, err
	}
	simc, _ := cfg["simulation"].(map[string]any)
	if simc == nil {
		return nil, errors.New("soak: embedded line has no simulation section")
	}
	dressEvery := 4
	if shift < 2*time.Hour {
		dressEvery = 1
	}
	simc["dress_every"] = dressEvery
	simc["dress_s"] = 120
	simc["wheel_change_every"] = 2
	simc["wheel_change_s"] = 300
	return json.MarshalIndent(cfg, "", "  ")
}

func (r *soakRun) startProc(ctx context.Context, name string, env []string, args ...string) (*soakProc, error) {
	logf, err := os.OpenFile(filepath.Join(r.work, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.cfg.Bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("soak: start %s: %w", name, err)
	}
	p := &soakProc{cmd: cmd, lines: make(chan string, 64), done: make(chan error, 1), log: logf}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		p.done <- cmd.Wait()
		close(p.done)
	}()
	_ = ctx
	return p, nil
}

// waitLine waits for a stdout line starting with prefix and returns the rest.
func (p *soakProc) waitLine(ctx context.Context, prefix string, wait time.Duration) (string, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case l := <-p.lines:
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return strings.TrimSpace(rest), nil
			}
		case err := <-p.done:
			return "", fmt.Errorf("process exited before printing %q: %v", prefix, err)
		case <-t.C:
			return "", fmt.Errorf("no %q within %v", prefix, wait)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// kill sends SIGKILL and waits for the process to end.
func (p *soakProc) kill() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.log.Close()
}

// stop asks the process to end (SIGTERM), then kills it after a grace period.
func (p *soakProc) stop(grace time.Duration) error {
	if p == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.log.Close()
		return err
	case <-time.After(grace):
		p.kill()
		return fmt.Errorf("did not stop within %v of SIGTERM", grace)
	}
}

func (r *soakRun) stopAll() {
	if r.viewers != nil {
		r.viewers.close()
	}
	if r.serve != nil {
		_ = r.serve.stop(20 * time.Second)
		r.serve = nil
	}
	if r.sim != nil {
		_ = r.sim.stop(20 * time.Second)
		r.sim = nil
	}
}

func (r *soakRun) startSim(ctx context.Context) error {
	b, err := soakLine(r.cfg.Shift)
	if err != nil {
		return err
	}
	cfg := filepath.Join(r.work, "line.json")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		return err
	}
	p, err := r.startProc(ctx, "sim", nil, "sim", "--config", cfg, "--port-base", "0",
		"--speed", strconv.FormatFloat(r.cfg.Speed, 'f', -1, 64), "--seed", strconv.FormatInt(r.cfg.Seed, 10),
		"--data", filepath.Join(r.work, "simdata"), "--control", "127.0.0.1:0",
		"--write-config", filepath.Join(r.work, "bound.json"), "--log-level", "warn")
	if err != nil {
		return err
	}
	r.sim = p
	ctl, err := p.waitLine(ctx, "control ", 60*time.Second)
	if err != nil {
		return fmt.Errorf("soak: sim: %w", err)
	}
	r.control = ctl
	return nil
}

func (r *soakRun) startServe(ctx context.Context) error {
	p, err := r.startProc(ctx, "serve", []string{adminEnv + "=" + soakAdminPassword},
		"serve", "--sim=false", "--config", filepath.Join(r.work, "bound.json"), "--data", filepath.Join(r.work, "data"),
		"--http", r.httpAddr, "--anonymous-viewer", "--admin-password-env", adminEnv, "--log-level", "warn")
	if err != nil {
		return err
	}
	u, err := p.waitLine(ctx, "Pilotline is running:", 60*time.Second)
	if err != nil {
		p.kill()
		return fmt.Errorf("soak: serve: %w", err)
	}
	if u != r.base {
		p.kill()
		return fmt.Errorf("soak: serve listens on %s, want %s", u, r.base)
	}
	r.serve = p
	r.incarn.Add(1)
	return r.login(ctx)
}

// soakAdminPassword is the password of the MES admin during a soak.
const soakAdminPassword = "soak-shift-dressing-wheel-7"

func (r *soakRun) login(ctx context.Context) error {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	r.client = &http.Client{Jar: jar, Timeout: 60 * time.Second}
	var resp struct {
		CSRF string `json:"csrf_token"`
	}
	body := fmt.Sprintf(`{"user":"admin","password":%q}`, soakAdminPassword)
	code, err := r.do(ctx, http.MethodPost, "api/v1/login", []byte(body), &resp)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("soak: admin sign-in: HTTP %d", code)
	}
	r.csrf = resp.CSRF
	return nil
}

// do sends a request to the MES API and decodes a 200 answer into v.
func (r *soakRun) do(ctx context.Context, method, path string, body []byte, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.csrf != "" {
		req.Header.Set("X-CSRF-Token", r.csrf)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
		return resp.StatusCode, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// get fetches path into v and fails on anything but 200.
func (r *soakRun) get(ctx context.Context, path string, v any) error {
	code, err := r.do(ctx, http.MethodGet, path, nil, v)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", path, code)
	}
	return nil
}

// simState reads the simulator's own state.
func (r *soakRun) simState(ctx context.Context) (*sim.State, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.control+"/state", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sim state: %w", err)
	}
	defer resp.Body.Close()
	var st sim.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("sim state: %w", err)
	}
	return &st, nil
}

// simPost posts a fault-injection command to the simulator.
func (r *soakRun) simPost(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.control+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("sim %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("sim %s: HTTP %d %s", path, resp.StatusCode, b)
	}
	return nil
}

// fault is one scheduled action at a simulated offset into the shift.
type fault struct {
	At   time.Duration
	Kind string // endpoint-stop, endpoint-start, stall-on, stall-off, alarm-storm, maint-on, maint-off, mes-kill, malformed
	IDs  []string
}

func (f fault) String() string {
	return fmt.Sprintf("%s %s %s", fmtOffset(f.At), f.Kind, strings.Join(f.IDs, ","))
}

func fmtOffset(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// schedule draws the seeded fault schedule over the first 85 % of the
// shift, so that the line is whole again for the end-of-shift checks.
func schedule(seed int64, shift time.Duration, singles, kills int) []fault {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	span := time.Duration(float64(shift) * 0.85)
	at := func(lo, hi float64) time.Duration {
		return time.Duration((lo + rng.Float64()*(hi-lo)) * float64(span))
	}
	dur := func(loMin, hiMin float64) time.Duration {
		d := time.Duration((loMin + rng.Float64()*(hiMin-loMin)) * float64(time.Minute))
		return min(d, shift/8)
	}
	grinder := func() string { return fmt.Sprintf("G%02d", 1+rng.IntN(25)) }
	var fs []fault
	pair := func(on, off string, start, d time.Duration, ids ...string) {
		fs = append(fs, fault{At: start, Kind: on, IDs: ids}, fault{At: min(start+d, span), Kind: off, IDs: ids})
	}
	for range singles {
		pair("endpoint-stop", "endpoint-start", at(0.05, 0.9), dur(3, 20), grinder())
	}
	rows := max(1, singles/4)
	for range rows {
		row := 1 + rng.IntN(5)
		var ids []string
		for c := 1; c <= 5; c++ {
			ids = append(ids, fmt.Sprintf("G%02d", (row-1)*5+c))
		}
		pair("endpoint-stop", "endpoint-start", at(0.1, 0.9), dur(5, 15), ids...)
	}
	for range max(1, singles/4) {
		pair("stall-on", "stall-off", at(0.1, 0.9), dur(3, 10), grinder())
	}
	for range max(2, singles/2) {
		var ids []string
		for range 6 {
			ids = append(ids, grinder())
		}
		fs = append(fs, fault{At: at(0.05, 0.95), Kind: "alarm-storm", IDs: ids})
	}
	for range max(1, singles/2) {
		pair("maint-on", "maint-off", at(0.05, 0.8), dur(20, 60), grinder())
	}
	for i := range kills {
		// Kills in the first half leave the last incarnation most of the
		// shift for the leak checks.
		lo := 0.1 + 0.4*float64(i)/float64(max(kills, 1))
		fs = append(fs, fault{At: at(lo, lo+0.3/float64(max(kills, 1))), Kind: "mes-kill"})
	}
	fs = append(fs, fault{At: at(0.55, 0.65), Kind: "malformed"})
	sortFaults(fs)
	return fs
}

func sortFaults(fs []fault) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].At < fs[j-1].At; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// offsetURL formats t for a query parameter.
func queryTimeParam(t time.Time) string { return url.QueryEscape(t.UTC().Format(time.RFC3339Nano)) }

// lockedRand is a rand.Rand shared by viewer goroutines.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) intN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}
