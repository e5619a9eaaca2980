package trace_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update once to create %s", path)
	if bytes.Equal(want, got) {
		return
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			t.Errorf("%s differs at line %d (if intended, run go test ./mes/trace -update):\nwant %.300q\ngot  %.300q", path, i+1, w, g)
			return
		}
	}
}

func TestWriteCSV_Golden(t *testing.T) {
	rec, burs := fixtureRecord(t, 6)
	ctx := context.Background()

	var ops bytes.Buffer
	require.NoError(t, trace.WriteOperationsCSV(ctx, &ops, rec, slice(burs)))
	golden(t, "operations.csv.golden", ops.Bytes())
	rows, err := csv.NewReader(bytes.NewReader(ops.Bytes())).ReadAll()
	require.NoError(t, err, "RFC 4180")
	require.Len(t, rows, 1+6*2, "header + one row per bur × operation")
	assert.Equal(t, trace.OperationColumns, rows[0])
	assert.Equal(t, []string{"B000001", "B000001-00002", "(11)260302(10)B000001(21)B000001-00002", "20", "Head", "G07", "1001",
		"O1020", "7", "sha256:a001", "W-11", "10", "1.25", "2026-03-02T00:06:20.000Z", "2026-03-02T00:09:11.500Z",
		"171.5", "63.5", "0.126", "false", "good"}, rows[4])
	assert.True(t, bytes.HasSuffix(ops.Bytes(), []byte("\r\n")))

	var meas bytes.Buffer
	require.NoError(t, trace.WriteMeasurementsCSV(ctx, &meas, rec, slice(burs)))
	golden(t, "measurements.csv.golden", meas.Bytes())
	rows, err = csv.NewReader(bytes.NewReader(meas.Bytes())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+6*3)
	assert.Equal(t, trace.MeasurementColumns, rows[0])
	assert.Equal(t, []string{"B000001", "B000001-00003", "head_diameter", "1.431", "1.4", "1.38", "1.42", "false",
		"QC1", "GA-OPT-03", "2026-09-30T00:00:00.000Z", "2026-03-02T00:13:10.000Z"}, rows[7])
}

func TestWriteMeasurementsCSV_UnevaluatedAndMissing(t *testing.T) {
	rec, burs := fixtureRecord(t, 3)
	burs = burs[:2]
	burs[0].Results = nil                                    // measured, not yet evaluated
	delete(burs[1].Measurement.Values, mes.CharRadialRunout) // the station did not report it
	burs[1].Results, _, _ = mes.Evaluate(&rec.Product, *burs[1].Measurement)
	var out bytes.Buffer
	require.NoError(t, trace.WriteMeasurementsCSV(context.Background(), &out, rec, slice(burs)))
	rows, err := csv.NewReader(&out).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+3+3)
	assert.Equal(t, "head_diameter", rows[1][2], "evaluated on the fly against the product")
	assert.Equal(t, "true", rows[1][7])
	last := rows[6]
	assert.Equal(t, []string{"radial_runout", "", "false"}, []string{last[2], last[3], last[7]}, "missing value: empty and failed")
}

func TestWriteJSON_GoldenAndReadBack(t *testing.T) {
	rec, burs := fixtureRecord(t, 6)
	var out bytes.Buffer
	require.NoError(t, trace.WriteJSON(context.Background(), &out, rec, slice(burs)))
	golden(t, "record.json.golden", out.Bytes())

	var got []*mes.Bur
	back, err := trace.ReadJSON(bytes.NewReader(out.Bytes()), func(b *mes.Bur) error { got = append(got, b); return nil })
	require.NoError(t, err)
	require.Len(t, got, 6)
	assert.Equal(t, rec.Batch.ID, back.Batch.ID)
	assert.Equal(t, "500314001001014", back.Product.ISO)
	assert.Equal(t, "04012345000016", back.UDIDI)
	assert.Equal(t, rec.Quantities, back.Quantities)
	assert.Len(t, back.Signatures, 2)
	assert.Len(t, back.Audit, 5)
	assert.Equal(t, rec.AuditHead.Hash, back.AuditHead.Hash)
	assert.Equal(t, burs[2].Results, got[2].Results)

	// The record hash survives the JSON round trip: signatures stay bound.
	h, err := mes.BatchRecordHash(&back.Batch, &back.Product, back.Nonconformances, slice(got))
	require.NoError(t, err)
	assert.Equal(t, rec.RecordHash, h)
	for _, s := range back.Signatures {
		assert.NoError(t, s.VerifyBinding(h))
	}
}

func TestReadJSON_Invalid(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"schema":"other"}`, `{"schema":"pilotline.trace-record/v1","burs":{}}`, `{"burs":[{"seq":"x"}]}`} {
		_, err := trace.ReadJSON(strings.NewReader(in), func(*mes.Bur) error { return nil })
		assert.Equal(t, mes.EINVALID, mes.ErrorCode(err), in)
	}
}

func TestWriters_StopOnErrors(t *testing.T) {
	rec, burs := fixtureRecord(t, 3)
	boom := errors.New("store closed")
	failing := func(yield func(*mes.Bur, error) bool) {
		if yield(burs[0], nil) {
			yield(nil, boom)
		}
	}
	writers := map[string]func(context.Context, *bytes.Buffer) error{
		"operations": func(ctx context.Context, w *bytes.Buffer) error {
			return trace.WriteOperationsCSV(ctx, w, rec, failing)
		},
		"measurements": func(ctx context.Context, w *bytes.Buffer) error {
			return trace.WriteMeasurementsCSV(ctx, w, rec, failing)
		},
		"json":   func(ctx context.Context, w *bytes.Buffer) error { return trace.WriteJSON(ctx, w, rec, failing) },
		"pdf":    func(ctx context.Context, w *bytes.Buffer) error { return trace.WritePDF(ctx, w, rec, failing) },
		"bundle": func(ctx context.Context, w *bytes.Buffer) error { return trace.WriteBundle(ctx, w, rec, failing) },
	}
	for name, write := range writers {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			assert.ErrorIs(t, write(context.Background(), &out), boom)
		})
	}

	// A cancelled export stops within checkEvery burs.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	many := func(yield func(*mes.Bur, error) bool) {
		for range 10000 {
			if !yield(burs[0], nil) {
				return
			}
		}
	}
	var out bytes.Buffer
	assert.ErrorIs(t, trace.WriteOperationsCSV(ctx, &out, rec, many), context.Canceled)
	assert.Less(t, out.Len(), 10000*100)
}

func TestAppendISOMillis(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 3, 2, 8, 5, 9, 7_000_000, time.FixedZone("CST", 8*3600)),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(12026, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		assert.Equal(t, tm.UTC().Format("2006-01-02T15:04:05.000Z07:00"), trace.FormatTime(tm))
	}
	assert.Equal(t, "", trace.FormatTime(time.Time{}))
}
