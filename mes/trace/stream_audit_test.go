package trace_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/trace"
)

// A record assembled from the store streams its audit entries
// (TraceRecord.AuditEntries) instead of holding them: every writer takes
// them from the iterator, the same record as from the slice.
func TestWriters_StreamAuditEntries(t *testing.T) {
	rec, burs := fixtureRecord(t, 6)
	require.NotEmpty(t, rec.Audit)
	entries := rec.Audit
	ranged := 0
	streamed := *rec
	streamed.Audit = nil
	streamed.AuditEntries = func(yield func(mes.AuditEntry, error) bool) {
		ranged++
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
	}
	ctx := context.Background()

	var want, got bytes.Buffer
	require.NoError(t, trace.WriteJSON(ctx, &want, rec, slice(burs)))
	require.NoError(t, trace.WriteJSON(ctx, &got, &streamed, slice(burs)))
	assert.Equal(t, want.String(), got.String(), "same bytes from the iterator as from the slice")
	back, err := trace.ReadJSON(bytes.NewReader(got.Bytes()), func(*mes.Bur) error { return nil })
	require.NoError(t, err)
	assert.Equal(t, entries, back.Audit)
	assert.Nil(t, back.AuditEntries)

	var pdf bytes.Buffer
	require.NoError(t, trace.WritePDF(ctx, &pdf, &streamed, slice(burs)))

	var bundle bytes.Buffer
	require.NoError(t, streamed.ComputeRecordHash(slice(burs)))
	require.NoError(t, trace.WriteBundle(ctx, &bundle, &streamed, slice(burs)))
	rep, err := trace.VerifyBundle(bytes.NewReader(bundle.Bytes()), int64(bundle.Len()))
	require.NoError(t, err)
	assert.Empty(t, rep.Problems)
	assert.Equal(t, len(entries), rep.AuditEntries)
	zr, err := zip.NewReader(bytes.NewReader(bundle.Bytes()), int64(bundle.Len()))
	require.NoError(t, err)
	assert.NotEmpty(t, zr.File)
	assert.GreaterOrEqual(t, ranged, 4, "ranged over again by each writer rather than kept")

	// A failing trail fails the export, named.
	streamed.AuditEntries = func(yield func(mes.AuditEntry, error) bool) {
		yield(mes.AuditEntry{}, errors.New("trail unreadable"))
	}
	err = trace.WriteJSON(ctx, &bytes.Buffer{}, &streamed, slice(burs))
	require.ErrorContains(t, err, "trail unreadable")
	err = trace.WritePDF(ctx, &bytes.Buffer{}, &streamed, slice(burs))
	require.ErrorContains(t, err, "trail unreadable")
}
