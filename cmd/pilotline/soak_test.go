package main

import (
	"bytes"
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// asBinaryEnv makes the test binary behave as the pilotline binary, so the
// soak test runs `sim` and `serve` as real child processes of this very
// code without a separate build step.
const asBinaryEnv = "PILOTLINE_TEST_AS_BINARY"

func TestMain(m *testing.M) {
	if os.Getenv(asBinaryEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestSoak_ShortShift is `make soak` in small: a one-hour shift at high
// speed with endpoint kills, a row kill, a stall, alarm storms,
// maintenance, two SIGKILLs of the MES, WebSocket viewers (a fifth never
// read) and a malformed-request burst, against the real processes; every
// invariant must hold.
func TestSoak_ShortShift(t *testing.T) {
	bin, err := os.Executable()
	require.NoError(t, err)
	t.Setenv(asBinaryEnv, "1")
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	m := NewSoakMain(&stdout, &stderr)
	require.NoError(t, m.ParseFlags(context.Background(), []string{
		"--bin", bin, "--out", out, "--seed", "7", "--shift", "1h", "--speed", "120",
		"--viewers", "20", "--kills", "2", "--faults", "2", "--log-level", "warn",
		// Latency is measured and reported; its budget is checked by `make
		// soak`, not here, where -race and a busy CI machine set the pace.
		"--max-p99", "0", "--max-lag", "0",
	}))
	err = m.Run(context.Background())
	require.NoError(t, m.Close())
	if err != nil {
		t.Logf("report:\n%s\nsoak log:\n%s", stdout.String(), stderr.String())
	}
	require.NoError(t, err, "every invariant holds")
	t.Log(stdout.String())

	res := m.result
	require.NotNil(t, res)
	assert.Equal(t, 2, res.MESKills, "the MES was killed twice and came back")
	assert.Positive(t, res.CountedJobs, "grinders counted jobs")
	assert.Equal(t, res.CountedJobs, res.GenealogyRecords, "each counted job has its genealogy record")
	assert.Positive(t, res.AckedEvents, "events were read before the kills and re-read after")
	assert.Equal(t, 4, res.SlowDropped, "the four slow viewers were dropped")
	assert.Zero(t, res.SlowOpen)
	assert.Positive(t, res.LatencyN, "fast viewers received deltas")
	assert.Positive(t, res.LagN, "acquisition lag measured")
	assert.Positive(t, res.Malformed, "the malformed burst ran")
	assert.Equal(t, res.DigestBefore, res.DigestAfter)
	for _, f := range []string{"report.txt", "report.html", "soak.json"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		require.NoError(t, err)
		assert.Contains(t, string(b), "seed", f)
	}
	assert.Contains(t, stdout.String(), "PASS")
}

func TestSoak_Flags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"short shift", []string{"--shift", "1m"}, "--shift"},
		{"zero speed", []string{"--speed", "0"}, "--speed"},
		{"too many viewers", []string{"--viewers", "5000"}, "--viewers"},
		{"empty out", []string{"--out", ""}, "--out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewSoakMain(&bytes.Buffer{}, &bytes.Buffer{})
			err := m.ParseFlags(context.Background(), tt.args)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
