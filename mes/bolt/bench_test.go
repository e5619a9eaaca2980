package bolt_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"
)

// Ingestion benchmarks: 1 KB records, durable (fsync on every commit).
// Run them together so their ratios come from one machine state:
//
//	go test -run '^$' -bench 'Ingest' -benchtime 3s ./mes/bolt/

const recordSize = 1024

// kbEvent is an alarm whose JSON encoding is about recordSize bytes.
func kbEvent(seq uint64) mes.MachineEvent {
	e := mes.MachineEvent{Machine: fmt.Sprintf("G%02d", seq%25+1), Kind: mes.EventAlarmRaised, SourceTime: t0.Add(time.Duration(seq) * time.Millisecond),
		Alarm: &mes.Alarm{Seq: seq, Code: "E2103", Severity: 700, Raised: t0}}
	e.Alarm.Text = strings.Repeat("x", recordSize-250)
	return e
}

func benchStore(b *testing.B) *bolt.DB {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	b.Cleanup(func() { db.Close() })
	return db
}

// rawBolt opens a bare bbolt file with the store's options.
func rawBolt(b *testing.B) *bbolt.DB {
	b.Helper()
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType, NoFreelistSync: true})
	require.NoError(b, err)
	b.Cleanup(func() { db.Close() })
	require.NoError(b, db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("r")); return err }))
	return db
}

