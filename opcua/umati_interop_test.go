package opcua_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/opcua"
)

// umatiServer is a running umati.js: a node-opcua server on the OPC
// Foundation nodesets serving pure-umati machines with vendor names.
type umatiServer struct {
	URL     string
	stdin   *json.Encoder
	replies chan map[string]any
	stderr  *syncBuffer
}

// startUmati starts umati.js with spec (port and pkiDir are filled in).
func startUmati(t *testing.T, spec map[string]any) *umatiServer {
	t.Helper()
	needNodeOPCUA(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	dir := t.TempDir()
	spec["port"] = port
	if spec["pkiDir"] == nil {
		spec["pkiDir"] = filepath.Join(dir, "pki")
	}
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	specPath := filepath.Join(dir, "spec.json")
	require.NoError(t, os.WriteFile(specPath, b, 0o600))

	cmd := exec.Command("node", "umati.js", specPath)
	cmd.Dir = interopDir
	srv := &umatiServer{replies: make(chan map[string]any, 16), stderr: &syncBuffer{}}
	cmd.Stderr = srv.stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	srv.stdin = json.NewEncoder(stdin)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue // node-opcua's own log lines
			}
			if m["ready"] == true {
				ready <- m["url"].(string)
				continue
			}
			if _, ok := m["ok"]; ok {
				srv.replies <- m
			}
		}
		close(ready)
	}()
	select {
	case url, ok := <-ready:
		require.True(t, ok, "node umati.js exited: %s", srv.stderr.String())
		srv.URL = url
	case <-time.After(90 * time.Second):
		t.Fatalf("node umati.js did not start: %s", srv.stderr.String())
	}
	return srv
}

// do sends one command and waits for its answer.
func (u *umatiServer) do(t *testing.T, cmd map[string]any) {
	t.Helper()
	require.NoError(t, u.stdin.Encode(cmd))
	select {
	case r := <-u.replies:
		require.Equal(t, true, r["ok"], "umati.js %v: %v", cmd, r["error"])
	case <-time.After(30 * time.Second):
		t.Fatalf("umati.js did not answer %v: %s", cmd, u.stderr.String())
	}
}

// umatiLine is a line of two grinders on one vendor endpoint, mapped by the
// browse names the vendor gave them.
func umatiLine(url, mode string) *mes.LineConfig {
	return &mes.LineConfig{Name: "umati", Acquisition: mes.Acquisition{Mode: mode, PollIntervalMS: 200, PublishIntervalMS: 200},
		Endpoints: []mes.Endpoint{{ID: "acme", URL: url}},
		Machines: []mes.Machine{
			{ID: "G01", Kind: mes.KindGrinder, Endpoint: "acme", Node: "GR-0815"},
			{ID: "G02", Kind: mes.KindGrinder, Endpoint: "acme", Node: "GR-0816"},
		}}
}

