package bolt_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The crash test re-executes the test binary as a child that ingests and
// records operations until it is killed; these variables carry its orders.
const (
	envCrashDB    = "PILOTLINE_CRASH_CHILD_DB"
	envCrashRound = "PILOTLINE_CRASH_CHILD_ROUND"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envCrashDB); path != "" {
		round, _ := strconv.Atoi(os.Getenv(envCrashRound))
		if err := crashChild(path, uint64(round)); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	code := m.Run()
	if genealogy.db != nil {
		genealogy.db.Close()
		os.RemoveAll(genealogy.dir)
	}
	os.Exit(code)
}

// crashChild publishes events from several goroutines and runs burs through
// their route, printing each fact after it was acknowledged:
//
//	PUB key…   before publishing (the store may hold these)
//	ACK key…   after Publish returned nil (the store must hold these)
//	OP serial number     after CompleteOperation returned
//	MEAS serial          after RecordMeasurement returned
func crashChild(path string, round uint64) error {
	ctx := context.Background()
	db, err := bolt.Open(path, bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		// One unbuffered write per line: whatever the parent reads was
		// printed after the fact it reports.
		if _, err := io.WriteString(os.Stdout, fmt.Sprintf(format, args...)+"\n"); err != nil {
			os.Exit(3)
		}
	}
	products, batches, burs, events := bolt.NewProductService(db), bolt.NewBatchService(db), bolt.NewBurService(db), bolt.NewEventStore(db)
	p := crashProduct()
	if err := products.CreateProduct(ctx, &p); err != nil && mes.ErrorCode(err) != mes.ECONFLICT {
		return err
	}
	list, err := batches.ListBatches(ctx, mes.BatchFilter{})
	if err != nil {
		return err
	}
	var batch *mes.Batch
	if len(list) > 0 {
		batch = list[0]
	} else {
		batch = &mes.Batch{Product: p.ISO, Quantity: 1_000_000, State: mes.BatchReleased, Org: "crash"}
		if err := batches.CreateBatch(ctx, batch); err != nil {
			return err
		}
	}
	say("READY")

	const publishers = 4
	for g := range publishers {
		go func() {
			machine := fmt.Sprintf("G%02d", g+1)
			var last []mes.MachineEvent
			for i := uint64(0); ; i++ {
				n := int(i%8) + 1
				evs := make([]mes.MachineEvent, n)
				ks := make([]string, n)
				for j := range evs {
					c := round<<32 | (i*8 + uint64(j))
					evs[j] = mes.MachineEvent{Machine: machine, Kind: mes.EventCounter, Counter: c, SourceTime: t0.Add(time.Duration(c) * time.Millisecond)}
					ks[j] = evs[j].Key()
				}
				say("PUB %s", strings.Join(ks, " "))
				if err := events.Publish(ctx, evs...); err != nil {
					say("ERR %v", err)
					return
				}
				say("ACK %s", strings.Join(ks, " "))
				if i%5 == 0 && last != nil {
					_ = events.Publish(ctx, last...) // a replay: must not duplicate
				}
				last = evs
			}
		}()
	}

	cycle := round << 32
	for {
		bur, err := burs.StartBur(ctx, batch.ID, time.Time{})
		if err != nil {
			return err
		}
		for _, op := range p.Route {
			m := "M" + op.Group
			if err := burs.AssignBur(ctx, bur.Serial, m); err != nil {
				return err
			}
			cycle++
			c := mes.Cycle{Seq: cycle, Serial: bur.Serial, Program: op.Program, Start: t0, End: t0.Add(time.Minute), Aborted: cycle%23 == 0}
			for range 1 + cycle%2 { // every other cycle is delivered twice
				if _, err := burs.CompleteOperation(ctx, m, c); err != nil {
					return err
				}
			}
			say("OP %s %d", bur.Serial, op.Number)
			if c.Aborted {
				break
			}
		}
		if b, err := burs.FindBur(ctx, bur.Serial); err != nil {
			return err
		} else if b.Disposition == mes.BurInProcess {
			vals := goodValues(p)
			if cycle%7 == 0 {
				vals[mes.CharHeadDiameter] = 2
			}
			if _, err := burs.RecordMeasurement(ctx, mes.Measurement{Seq: cycle, Serial: bur.Serial, Station: "QC1", Time: t0, Values: vals}); err != nil {
				return err
			}
			say("MEAS %s", bur.Serial)
		}
	}
}

func crashProduct() mes.Product {
	return mes.Product{
		ISO: "500314001001014", Name: "round bur", ShankType: "FG",
		Tolerances: map[string]mes.Tolerance{mes.CharHeadDiameter: {Nominal: 1.4, Lower: 1.38, Upper: 1.42}},
		Route: []mes.Operation{
			{Number: 10, Name: "Shank", Group: "SHK", Program: "O1010", IdealCycleS: 780},
			{Number: 20, Name: "Head", Group: "HEAD", Program: "O2020", IdealCycleS: 780},
			{Number: 30, Name: "Inspection", Group: "QC", Program: "M5050", IdealCycleS: 90},
		},
	}
}

// crashLedger is what the children reported over all rounds.
type crashLedger struct {
	published map[string]bool
	acked     map[string]bool
	ops       map[string][]int // serial → operation numbers acknowledged
	measured  map[string]bool
}