func reportRate(b *testing.B, n int, d time.Duration) {
	b.ReportMetric(float64(n)/d.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// (a) Pilotline's group-commit writer: 64 publishers, one event per call,
// each waiting for its acknowledgement.
func BenchmarkIngest_a_GroupCommit64(b *testing.B) {
	benchGroupCommit(b, 64, 1)
}

// (a') the same with 8 events per call, each call spread over 8 machines.
func BenchmarkIngest_a_GroupCommit64x8(b *testing.B) {
	benchGroupCommit(b, 64, 8)
}

// (a”) what acquisition really does: one publisher per machine endpoint,
// each call one poll's events of that machine — the 25-grinder line with
// 32 events per poll, and a 1,000-machine plant with 10.
func BenchmarkIngest_a_Line25x32(b *testing.B) {
	benchGroupCommitMachines(b, 25, 32)
}

func BenchmarkIngest_a_Plant1000x10(b *testing.B) {
	benchGroupCommitMachines(b, 1000, 10)
}

// (a”') the line's call shape with state events, whose duplicate check is
// keyed by source time: their keys append at the end of event_keys.
func BenchmarkIngest_a_Line25x32State(b *testing.B) {
	benchIngestEvents(b, 25, 32, true, kbStateEvent)
}

// kbStateEvent is a state change whose encoding is about recordSize bytes.
func kbStateEvent(seq uint64) mes.MachineEvent {
	return mes.MachineEvent{Machine: fmt.Sprintf("G%02d", seq%25+1), Kind: mes.EventState, State: mes.StateGrinding,
		SourceTime: t0.Add(time.Duration(seq) * time.Millisecond), Mode: strings.Repeat("x", recordSize-40)}
}

func benchGroupCommit(b *testing.B, publishers, perCall int) {
	benchIngest(b, publishers, perCall, false)
}

func benchGroupCommitMachines(b *testing.B, publishers, perCall int) {
	benchIngest(b, publishers, perCall, true)
}

// benchIngest runs publishers that each publish perCall events per call and
// wait for the acknowledgement; with perMachine, publisher p publishes only
// machine p's events, as one acquisition endpoint does.
func benchIngest(b *testing.B, publishers, perCall int, perMachine bool) {
	benchIngestEvents(b, publishers, perCall, perMachine, kbEvent)
}

func benchIngestEvents(b *testing.B, publishers, perCall int, perMachine bool, event func(uint64) mes.MachineEvent) {
	db := benchStore(b)
	events := bolt.NewEventStore(db)
	ctx := context.Background()
	var next atomic.Uint64
	lat := make([][]time.Duration, publishers)
	calls := b.N/perCall + 1
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > uint64(calls) {
					return
				}
				evs := make([]mes.MachineEvent, perCall)
				for j := range evs {
					evs[j] = event(i*uint64(perCall) + uint64(j))
					if perMachine {
						evs[j].Machine = fmt.Sprintf("M%04d", p+1)
					}
				}
				t := time.Now()
				if err := events.Publish(ctx, evs...); err != nil {
					b.Error(err)
					return
				}
				lat[p] = append(lat[p], time.Since(t))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	reportRate(b, calls*perCall, el)
	all := slices.Concat(lat...)
	b.ReportMetric(float64(percentile(all, 0.50).Microseconds())/1000, "p50-ack-ms")
	b.ReportMetric(float64(percentile(all, 0.99).Microseconds())/1000, "p99-ack-ms")
}

// (e) open loop: 25 publishers (the line's machines) each publish a poll of
// 32 events on a fixed schedule, whether or not their last call was
// acknowledged, at a fixed total offered rate. Latency is from the call's
// scheduled time to its acknowledgement, so a stalled writer shows up in it
// instead of slowing the offered load (as it does in the closed-loop cases,
// whose p99 is bounded below by events in flight ÷ throughput). Each rate
// runs openLoopFor regardless of b.N:
//
//	go test -run '^$' -bench 'Ingest_e' -benchtime 1x ./mes/bolt/
func BenchmarkIngest_e_OpenLoop(b *testing.B) {
	for _, rate := range []int{10_000, 25_000, 50_000} {
		b.Run(fmt.Sprintf("%dk", rate/1000), func(b *testing.B) { benchOpenLoop(b, rate, 25, 32) })
	}
}

const openLoopFor = 4 * time.Second

func benchOpenLoop(b *testing.B, rate, publishers, perCall int) {
	db := benchStore(b)
	events := bolt.NewEventStore(db)
	ctx := context.Background()
	interval := time.Duration(float64(time.Second) * float64(publishers*perCall) / float64(rate))
	var (
		next   atomic.Uint64
		mu     sync.Mutex
		lat    []time.Duration
		failed atomic.Int64
		calls  sync.WaitGroup
		pubs   sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now().Add(10 * time.Millisecond)
	end := start.Add(openLoopFor)
	for p := range publishers {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			machine := fmt.Sprintf("M%04d", p+1)
			// Publishers poll out of phase, as independent endpoints do.
			for k := 0; ; k++ {
				sched := start.Add(time.Duration(p)*interval/time.Duration(publishers) + time.Duration(k)*interval)
				if sched.After(end) {
					return
				}
				evs := make([]mes.MachineEvent, perCall)
				for j := range evs {
					evs[j] = kbEvent(next.Add(1))
					evs[j].Machine = machine
				}
				time.Sleep(time.Until(sched))
				calls.Add(1)
				go func() {
					defer calls.Done()
					if err := events.Publish(ctx, evs...); err != nil {
						failed.Add(1)
						return
					}
					d := time.Since(sched)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}()
			}
		}()
	}
	pubs.Wait()
	calls.Wait()
	el := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d calls failed", n)
	}
	b.ReportMetric(float64(len(lat)*perCall)/el.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ack-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ack-ms")
	b.ReportMetric(float64(percentile(lat, 1).Microseconds())/1000, "max-ack-ms")
}

// (b) one bbolt transaction per event.
func BenchmarkIngest_b_TxPerEvent(b *testing.B) {
	db := rawBolt(b)
	val := make([]byte, recordSize)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("r")).Put(keyOf(uint64(i)), val) })
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N, time.Since(start))
}