func startAcquisition(t *testing.T, cfg *mes.LineConfig) (*opcua.Acquisition, *sink) {
	t.Helper()
	s := &sink{}
	a, err := opcua.New(opcua.Options{Line: cfg, DataDir: t.TempDir(), Sink: s, Logger: logger()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return a, s
}

func statusOf(a *opcua.Acquisition, id string) opcua.MachineStatus {
	for _, st := range a.Status() {
		if st.ID == id {
			return st
		}
	}
	return opcua.MachineStatus{}
}

// TestUmatiMachineByConfigurationAlone reads machines that serve standard
// umati only (no Pilotline namespace), named by their vendor (Channel1,
// Job1, Tool1 in the vendor's namespace, one machine of a vendor subtype of
// MachineToolType): state, mode, program, counter, cycles with their times
// from RunsCompleted, and alarms from the events of Notification/Messages.
func TestUmatiMachineByConfigurationAlone(t *testing.T) {
	for _, mode := range []string{mes.ModePoll, mes.ModeSubscribe} {
		t.Run(mode, func(t *testing.T) {
			u := startUmati(t, map[string]any{"securityNone": true, "machines": []map[string]any{
				{"browseName": "GR-0815", "subtype": "AcmeBurGrinderType", "jobs": 2},
				{"browseName": "GR-0816", "jobs": 1},
			}})
			a, s := startAcquisition(t, umatiLine(u.URL, mode))

			require.Eventually(t, func() bool {
				return len(statusOf(a, "G01").Capabilities) > 0 && len(s.of("G01", mes.EventState)) > 0
			}, 60*time.Second, 20*time.Millisecond, "connected: %+v", a.Status())
			st := statusOf(a, "G01")
			assert.Equal(t, []string{opcua.CapState, opcua.CapMode, opcua.CapProgram, opcua.CapCounter, opcua.CapCycles, opcua.CapAlarms}, st.Capabilities)
			assert.Equal(t, []string{opcua.CapGenealogy, opcua.CapDispatch, opcua.CapProcessValues}, st.Lacks)
			first := s.of("G01", mes.EventState)[0]
			assert.Equal(t, mes.StateIdle, first.State, "an Initializing program is an idle machine")
			assert.Equal(t, "Automatic", first.Mode)

			u.do(t, map[string]any{"op": "program", "machine": "GR-0815", "name": "BUR-10-HEAD", "state": "Running"})
			require.Eventually(t, func() bool {
				ev := s.of("G01", mes.EventState)
				return ev[len(ev)-1].State == mes.StateGrinding
			}, 30*time.Second, 20*time.Millisecond)
			u.do(t, map[string]any{"op": "run", "machine": "GR-0815", "job": 0})
			require.Eventually(t, func() bool { return len(s.of("G01", mes.EventCycle)) == 1 }, 30*time.Second, 20*time.Millisecond)
			u.do(t, map[string]any{"op": "run", "machine": "GR-0815", "job": 1})
			require.Eventually(t, func() bool { return len(s.of("G01", mes.EventCycle)) == 2 }, 30*time.Second, 20*time.Millisecond)

			running := s.of("G01", mes.EventState)[len(s.of("G01", mes.EventState))-1].SourceTime
			cycles := s.of("G01", mes.EventCycle)
			c1, c2 := cycles[0].Cycle, cycles[1].Cycle
			assert.Equal(t, "BUR-10-HEAD", c1.Program)
			assert.Equal(t, uint64(1), c1.Seq, "numbered by PartsProducedInLifetime")
			assert.Equal(t, uint64(2), c2.Seq)
			assert.Empty(t, c1.Serial, "standard umati knows no bur serial")
			assert.True(t, c1.Start.Equal(running), "the first cycle began when the program started running: %v, %v", c1.Start, running)
			assert.True(t, c1.End.After(c1.Start))
			assert.True(t, c2.Start.Equal(c1.End), "the next began when the previous ended")
			assert.True(t, c2.End.After(c2.Start))
			counters := s.of("G01", mes.EventCounter)
			require.NotEmpty(t, counters)
			assert.Equal(t, uint64(2), counters[len(counters)-1].Counter)
			assert.Empty(t, s.of("G02", mes.EventCycle), "the other machine ran nothing")

			u.do(t, map[string]any{"op": "alarm", "machine": "GR-0815", "name": "A42", "text": "coolant level low", "severity": 700, "active": true})
			require.Eventually(t, func() bool { return len(s.of("G01", mes.EventAlarmRaised)) == 1 }, 30*time.Second, 20*time.Millisecond)
			raised := s.of("G01", mes.EventAlarmRaised)[0].Alarm
			assert.Equal(t, "A42", raised.Code)
			assert.Equal(t, "coolant level low", raised.Text)
			assert.Equal(t, 700, raised.Severity)
			assert.False(t, raised.Raised.IsZero())
			u.do(t, map[string]any{"op": "alarm", "machine": "GR-0815", "name": "A42", "text": "coolant level ok", "severity": 700, "active": false})
			require.Eventually(t, func() bool { return len(s.of("G01", mes.EventAlarmCleared)) == 1 }, 30*time.Second, 20*time.Millisecond)
			cleared := s.of("G01", mes.EventAlarmCleared)[0].Alarm
			assert.Equal(t, raised.Seq, cleared.Seq, "the clear names the raised alarm")
			assert.False(t, cleared.Cleared.Before(raised.Raised))
			assert.Empty(t, s.of("G02", mes.EventAlarmRaised), "alarms reach their own machine only")
		})
	}
}

// TestUmatiMachineFoundBySubtype reads a lone machine whose browse name the
// configuration does not give: it is found by its type definition, a
// vendor subtype of MachineToolType, found by browsing the type hierarchy.
func TestUmatiMachineFoundBySubtype(t *testing.T) {
	u := startUmati(t, map[string]any{"securityNone": true, "machines": []map[string]any{
		{"browseName": "Acme TG-7 #0815", "subtype": "AcmeBurGrinderType", "jobs": 1},
	}})
	cfg := umatiLine(u.URL, mes.ModePoll)
	cfg.Machines = cfg.Machines[:1]
	cfg.Machines[0].Node = ""
	a, s := startAcquisition(t, cfg)
	require.Eventually(t, func() bool { return len(s.of("G01", mes.EventState)) > 0 }, 60*time.Second, 20*time.Millisecond, "%+v", a.Status())
	assert.Contains(t, statusOf(a, "G01").Capabilities, opcua.CapCycles, "its vendor-named job was found by type")
}

// TestUmatiProbeAndMapping probes a vendor's server as an integrator would,
// then reads a vendor counter outside umati through the configuration
// alone: by browse path in a model shared by both machines, overridden by
// node id for one of them; a mapped node that does not exist is logged
// once, in one line naming machine, key and path.
func TestUmatiProbeAndMapping(t *testing.T) {
	u := startUmati(t, map[string]any{"securityNone": true, "machines": []map[string]any{
		{"browseName": "GR-0815", "subtype": "AcmeBurGrinderType", "jobs": 1},
		{"browseName": "GR-0816", "jobs": 1},
	}})
	ctx := context.Background()
	ms, err := opcua.Probe(ctx, opcua.ProbeOptions{URL: u.URL, DataDir: t.TempDir(), Logger: logger()})
	require.NoError(t, err)
	require.Len(t, ms, 2)
	byName := map[string]opcua.ProbedMachine{}
	for _, m := range ms {
		byName[m.BrowseName] = m
	}
	m := byName["GR-0815"]
	assert.Equal(t, "urn:acme-grinding:machines", m.Namespace)
	assert.Contains(t, m.Capabilities, opcua.CapCycles)
	assert.Contains(t, m.Lacks, opcua.CapDispatch)
	assert.NotEmpty(t, m.Messages, "the alarm event notifier")
	paths := map[string]string{}
	for _, n := range m.Nodes {
		paths[n.Key] = n.Path
	}
	assert.Equal(t, "MT:Monitoring/{urn:acme-grinding:machines}Channel1/MT:ChannelState", paths[opcua.KeyChannelState])
	assert.Equal(t, "MT:Production/MT:ProductionPlan/{urn:acme-grinding:machines}Job1/MT:RunsCompleted", paths[opcua.KeyRunsCompleted])
	var out bytes.Buffer
	require.NoError(t, opcua.WriteProbe(&out, u.URL, ms))
	assert.Contains(t, out.String(), `"node": "GR-0816"`)
	assert.Contains(t, out.String(), "{urn:acme-grinding:machines}Tool1")

	const vendor = "{urn:acme-grinding:machines}"
	cfg := umatiLine(u.URL, mes.ModePoll)
	cfg.Models = []mes.Model{{ID: "Acme TG-7", Map: map[string]string{
		opcua.KeyParts: vendor + "AcmeData/" + vendor + "PartsGood",
	}}}
	cfg.Machines[0].Model, cfg.Machines[1].Model = "Acme TG-7", "Acme TG-7"
	cfg.Machines[0].Map = map[string]string{opcua.KeyProgramState: "MT:Production/MT:NoSuchProgram"}
	cfg.Machines[1].Map = map[string]string{opcua.KeyParts: "nsu=urn:acme-grinding:machines;s=GR-0816.PartsGood"}
	var logs syncBuffer
	s := &sink{}
	a, err := opcua.New(opcua.Options{Line: cfg, DataDir: t.TempDir(), Sink: s, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return len(statusOf(a, "G02").Capabilities) > 0 }, 60*time.Second, 20*time.Millisecond)
	u.do(t, map[string]any{"op": "run", "machine": "GR-0815"})
	u.do(t, map[string]any{"op": "run", "machine": "GR-0816"})
	for _, id := range []string{"G01", "G02"} {
		require.Eventually(t, func() bool {
			c := s.of(id, mes.EventCounter)
			return len(c) > 0 && c[len(c)-1].Counter == 10
		}, 30*time.Second, 20*time.Millisecond, "%s counts the vendor's PartsGood (10 a run)", id)
	}
	lines := 0
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "mandatory node not found") {
			lines++
			assert.Contains(t, l, "machine=G01")
			assert.Contains(t, l, "key=program.state")
			assert.Contains(t, l, "MT:Production/MT:NoSuchProgram")
		}
	}
	assert.Equal(t, 1, lines, "one line per unresolved mandatory node")

	cfg.Machines[0].Map = map[string]string{"no.such.key": "MT:Production"}
	_, err = opcua.New(opcua.Options{Line: cfg, Sink: &sink{}, Logger: logger()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `machine G01: map: unknown signal key "no.such.key"`)
}

// TestUmatiTrustList connects over Basic256Sha256 SignAndEncrypt with a
// user name: an unknown server certificate is refused and put in
// pki/rejected, with an error naming it and where to move it; moved to
// pki/trusted it is accepted; trust_on_first_use adds it by itself.
func TestUmatiTrustList(t *testing.T) {
	u := startUmati(t, map[string]any{"user": "mes", "password": "s3cret", "machines": []map[string]any{
		{"browseName": "GR-0815", "jobs": 1},
	}})
	t.Setenv("PILOTLINE_UMATI_PASSWORD", "s3cret")
	secure := func(tofu bool) *mes.LineConfig {
		cfg := umatiLine(u.URL, mes.ModePoll)
		cfg.Machines = cfg.Machines[:1]
		cfg.Acquisition.SecurityPolicy, cfg.Acquisition.SecurityMode = "Basic256Sha256", "SignAndEncrypt"
		cfg.Acquisition.Username, cfg.Acquisition.PasswordEnv = "mes", "PILOTLINE_UMATI_PASSWORD"
		cfg.Acquisition.TrustOnFirstUse = tofu
		return cfg
	}
	run := func(cfg *mes.LineConfig, data string) (*opcua.Acquisition, *sink, func()) {
		s := &sink{}
		a, err := opcua.New(opcua.Options{Line: cfg, DataDir: data, Sink: s, Logger: logger()})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = a.Run(ctx) }()
		return a, s, func() { cancel(); <-done }
	}

	data := t.TempDir()
	a, s, stop := run(secure(false), data)
	require.Eventually(t, func() bool { return len(s.of("G01", mes.EventCommLost)) == 1 }, 60*time.Second, 20*time.Millisecond)
	stop()
	assert.Empty(t, s.of("G01", mes.EventState), "nothing read from an untrusted server")
	rejected, err := filepath.Glob(filepath.Join(data, "pki", "rejected", "*.der"))
	require.NoError(t, err)
	require.Len(t, rejected, 1)
	lastErr := statusOf(a, "G01").LastError
	assert.Contains(t, lastErr, "is not trusted: move "+rejected[0])
	assert.Contains(t, lastErr, filepath.Join(data, "pki", "trusted"))

	require.NoError(t, os.MkdirAll(filepath.Join(data, "pki", "trusted"), 0o700))
	require.NoError(t, os.Rename(rejected[0], filepath.Join(data, "pki", "trusted", filepath.Base(rejected[0]))))
	_, s, stop = run(secure(false), data)
	require.Eventually(t, func() bool { return len(s.of("G01", mes.EventState)) > 0 }, 60*time.Second, 20*time.Millisecond, "trusted now")
	stop()

	fresh := t.TempDir()
	_, s, stop = run(secure(true), fresh)
	defer stop()
	require.Eventually(t, func() bool { return len(s.of("G01", mes.EventState)) > 0 }, 60*time.Second, 20*time.Millisecond, "trusted on first use")
	trusted, err := filepath.Glob(filepath.Join(fresh, "pki", "trusted", "*.der"))
	require.NoError(t, err)
	assert.Len(t, trusted, 1)
}
