package trace_test

import (
	"context"
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