// (c) bare bbolt loop, 1,000 records per transaction: the practical limit.
func BenchmarkIngest_c_Bare1000PerTx(b *testing.B) {
	db := rawBolt(b)
	val := make([]byte, recordSize)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 1000 {
		err := db.Update(func(tx *bbolt.Tx) error {
			bk := tx.Bucket([]byte("r"))
			for j := i; j < min(i+1000, b.N); j++ {
				if err := bk.Put(keyOf(uint64(j)), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N, time.Since(start))
}

// (d) bbolt's db.Batch with 64 writers.
func BenchmarkIngest_d_DBBatch64(b *testing.B) {
	db := rawBolt(b)
	val := make([]byte, recordSize)
	var next atomic.Uint64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > uint64(b.N) {
					return
				}
				err := db.Batch(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("r")).Put(keyOf(i), val) })
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	reportRate(b, b.N, time.Since(start))
}

func keyOf(i uint64) []byte { return fmt.Appendf(nil, "%016x", i) }

// Genealogy lookup of one bur among a million:
//
//	go test -run '^$' -bench Genealogy -benchtime 20000x ./mes/bolt/
const genealogyBurs = 1_000_000

var genealogy struct {
	once  sync.Once
	dir   string
	db    *bolt.DB
	build time.Duration
	err   error
}

func genealogyStore(b *testing.B) *bolt.DB {
	b.Helper()
	g := &genealogy
	g.once.Do(func() {
		g.dir, g.err = os.MkdirTemp("", "pilotline-genealogy")
		if g.err != nil {
			return
		}
		g.db, g.err = bolt.Open(filepath.Join(g.dir, "pilotline.db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
		if g.err != nil {
			return
		}
		start := time.Now()
		g.err = buildGenealogy(g.db, genealogyBurs)
		g.build = time.Since(start)
	})
	require.NoError(b, g.err)
	return g.db
}

// buildGenealogy stores n burs with a full five-operation genealogy and a
// measurement, in batches of 1,000 burs, 10 batches per transaction.
func buildGenealogy(db *bolt.DB, n int) error {
	ctx := context.Background()
	line := testLineConfig()
	p := line.Products[0]
	if err := bolt.NewProductService(db).CreateProduct(ctx, &p); err != nil {
		return err
	}
	const perBatch = 1000
	serials := mes.MustParseSerialPattern(line.SerialPattern)
	for bi := 1; bi <= n/perBatch; bi++ {
		batch := &mes.Batch{ID: fmt.Sprintf("B%06d", bi), Product: p.ISO, Quantity: perBatch, State: mes.BatchCompleted,
			Started: perBatch, Completed: perBatch, Created: t0}
		burs := make([]*mes.Bur, perBatch)
		for s := range burs {
			serial, err := serials.Format(batch.ID, s+1)
			if err != nil {
				return err
			}
			bur := &mes.Bur{Serial: serial, Batch: batch.ID, Product: p.ISO, Seq: s + 1, BlankLot: "LOT-2026-031",
				NextOp: len(p.Route), Disposition: mes.BurGood, Created: t0, Finished: t0.Add(2 * time.Hour)}
			for i, op := range p.Route {
				st := t0.Add(time.Duration(i) * 20 * time.Minute)
				bur.Operations = append(bur.Operations, mes.OperationRecord{Number: op.Number, Name: op.Name,
					Machine: fmt.Sprintf("G%02d", i*5+s%5+1), CycleSeq: uint64(bi*perBatch + s), Program: op.Program,
					ProgramVersion: op.ProgramVersion, ProgramHash: "9f2c1e7a", WheelID: "W-4471", WheelWearUM: 3.2, DressCount: 17,
					Start: st, End: st.Add(time.Duration(op.IdealCycleS) * time.Second), CycleS: op.IdealCycleS, PeakSpindleLoad: 61.5, EnergyKWh: 0.21})
			}
			m := mes.Measurement{Seq: uint64(bi*perBatch + s), Serial: serial, Station: "QC1", GaugeID: "GA-7", Time: t0.Add(2 * time.Hour), Values: goodValues(p)}
			bur.Measurement = &m
			bur.Results, _, _ = mes.Evaluate(&p, m)
			burs[s] = bur
		}
		if err := bolt.BulkLoadBurs(ctx, db, batch, burs); err != nil {
			return err
		}
	}
	return nil
}

func BenchmarkGenealogyLookup1M(b *testing.B) {
	db := genealogyStore(b)
	burs := bolt.NewBurService(db)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		serial := fmt.Sprintf("B%06d-%05d", rng.IntN(genealogyBurs/1000)+1, rng.IntN(1000)+1)
		t := time.Now()
		bur, err := burs.FindBur(ctx, serial)
		lat = append(lat, time.Since(t))
		if err != nil || len(bur.Operations) != 5 {
			b.Fatalf("%s: %v", serial, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(lat, 0.50).Nanoseconds())/1000, "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Nanoseconds())/1000, "p99-µs")
	b.ReportMetric(genealogy.build.Seconds(), "build-s")
}
