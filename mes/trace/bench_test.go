package trace_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"iter"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/trace"
)

// synthBurs yields n burs of 5 operations each, made on the fly, as a
// store cursor would: nothing is kept between burs.
func synthBurs(rec *mes.TraceRecord, n int) iter.Seq2[*mes.Bur, error] {
	return func(yield func(*mes.Bur, error) bool) {
		for i := range n {
			if !yield(synthBur(rec, i), nil) {
				return
			}
		}
	}
}

// cycledBurs yields n burs cycling through 1,000 prepared ones with fresh
// serials, so a benchmark measures the export rather than making burs.
func cycledBurs(rec *mes.TraceRecord, n int) iter.Seq2[*mes.Bur, error] {
	tmpl := make([]*mes.Bur, 1000)
	for i := range tmpl {
		tmpl[i] = synthBur(rec, i)
	}
	serials := make([]string, n)
	for i := range serials {
		serials[i] = fmt.Sprintf("B000001-%06d", i+1)
	}
	return func(yield func(*mes.Bur, error) bool) {
		var b mes.Bur
		for i := range n {
			b = *tmpl[i%len(tmpl)]
			b.Serial, b.Seq = serials[i], i+1
			if !yield(&b, nil) {
				return
			}
		}
	}
}

func synthBur(rec *mes.TraceRecord, i int) *mes.Bur {
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	{
		{
			start := t0.Add(time.Duration(i) * 180 * time.Second)
			b := &mes.Bur{Serial: fmt.Sprintf("B000001-%06d", i+1), Batch: rec.Batch.ID, Product: rec.Product.ISO, Seq: i + 1,
				BlankLot: "CB-2026-017", Disposition: mes.BurGood, Created: start, Finished: start.Add(1100 * time.Second), NextOp: 5}
			for j := range 5 {
				s := start.Add(time.Duration(j*200) * time.Second)
				b.Operations = append(b.Operations, mes.OperationRecord{Number: 10 * (j + 1), Name: "Op" + strconv.Itoa(j+1),
					Machine: fmt.Sprintf("G%02d", 1+j*5+i%5), CycleSeq: uint64(i), Program: "O10" + strconv.Itoa(j), ProgramVersion: "7",
					ProgramHash: "sha256:9f2c41d0", WheelID: "W-" + strconv.Itoa(j*5+i%5), WheelWearUM: float64(i%40) * 0.25,
					DressCount: uint32(i / 40), Start: s, End: s.Add(171500 * time.Millisecond), CycleS: 171.5,
					PeakSpindleLoad: 60 + float64(i%9)/2, EnergyKWh: 0.12 + float64(i%7)/1000})
			}
			b.Measurement = &mes.Measurement{Seq: uint64(i), Serial: b.Serial, Station: "QC1", GaugeID: "GA-OPT-03",
				CalibrationDue: t0.AddDate(0, 6, 0), Time: b.Finished,
				Values: map[string]float64{mes.CharHeadDiameter: 1.4 + float64(i%9-4)/1000, mes.CharOverallLength: 19, mes.CharRadialRunout: 0.005}}
			b.Results, b.Disposition, _ = mes.Evaluate(&rec.Product, *b.Measurement)
			return b
		}
	}
}

// countingWriter counts bytes and drops them.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// memWatch samples the heap while f runs and reports the peak growth of the
// heap in use and of the process's resident set (VmHWM after resetting it).
func memWatch(b *testing.B, f func()) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	rssBase := procStatusKB("VmRSS")
	resetPeakRSS := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	growth := int64(peak.Load()) - int64(base)
	b.ReportMetric(float64(max(growth, 0))/(1<<20), "peak-heap-growth-MB")
	if resetPeakRSS && rssBase > 0 {
		b.ReportMetric(float64(max(procStatusKB("VmHWM")-rssBase, 0))/1024, "peak-RSS-growth-MB")
	}
}

