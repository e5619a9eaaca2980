package opcua_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/opcua"
	"github.com/pilotline/pilotline/opcua/sim"
)

// The benchmarks run the simulated line in a child process (this test
// binary re-executed with PILOTLINE_BENCH_SIM set), so that getrusage in the
// parent counts the acquisition client's CPU only.

func TestMain(m *testing.M) {
	if os.Getenv("PILOTLINE_BENCH_SIM") != "" {
		os.Exit(serveBenchLine())
	}
	os.Exit(m.Run())
}

// benchLineConfig is the default line, or a gateway line of n grinders.
func benchLineConfig(grinders int) (*mes.LineConfig, error) {
	cfg, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	if err != nil {
		return nil, err
	}
	if grinders > 0 {
		var ms []mes.Machine
		for _, m := range cfg.Machines {
			if m.Kind == mes.KindInspection {
				ms = append(ms, m)
			}
		}
		for i := 0; i < grinders; i++ {
			g := cfg.Groups[i%(len(cfg.Groups)-1)].ID // every group but inspection
			ms = append(ms, mes.Machine{ID: fmt.Sprintf("G%04d", i+1), Kind: mes.KindGrinder, Row: 10 + i/100, Col: 1 + i%100, Group: g, Model: "TG-650"})
		}
		cfg.Machines = ms
		for i := range cfg.Robots {
			cfg.Robots[i].Serves = []string{"MAG", "OUT"}
		}
		cfg.Simulation.Layout = mes.LayoutGateway
	}
	return cfg, cfg.Validate()
}

func serveBenchLine() int {
	n, _ := strconv.Atoi(os.Getenv("PILOTLINE_BENCH_SIM"))
	cfg, err := benchLineConfig(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := sim.Start(context.Background(), sim.Options{Line: cfg, Speed: 10, Seed: 1, PortBase: 0, Autorun: true, Logger: logger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, _ := json.Marshal(l.Bind(cfg))
	fmt.Println(string(b))
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
	_ = l.Close()
	return 0
}

// startBenchLine starts the child simulator and returns the bound configuration.
func startBenchLine(b *testing.B, grinders int) *mes.LineConfig {
	b.Helper()
	exe, err := os.Executable()
	require.NoError(b, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "PILOTLINE_BENCH_SIM="+strconv.Itoa(grinders))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReaderSize(stdout, 1<<22).ReadBytes('\n')
	require.NoError(b, err)
	var cfg mes.LineConfig
	require.NoError(b, json.Unmarshal(line, &cfg))
	return &cfg
}

type nopSink struct{}

func (nopSink) Publish(context.Context, ...mes.MachineEvent) error { return nil }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func connectBench(b *testing.B, cfg *mes.LineConfig) *opcua.BenchLine {
	b.Helper()
	a, err := opcua.New(opcua.Options{Line: cfg, Sink: nopSink{}, Logger: logger()})
	require.NoError(b, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bl, err := opcua.ConnectAll(ctx, a)
	require.NoError(b, err)
	b.Cleanup(bl.Close)
	return bl
}

func measureCycles(b *testing.B, bl *opcua.BenchLine, naive bool) {
	ctx := context.Background()
	cycle := bl.Cycle
	if naive {
		cycle = bl.NaiveCycle
	}
	require.NoError(b, cycle(ctx)) // warm up
	lat := make([]time.Duration, 0, b.N)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := cycle(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/cycle")
	b.ReportMetric(float64(bl.HotNodes()), "nodes/cycle")
}

// BenchmarkLineCycle: one poll cycle of the whole default line (25 grinder
// endpoints + inspection + cell), batched against the naive baseline.
func BenchmarkLineCycle(b *testing.B) {
	cfg := startBenchLine(b, 0)
	bl := connectBench(b, cfg)
	b.Run("batched", func(b *testing.B) { measureCycles(b, bl, false) })
	b.Run("naive", func(b *testing.B) { measureCycles(b, bl, true) })
}

func benchSeconds() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("PILOTLINE_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 20 * time.Second
}

// BenchmarkClientAt500ms runs acquisition as deployed (poll every 500 ms)
// against the default line and reports the client's share of one core:
// "tiered" as shipped (slow values every slowEvery-th cycle, alarm slots
// through PL:Alarms/Latest), "whole" reading every value every cycle, as a
// baseline in the same run.
func BenchmarkClientAt500ms(b *testing.B) {
	cfg := startBenchLine(b, 0)
	cfg.Acquisition.Mode = mes.ModePoll
	cfg.Acquisition.PollIntervalMS = 500
	for _, tiered := range []bool{true, false} {
		name := "tiered"
		if !tiered {
			name = "whole"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				a, err := opcua.New(opcua.Options{Line: cfg, Sink: nopSink{}, Logger: logger(), WholeReads: !tiered})
				require.NoError(b, err)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); _ = a.Run(ctx) }()
				time.Sleep(3 * time.Second) // connected and steady
				d := benchSeconds()
				cpu0, t0 := cpuTime(), time.Now()
				time.Sleep(d)
				cpu, wall := cpuTime()-cpu0, time.Since(t0)
				ok := 0
				for _, s := range a.Status() {
					if s.CommOK {
						ok++
					}
				}
				cancel()
				<-done
				b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
				b.ReportMetric(float64(ok), "objects-ok")
			}
		})
	}
}

// BenchmarkGatewayScale polls a gateway line of many grinders back to back
// and reports the values per second sustained and the client's CPU.
func BenchmarkGatewayScale(b *testing.B) {
	for _, n := range []int{250, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			cfg := startBenchLine(b, n)
			bl := connectBench(b, cfg)
			ctx := context.Background()
			require.NoError(b, bl.Cycle(ctx))
			lat := make([]time.Duration, 0, b.N)
			cpu0, t0 := cpuTime(), time.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c0 := time.Now()
				if err := bl.Cycle(ctx); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(c0))
			}
			b.StopTimer()
			wall, cpu := time.Since(t0), cpuTime()-cpu0
			b.ReportMetric(float64(bl.HotNodes()*b.N)/wall.Seconds(), "values/s")
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/cycle")
			b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(bl.HotNodes()), "nodes/cycle")
			b.ReportMetric(float64(bl.Requests()), "reads/cycle")
		})
	}
}
