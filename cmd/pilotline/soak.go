package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/pilotline/pilotline/internal/soak"
)

// SoakMain is `pilotline soak`: the flags of internal/soak's run.
type SoakMain struct {
	Config   soak.Config
	LogLevel string

	stdout, stderr io.Writer
	result         *soak.Result // after Run
}

// NewSoakMain returns the soak command writing to stdout and stderr.
func NewSoakMain(stdout, stderr io.Writer) *SoakMain {
	return &SoakMain{stdout: stdout, stderr: stderr}
}

// ParseFlags parses and validates the flags.
func (m *SoakMain) ParseFlags(_ context.Context, args []string) error {
	c := &m.Config
	fs := newFlagSet("soak", "Runs the real binary as a simulated line and an MES through a simulated shift with\nfaults, MES kills, WebSocket viewers and malformed requests; checks the invariants\nand writes report.txt, report.html and soak.json to --out. Exit 1 names every broken invariant.", m.stderr)
	fs.StringVar(&c.Bin, "bin", "", "pilotline `BINARY` to run; default this executable")
	fs.StringVar(&c.Out, "out", "./out/soak", "output `DIR` for the report, the chart and the run's data")
	fs.Int64Var(&c.Seed, "seed", 1, "seed of the line and of the fault schedule")
	fs.DurationVar(&c.Shift, "shift", 8*time.Hour, "simulated length of the shift")
	fs.Float64Var(&c.Speed, "speed", 60, "simulated seconds per real second")
	fs.IntVar(&c.Viewers, "viewers", 200, "WebSocket viewers; a fifth of them never read")
	fs.IntVar(&c.Kills, "kills", 2, "times the MES is killed with SIGKILL and restarted")
	fs.IntVar(&c.Faults, "faults", 4, "single grinder endpoint kills; rows, stalls, alarm storms and maintenance blocks scale with it")
	fs.DurationVar(&c.MaxP99, "max-p99", 100*time.Millisecond, "budget for the fast viewers' p99 delivery latency in every twentieth of the shift; 0 = measure and report only")
	fs.DurationVar(&c.MaxLag, "max-lag", 1500*time.Millisecond, "budget for the p99 lag from a job's end on the machine to the MES receiving it (a poll interval plus margin), outside MES outages; a sink that blocked on viewers would stall acquisition and show here; 0 = measure only")
	fs.StringVar(&m.LogLevel, "log-level", "info", "log level of the soak itself: debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	lvl, err := parseLevel(m.LogLevel)
	if err != nil {
		return err
	}
	c.Logger = slog.New(slog.NewTextHandler(m.stderr, &slog.HandlerOptions{Level: lvl}))
	if c.Bin == "" {
		if c.Bin, err = os.Executable(); err != nil {
			return err
		}
	}
	return c.Validate()
}

// Run performs the soak; it returns an error naming every broken invariant.
func (m *SoakMain) Run(ctx context.Context) error {
	res, err := soak.Run(ctx, m.Config, m.stdout)
	m.result = res
	return err
}

// Close releases nothing: Run stops its processes itself.
func (m *SoakMain) Close() error { return nil }
