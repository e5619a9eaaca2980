package opcua_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/opcua"
	"github.com/pilotline/pilotline/opcua/sim"
)

const interopDir = "testdata/interop"

// needNodeOPCUA skips (or, under PILOTLINE_REQUIRE_INTEROP=1, fails) when
// node or the node-opcua package is not installed.
func needNodeOPCUA(t *testing.T) {
	t.Helper()
	_, errNode := exec.LookPath("node")
	_, errMod := os.Stat(filepath.Join(interopDir, "node_modules", "node-opcua", "package.json"))
	if errNode == nil && errMod == nil {
		return
	}
	msg := "node-opcua interop needs node and `npm install --prefix opcua/testdata/interop` (node: %v, node_modules: %v)"
	if os.Getenv("PILOTLINE_REQUIRE_INTEROP") == "1" {
		t.Fatalf(msg, errNode, errMod)
	}
	t.Skipf(msg, errNode, errMod)
}

func TestInteropNodeOPCUAClientBrowsesSimulatedLine(t *testing.T) {
	needNodeOPCUA(t)
	cfg, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	line, err := sim.Start(ctx, sim.Options{Line: cfg, Speed: 1, Seed: 3, PortBase: 0, Logger: logger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = line.Close() })
	url := ""
	for _, e := range line.Endpoints() {
		if e.ID == "G01" {
			url = e.URL
		}
	}
	require.NotEmpty(t, url)

	cmd := exec.CommandContext(ctx, "node", "browse.js", url, "G01")
	cmd.Dir = interopDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node browse.js: %s", stderr.String())
	var got struct {
		Machines []struct {
			Name            string `json:"name"`
			MachineToolType bool   `json:"machineToolType"`
		} `json:"machines"`
		Values map[string]*struct {
			Value  any    `json:"value"`
			Status string `json:"status"`
		} `json:"values"`
	}
	// node-opcua logs on stdout too: the result is the line holding the JSON object
	var result []byte
	for _, line := range bytes.Split(out, []byte("\n")) {
		if bytes.HasPrefix(line, []byte(`{"machines"`)) {
			result = line
		}
	}
	require.NoError(t, json.Unmarshal(result, &got), "%s", out)
	require.NotEmpty(t, got.Machines)
	assert.Equal(t, "G01", got.Machines[0].Name)
	assert.True(t, got.Machines[0].MachineToolType, "G01's type definition is MT:MachineToolType")
	for _, k := range []string{"manufacturer", "serialNumber", "operationMode", "programName", "programState", "wheelLocked", "state", "parts"} {
		v := got.Values[k]
		if assert.NotNil(t, v, "node-opcua found %s by browse path", k) {
			assert.Equal(t, "Good", v.Status, k)
		}
	}
	assert.NotEmpty(t, got.Values["manufacturer"].Value)
	assert.Equal(t, "idle", got.Values["state"].Value)
	assert.EqualValues(t, 0, got.Values["parts"].Value)
}

