package trace_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pilotline/pilotline/mes/trace"
)

// BenchmarkVerifyBundleAudited1000 checks the bundle of a 1,000-bur batch
// from a plant that audits bur dispositions: 1,000 bur entries in the
// record, each bur checked against its own.
func BenchmarkVerifyBundleAudited1000(b *testing.B) {
	rec, burs := auditedRecord(b, 1000, auditedOpts{})
	var buf strings.Builder
	if err := trace.WriteBundle(context.Background(), &buf, rec, slice(burs)); err != nil {
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

// BenchmarkVerifyBundleAudited100k verifies the bundle of a 100,000-bur
// batch with one audit entry per bur: offline verification reads
// record.json's header line, the batch's audit entries with it, whole.
func BenchmarkVerifyBundleAudited100k(b *testing.B) {
	rec, burs := auditedRecord(b, benchBurs, auditedOpts{})
	f, err := os.Create(filepath.Join(b.TempDir(), "bundle.zip"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := trace.WriteBundle(context.Background(), f, rec, slice(burs)); err != nil {
		b.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	rec, burs = nil, nil
	runtime.GC()
	memWatch(b, func() {
		for b.Loop() {
			rep, err := trace.VerifyBundle(f, st.Size())
			if err != nil || len(rep.Problems) > 0 {
				b.Fatal(err, rep.Problems)
			}
		}
	})
	b.ReportMetric(float64(st.Size())/(1<<20), "bundle-MB")
}
