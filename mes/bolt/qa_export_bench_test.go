package bolt_test

import (
	"bufio"
	"context"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mes/trace"
)

// Trace exports read from a real store, as GET /batches/{id}/trace and
// `pilotline export` do:
//
//	go test -run '^$' -bench 'StoreExport' -benchtime 3x ./mes/bolt/
//
// Each builds its store once per run with big write transactions: a
// 100,000-bur batch (B000001) for the CSV, a 1,000-bur batch (B000002) for
// the PDF, 5 operations and a measurement per bur. The "memory" sub-benchmark exports the same
// rows from burs held in memory: the store's cost is the ratio of the two.
const (
	exportBurs      = 100_000
	exportPDFBurs   = 1_000
	exportTemplates = 1_000 // distinct burs; the rest repeat them under their own serials
)

// exportBur is bur i of batch: template i%exportTemplates under its own
// serial and seq, so the store and the memory baseline write the same rows.
func exportBur(tmpl []*mes.Bur, batch string, i int) *mes.Bur {
	b := *tmpl[i%len(tmpl)]
	b.Batch, b.Seq = batch, i+1
	b.Serial = fmt.Sprintf("%s-%06d", batch, i+1)
	m := *b.Measurement
	m.Serial = b.Serial
	b.Measurement = &m
	return &b
}

func exportTemplateBurs(p *mes.Product) []*mes.Bur {
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	out := make([]*mes.Bur, exportTemplates)
	for i := range out {
		start := t0.Add(time.Duration(i) * 180 * time.Second)
		b := &mes.Bur{Product: p.ISO, BlankLot: "CB-2026-017", Created: start, Finished: start.Add(1100 * time.Second), NextOp: len(p.Route)}
		for j, op := range p.Route {
			s := start.Add(time.Duration(j*200) * time.Second)
			b.Operations = append(b.Operations, mes.OperationRecord{Number: op.Number, Name: op.Name,
				Machine: fmt.Sprintf("G%02d", 1+j*5+i%5), CycleSeq: uint64(i), Program: op.Program, ProgramVersion: op.ProgramVersion,
				ProgramHash: "sha256:9f2c41d0", WheelID: "W-" + strconv.Itoa(j*5+i%5), WheelWearUM: float64(i%40) * 0.25,
				DressCount: uint32(i / 40), Start: s, End: s.Add(171500 * time.Millisecond), CycleS: 171.5,
				PeakSpindleLoad: 60 + float64(i%9)/2, EnergyKWh: 0.12 + float64(i%7)/1000})
		}
		v := goodValues(*p)
		for ch := range v {
			v[ch] += float64(i%9-4) / 10000
		}
		b.Measurement = &mes.Measurement{Seq: uint64(i), Station: "QC1", GaugeID: "GA-OPT-03",
			CalibrationDue: t0.AddDate(0, 6, 0), Time: b.Finished, Values: v}
		b.Results, b.Disposition, _ = mes.Evaluate(p, *b.Measurement)
		out[i] = b
	}
	return out
}