func procStatusKB(field string) int64 {
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

const benchBurs = 100_000

// BenchmarkOperationsCSV100k exports the bur × operation CSV of a
// 100,000-bur batch (500,000 rows). Target: ≥ 50 MB/s, growth < 50 MB.
func BenchmarkOperationsCSV100k(b *testing.B) {
	rec, _ := fixtureRecord(b, 3)
	var w countingWriter
	burs := cycledBurs(rec, benchBurs)
	memWatch(b, func() {
		for b.Loop() {
			w.n = 0
			if err := trace.WriteOperationsCSV(context.Background(), &w, rec, burs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.SetBytes(w.n)
	b.ReportMetric(float64(w.n)/(1<<20), "MB-out")
}

// BenchmarkMeasurementsCSV100k exports the measurements CSV of the same batch.
func BenchmarkMeasurementsCSV100k(b *testing.B) {
	rec, _ := fixtureRecord(b, 3)
	var w countingWriter
	burs := cycledBurs(rec, benchBurs)
	memWatch(b, func() {
		for b.Loop() {
			w.n = 0
			if err := trace.WriteMeasurementsCSV(context.Background(), &w, rec, burs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.SetBytes(w.n)
}

// BenchmarkCycledBurs100k is the baseline: producing the burs alone.
func BenchmarkCycledBurs100k(b *testing.B) {
	rec, _ := fixtureRecord(b, 3)
	burs := cycledBurs(rec, benchBurs)
	for b.Loop() {
		for range burs {
		}
	}
}

// BenchmarkEncodingCSV500kRows is the baseline for the writer itself:
// encoding/csv writing 500,000 prepared rows of the same width.
func BenchmarkEncodingCSV500kRows(b *testing.B) {
	row := []string{"B000001", "B000001-000001", "(11)260302(10)B000001(21)B000001-000001", "10", "Op1", "G01", "1",
		"O100", "7", "sha256:9f2c41d0", "W-0", "0", "0.25", "2026-03-02T00:00:00.000Z", "2026-03-02T00:02:51.500Z",
		"171.5", "60.5", "0.121", "false", "good"}
	var w countingWriter
	for b.Loop() {
		w.n = 0
		cw := csv.NewWriter(&w)
		for range 5 * benchBurs {
			cw.Write(row)
		}
		cw.Flush()
	}
	b.SetBytes(w.n)
}

// BenchmarkJSON100k streams the JSON record of a 100,000-bur batch.
func BenchmarkJSON100k(b *testing.B) {
	rec, _ := fixtureRecord(b, 3)
	var w countingWriter
	burs := cycledBurs(rec, benchBurs)
	memWatch(b, func() {
		for b.Loop() {
			w.n = 0
			if err := trace.WriteJSON(context.Background(), &w, rec, burs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.SetBytes(w.n)
}

// BenchmarkPDF1000 renders the record of production of a 1,000-bur batch.
// Target: < 2 s.
func BenchmarkPDF1000(b *testing.B) {
	rec, _ := fixtureRecord(b, 3)
	var w countingWriter
	for b.Loop() {
		w.n = 0
		if err := trace.WritePDF(context.Background(), &w, rec, synthBurs(rec, 1000)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w.n)/(1<<20), "MB-out")
}

// BenchmarkBundle1000 writes the whole bundle of a 1,000-bur batch, and
// BenchmarkVerifyBundle1000 checks it.
func BenchmarkBundle1000(b *testing.B) {
	rec, _ := fixtureRecord(b, 3)
	for b.Loop() {
		if err := trace.WriteBundle(context.Background(), io.Discard, rec, synthBurs(rec, 1000)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyBundle1000(b *testing.B) {
	rec, _ := fixtureRecord(b, 3)
	rec.RecordHash, rec.Signatures = "", nil // the fixture's signatures are on other burs
	var buf strings.Builder
	if err := trace.WriteBundle(context.Background(), &buf, rec, synthBurs(rec, 1000)); err != nil {
		b.Fatal(err)
	}
	data := buf.String()
	for b.Loop() {
		rep, err := trace.VerifyBundle(strings.NewReader(data), int64(len(data)))
		if err != nil {
			b.Fatal(err, rep.Problems)
		}
	}
}

// auditPerBur yields one disposition audit entry per bur of burs, as the
// store holds them for a batch made by the line, made as they are read.
func auditPerBur(burs iter.Seq2[*mes.Bur, error]) iter.Seq2[mes.AuditEntry, error] {
	return func(yield func(mes.AuditEntry, error) bool) {
		seq := uint64(0)
		for b, err := range burs {
			if err != nil {
				yield(mes.AuditEntry{}, err)
				return
			}
			seq++
			e := mes.BurAuditEntry(b, "system", b.Created)
			e.Seq = seq
			if !yield(e, nil) {
				return
			}
		}
	}
}

// BenchmarkJSON100kAudited writes the JSON record of a 100,000-bur batch
// with one audit entry per bur, streamed from an iterator as
// mes.TraceSource gives them: memory stays flat however long the trail.
func BenchmarkJSON100kAudited(b *testing.B) {
	rec, _ := fixtureRecord(b, 3)
	burs := cycledBurs(rec, benchBurs)
	cp := *rec
	cp.Audit, cp.AuditEntries = nil, auditPerBur(burs)
	var w countingWriter
	memWatch(b, func() {
		for b.Loop() {
			w.n = 0
			if err := trace.WriteJSON(context.Background(), &w, &cp, burs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.SetBytes(w.n)
	b.ReportMetric(float64(w.n)/(1<<20), "MB-out")
}