func TestCrash_SIGKILLNeverLosesAcknowledgedWrites(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PILOTLINE_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set PILOTLINE_CRASH_SEED to repeat)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	path := filepath.Join(t.TempDir(), "crash.db")
	led := &crashLedger{published: map[string]bool{}, acked: map[string]bool{}, ops: map[string][]int{}, measured: map[string]bool{}}

	for round := range rounds {
		lines := runAndKill(t, path, round, time.Duration(20+rng.IntN(300))*time.Millisecond)
		for _, l := range lines {
			f := strings.Fields(l)
			switch f[0] {
			case "PUB":
				for _, k := range f[1:] {
					led.published[k] = true
				}
			case "ACK":
				for _, k := range f[1:] {
					led.acked[k] = true
				}
			case "OP":
				n, _ := strconv.Atoi(f[2])
				led.ops[f[1]] = append(led.ops[f[1]], n)
			case "MEAS":
				led.measured[f[1]] = true
			case "ERR":
				t.Fatalf("round %d: child: %s", round, l)
			}
		}
		checkAfterCrash(t, path, round, led)
		if t.Failed() {
			return
		}
	}
	t.Logf("%d rounds: %d events acknowledged, %d burs with acknowledged operations", rounds, len(led.acked), len(led.ops))
}

// runAndKill starts a child on path, lets it work for d after it is ready,
// kills it with SIGKILL and returns every line it printed.
func runAndKill(t *testing.T, path string, round int, d time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashDB+"="+path, envCrashRound+"="+strconv.Itoa(round+1))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	ready := make(chan struct{})
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if sc.Text() == "READY" {
				close(ready)
				continue
			}
			lines = append(lines, sc.Text())
		}
	}()
	select {
	case <-ready:
	case <-done:
		cmd.Wait()
		t.Fatalf("round %d: child exited before it was ready: %s", round, stderr.String())
	}
	time.Sleep(d)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	<-done
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "round %d: child must die by the signal: %s", round, stderr.String())
	return lines
}

func checkAfterCrash(t *testing.T, path string, round int, led *crashLedger) {
	t.Helper()
	ctx := context.Background()
	db, err := bolt.Open(path, bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err, "round %d: the file opens after SIGKILL", round)
	defer db.Close()
	require.NoError(t, db.Check(ctx), "round %d", round)

	stored := map[string]int{}
	for e, err := range bolt.NewEventStore(db).Events(ctx, mes.EventFilter{}) {
		require.NoError(t, err)
		stored[e.Key()]++
	}
	// Plain map lookups: testify's Contains on a map is linear.
	var lost, dups, unknown []string
	for k := range led.acked {
		if stored[k] == 0 {
			lost = append(lost, k)
		}
	}
	for k, n := range stored {
		if n != 1 {
			dups = append(dups, k)
		}
		if !led.published[k] {
			unknown = append(unknown, k)
		}
	}
	assert.Empty(t, lost, "round %d: acknowledged events lost", round)
	assert.Empty(t, dups, "round %d: events stored more than once", round)
	assert.Empty(t, unknown, "round %d: events stored that were never published", round)

	burs := bolt.NewBurService(db)
	batches, err := bolt.NewBatchService(db).ListBatches(ctx, mes.BatchFilter{})
	require.NoError(t, err)
	require.Len(t, batches, 1)
	b := batches[0]
	list, err := burs.ListBurs(ctx, b.ID)
	require.NoError(t, err)
	byID := map[string]*mes.Bur{}
	var good, scrap int
	waiting := map[string]int{}
	route := crashProduct().Route
	for _, bur := range list {
		byID[bur.Serial] = bur
		switch bur.Disposition {
		case mes.BurGood:
			good++
		case mes.BurScrap:
			scrap++
		case mes.BurInProcess:
			if bur.Machine == "" && bur.NextOp < len(route) {
				waiting[route[bur.NextOp].Group]++
			}
		}
		var nums []int
		for _, op := range bur.Operations {
			nums = append(nums, op.Number)
		}
		for i := range nums {
			assert.Equal(t, route[i].Number, nums[i], "round %d: bur %s operations %v out of route order or duplicated", round, bur.Serial, nums)
		}
	}
	assert.Equal(t, len(list), b.Started, "round %d: started count matches the burs stored", round)
	assert.Equal(t, good, b.Completed, "round %d: good count", round)
	assert.Equal(t, scrap, b.Scrap, "round %d: scrap count", round)
	for g, n := range waiting {
		ws, err := burs.WaitingBurs(ctx, g, 0)
		require.NoError(t, err)
		assert.Len(t, ws, n, "round %d: waiting index of %s matches the burs", round, g)
	}

	for serial, nums := range led.ops {
		bur := byID[serial]
		if !assert.NotNil(t, bur, "round %d: bur %s with acknowledged operations lost", round, serial) {
			continue
		}
		for _, n := range nums {
			found := 0
			for _, op := range bur.Operations {
				if op.Number == n {
					found++
				}
			}
			assert.Equal(t, 1, found, "round %d: bur %s operation %d", round, serial, n)
		}
	}
	for serial := range led.measured {
		if bur := byID[serial]; assert.NotNil(t, bur) {
			assert.NotEqual(t, mes.BurInProcess, bur.Disposition, "round %d: measured bur %s has no disposition", round, serial)
			assert.NotNil(t, bur.Measurement)
		}
	}
}