// openExportStore builds the store in b's temp dir with big write
// transactions and reports how long that took. Called once per benchmark
// function: b.Loop runs the function itself only once.
func openExportStore(b *testing.B, batches ...exportBatch) (*bolt.DB, []*mes.Bur) {
	b.Helper()
	start := time.Now()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "pilotline.db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ctx := context.Background()
	p := testLineConfig().Products[0]
	if err := bolt.NewProductService(db).CreateProduct(ctx, &p); err != nil {
		b.Fatal(err)
	}
	tmpl := exportTemplateBurs(&p)
	const perTx = 20_000
	for _, bt := range batches {
		batch := &mes.Batch{ID: bt.id, Product: p.ISO, Quantity: bt.n, Org: "acme", BlankLot: "CB-2026-017", State: mes.BatchQAReleased,
			Started: bt.n, Completed: bt.n, Created: tmpl[0].Created}
		for from := 0; from < bt.n; from += perTx {
			burs := make([]*mes.Bur, 0, perTx)
			for i := from; i < min(from+perTx, bt.n); i++ {
				burs = append(burs, exportBur(tmpl, bt.id, i))
			}
			if err := bolt.BulkLoadBurs(ctx, db, batch, burs); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("store of %v built in %v", batches, time.Since(start).Round(time.Millisecond))
	return db, tmpl
}

// exportBatch is a batch of the export store: its id and bur count.
type exportBatch struct {
	id string
	n  int
}

// memoryBurs yields the same burs as batch in the store, made from the
// templates with nothing kept between burs.
func memoryBurs(tmpl []*mes.Bur, batch string, n int) iter.Seq2[*mes.Bur, error] {
	return func(yield func(*mes.Bur, error) bool) {
		for i := range n {
			if !yield(exportBur(tmpl, batch, i), nil) {
				return
			}
		}
	}
}

func exportSource(db *bolt.DB) mes.TraceSource {
	sigs := bolt.NewSignatureService(db)
	return mes.TraceSource{Batches: bolt.NewBatchService(db), Products: bolt.NewProductService(db), Burs: bolt.NewBurService(db),
		NCs: bolt.NewNCService(db), Signatures: sigs, Audit: bolt.NewAuditService(db)}
}

// byteCounter counts bytes and drops them.
type byteCounter struct{ n int64 }

func (c *byteCounter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// rssWatch reports how far the process's peak resident set (VmHWM, reset
// through /proc/self/clear_refs) rose above its resident set before f, and
// the peak of its anonymous part (RssAnon, sampled every 5 ms): the store's
// file is memory-mapped, so pages of it that f reads count in the first
// (reclaimable page cache) but not in the second (heap and stacks).
func rssWatch(b *testing.B, f func()) {
	runtime.GC()
	debug.FreeOSMemory()
	base, anonBase := procKB("VmRSS"), procKB("RssAnon")
	reset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	var anonPeak atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if v := procKB("RssAnon"); v > anonPeak.Load() {
					anonPeak.Store(v)
				}
			}
		}
	}()
	f()
	close(stop)
	<-done
	if reset && base > 0 {
		b.ReportMetric(float64(max(procKB("VmHWM")-base, 0))/1024, "peak-RSS-growth-MB")
	}
	if anonBase > 0 {
		b.ReportMetric(float64(max(anonPeak.Load()-anonBase, 0))/1024, "peak-anon-RSS-growth-MB")
	}
}

func procKB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkStoreExportCSV100k writes the bur × operation CSV (500,000
// rows) of the 100,000-bur batch through BatchBurs and
// trace.WriteOperationsCSV. Target: ≥ 50 MB/s, peak RSS growth < 50 MB.
func BenchmarkStoreExportCSV100k(b *testing.B) {
	db, tmpl := openExportStore(b, exportBatch{"B000001", exportBurs})
	ctx := context.Background()
	src := exportSource(db)
	var sizes [2]int64
	for k, c := range []struct {
		name string
		burs func() iter.Seq2[*mes.Bur, error]
	}{
		{"store", func() iter.Seq2[*mes.Bur, error] { return src.Burs.BatchBurs(ctx, "B000001") }},
		{"memory", func() iter.Seq2[*mes.Bur, error] { return memoryBurs(tmpl, "B000001", exportBurs) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var w byteCounter
			rssWatch(b, func() {
				for b.Loop() {
					rec, _, err := src.TraceRecord(ctx, "B000001", time.UTC, time.Now())
					if err != nil {
						b.Fatal(err)
					}
					w.n = 0
					if err := trace.WriteOperationsCSV(ctx, &w, rec, c.burs()); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.SetBytes(w.n)
			b.ReportMetric(float64(w.n)/(1<<20), "MB-out")
			sizes[k] = w.n
		})
	}
	if sizes[0] != 0 && sizes[1] != 0 && sizes[0] != sizes[1] {
		b.Fatalf("store wrote %d bytes, memory %d: not the same rows", sizes[0], sizes[1])
	}
}

// BenchmarkStoreExportPDF1k renders the record of production of the
// 1,000-bur batch from the store, record hash included (the API computes
// it before every PDF). Target: < 2 s.
func BenchmarkStoreExportPDF1k(b *testing.B) {
	db, _ := openExportStore(b, exportBatch{"B000002", exportPDFBurs})
	ctx := context.Background()
	src := exportSource(db)
	var w byteCounter
	for b.Loop() {
		rec, burs, err := src.TraceRecord(ctx, "B000002", time.UTC, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if err := rec.ComputeRecordHash(burs); err != nil {
			b.Fatal(err)
		}
		w.n = 0
		if err := trace.WritePDF(ctx, &w, rec, burs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w.n)/(1<<20), "MB-out")
}