// nodeServer runs server.js serving one grinder and returns its URL.
func nodeServer(t *testing.T, spec map[string]any) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	dir := t.TempDir()
	spec["port"] = port
	spec["pkiDir"] = filepath.Join(dir, "pki")
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	specPath := filepath.Join(dir, "spec.json")
	require.NoError(t, os.WriteFile(specPath, b, 0o600))

	cmd := exec.Command("node", "server.js", specPath)
	cmd.Dir = interopDir
	var stderr syncBuffer
	cmd.Stderr = &stderr
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
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m struct {
				Ready bool   `json:"ready"`
				URL   string `json:"url"`
			}
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Ready {
				ready <- m.URL
				return
			}
		}
		close(ready)
	}()
	select {
	case url, ok := <-ready:
		require.True(t, ok, "node server.js exited: %s", stderr.String())
		return url
	case <-time.After(90 * time.Second):
		t.Fatalf("node server.js did not start: %s", stderr.String())
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func grinderSpec(values map[string]any) []map[string]any {
	var sigs []map[string]any
	for _, s := range opcua.MachineSignals(false) {
		var path [][2]string
		for _, q := range s.Path {
			path = append(path, [2]string{q.NS, q.Name})
		}
		sigs = append(sigs, map[string]any{"path": path, "type": s.Type, "value": values[s.Key], "writable": s.Writable})
	}
	return sigs
}

func TestInteropReadsNodeOPCUAServer(t *testing.T) {
	needNodeOPCUA(t)
	end := time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC)
	url := nodeServer(t, map[string]any{
		"user": "mes", "password": "s3cret",
		"machines": []map[string]any{{
			"id": "G01", "browseName": "TG650-0815", // found by its type definition
			"signals": grinderSpec(map[string]any{
				opcua.KeyManufacturer: "Pilotline Tools", opcua.KeyOperationMode: 1, opcua.KeyState: "grinding",
				opcua.KeyParts: 42, "cycle.Seq": 42, "cycle.Serial": "NB-00042", "cycle.Program": "O2020_HEAD",
				"cycle.Start": end.Add(-13 * time.Minute), "cycle.End": end, opcua.KeySpindleLoad: 63.5, opcua.KeyDispatchAcc: 0,
			}),
		}},
	})
	t.Setenv("PILOTLINE_INTEROP_PASSWORD", "s3cret")
	tests := []struct {
		name, policy, mode, user string
	}{
		{"none anonymous", "None", "None", ""},
		{"Basic256Sha256 Sign anonymous", "Basic256Sha256", "Sign", ""},
		{"Basic256Sha256 SignAndEncrypt user", "Basic256Sha256", "SignAndEncrypt", "mes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &mes.LineConfig{Name: "interop", Acquisition: mes.Acquisition{Mode: mes.ModePoll, PollIntervalMS: 200, PublishIntervalMS: 200,
				SecurityPolicy: tt.policy, SecurityMode: tt.mode, Username: tt.user, PasswordEnv: "PILOTLINE_INTEROP_PASSWORD", TrustOnFirstUse: true},
				Endpoints: []mes.Endpoint{{ID: "N1", URL: url}},
				Machines:  []mes.Machine{{ID: "G01", Kind: mes.KindGrinder, Endpoint: "N1"}}}
			s := &sink{}
			dataDir := t.TempDir()
			a, err := opcua.New(opcua.Options{Line: cfg, DataDir: dataDir, Sink: s, Logger: logger()})
			require.NoError(t, err)
			assert.FileExists(t, filepath.Join(dataDir, "pki", "client.crt.pem"))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = a.Run(ctx) }()
			defer func() { cancel(); <-done }()

			require.Eventually(t, func() bool { return len(s.of("G01", mes.EventCycle)) == 1 }, 60*time.Second, 20*time.Millisecond,
				"read over %s/%s: %+v", tt.policy, tt.mode, a.Status())
			cyc := s.of("G01", mes.EventCycle)[0].Cycle
			assert.Equal(t, "NB-00042", cyc.Serial)
			assert.Equal(t, "O2020_HEAD", cyc.Program)
			assert.True(t, end.Equal(cyc.End))
			st := s.of("G01", mes.EventState)
			require.NotEmpty(t, st)
			assert.Equal(t, mes.StateGrinding, st[0].State)
			assert.Equal(t, "Automatic", st[0].Mode)
			cnt := s.of("G01", mes.EventCounter)
			require.Len(t, cnt, 1)
			assert.Equal(t, uint64(42), cnt[0].Counter)
			require.NoError(t, a.Dispatch(ctx, mes.Job{Machine: "G01", Serial: "NB-00043", Program: "O2020_HEAD", ProgramVersion: "2.0"}))
		})
	}
	t.Run("wrong password is refused", func(t *testing.T) {
		t.Setenv("PILOTLINE_INTEROP_PASSWORD", "wrong")
		cfg := &mes.LineConfig{Name: "interop", Acquisition: mes.Acquisition{Mode: mes.ModePoll, PollIntervalMS: 200, PublishIntervalMS: 200,
			SecurityPolicy: "Basic256Sha256", SecurityMode: "SignAndEncrypt", Username: "mes", PasswordEnv: "PILOTLINE_INTEROP_PASSWORD", TrustOnFirstUse: true},
			Endpoints: []mes.Endpoint{{ID: "N1", URL: url}},
			Machines:  []mes.Machine{{ID: "G01", Kind: mes.KindGrinder, Endpoint: "N1"}}}
		s := &sink{}
		a, err := opcua.New(opcua.Options{Line: cfg, DataDir: t.TempDir(), Sink: s, Logger: logger()})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = a.Run(ctx) }()
		defer func() { cancel(); <-done }()
		require.Eventually(t, func() bool { return len(s.of("G01", mes.EventCommLost)) == 1 }, 60*time.Second, 20*time.Millisecond)
		st := a.Status()[0]
		assert.False(t, st.CommOK)
		assert.NotEmpty(t, st.LastError)
		assert.Empty(t, s.of("G01", mes.EventCycle))
	})
}
