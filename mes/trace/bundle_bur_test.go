package trace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/trace"
)

// burEntrySeq is the seq of serial's bur entry in rec.
func burEntrySeq(t *testing.T, rec *mes.TraceRecord, serial string) uint64 {
	t.Helper()
	for _, e := range rec.Audit {
		if e.ObjectType == mes.AuditObjectBur && e.ObjectID == serial {
			return e.Seq
		}
	}
	require.Failf(t, "no bur entry", "serial %s", serial)
	return 0
}

func bundleOf(t *testing.T, rec *mes.TraceRecord, burs []*mes.Bur) []byte {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, trace.WriteBundle(context.Background(), &out, rec, slice(burs)))
	return out.Bytes()
}

func TestVerifyBundle_BurAuditClean(t *testing.T) {
	tests := []struct {
		name                   string
		opts                   auditedOpts
		wantChecked, unaudited int
	}{
		{"signed, every bur finished", auditedOpts{}, 6, 0},
		{"unsigned", auditedOpts{unsigned: true}, 6, 0},
		{"two burs still in process", auditedOpts{inProcess: 2}, 4, 0},
		{"two burs finished before the plant audited burs", auditedOpts{unaudited: 2}, 4, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, burs := auditedRecord(t, 6, tt.opts)
			rep, err := verify(t, bundleOf(t, rec, burs))
			require.NoError(t, err, "problems: %v", rep.Problems)
			assert.True(t, rep.OK)
			assert.Equal(t, 6, rep.Burs)
			assert.Equal(t, tt.wantChecked, rep.BursChecked)
			assert.Equal(t, tt.unaudited, rep.UnauditedBurs)
			assert.Equal(t, len(rec.Audit), rep.AuditEntries)
		})
	}

	t.Run("a record without bur entries checks none", func(t *testing.T) {
		rep, err := verify(t, writeBundle(t))
		require.NoError(t, err)
		assert.Zero(t, rep.BursChecked)
		assert.Equal(t, 6, rep.UnauditedBurs)
	})
}

// TestVerifyBundle_BurForged rebuilds a bundle whole from forged burs:
// manifest, CSVs, PDF and record hash all match them, and the batch's
// audit entries and chain head are the plant's. Only the burs' audit
// entries can tell.
func TestVerifyBundle_BurForged(t *testing.T) {
	const serial = "B000001-00002"
	tests := []struct {
		name  string
		opts  auditedOpts
		forge func(burs []*mes.Bur) []*mes.Bur
		want  func(rec *mes.TraceRecord) string
	}{
		{"disposition changed", auditedOpts{}, func(burs []*mes.Bur) []*mes.Bur {
			burs[1].Disposition = mes.BurRework
			return burs
		}, func(rec *mes.TraceRecord) string {
			return "bur " + serial + " differs from its audit entry seq " + itoa(burEntrySeq(t, rec, serial))
		}},
		{"measurement value changed", auditedOpts{}, func(burs []*mes.Bur) []*mes.Bur {
			burs[1].Measurement.Values[mes.CharHeadDiameter] = 1.401
			return burs
		}, func(rec *mes.TraceRecord) string {
			return "bur " + serial + " differs from its audit entry seq " + itoa(burEntrySeq(t, rec, serial))
		}},
		{"operation's grinder changed", auditedOpts{}, func(burs []*mes.Bur) []*mes.Bur {
			burs[1].Operations[0].Machine = "G09"
			return burs
		}, func(rec *mes.TraceRecord) string {
			return "bur " + serial + " differs from its audit entry seq " + itoa(burEntrySeq(t, rec, serial))
		}},
		{"operation removed", auditedOpts{}, func(burs []*mes.Bur) []*mes.Bur {
			burs[1].Operations = burs[1].Operations[1:]
			return burs
		}, func(rec *mes.TraceRecord) string {
			return "bur " + serial + " has 1 operations but its audit entry seq " + itoa(burEntrySeq(t, rec, serial)) + " recorded 2"
		}},
		{"bur in process made good", auditedOpts{inProcess: 1}, func(burs []*mes.Bur) []*mes.Bur {
			good := fixtureBur(t, 6)
			good.Serial = burs[5].Serial
			burs[5] = good
			return burs
		}, func(*mes.TraceRecord) string {
			return "bur B000001-00006 is good but has no audit entry of its disposition"
		}},
		{"bur removed", auditedOpts{}, func(burs []*mes.Bur) []*mes.Bur {
			return slices.Delete(burs, 3, 4)
		}, func(rec *mes.TraceRecord) string {
			return "bur B000001-00004 of audit entry seq " + itoa(burEntrySeq(t, rec, "B000001-00004")) + " is not in record.json"
		}},
		{"bur duplicated", auditedOpts{}, func(burs []*mes.Bur) []*mes.Bur {
			return append(burs, burs[1])
		}, func(*mes.TraceRecord) string {
			return "bur " + serial + " is in record.json more than once"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.unsigned = true // a signature would bind the original record hash
			rec, burs := auditedRecord(t, 6, tt.opts)
			forged := tt.forge(cloneBurs(t, burs))
			rec.RecordHash = ""
			rep, err := verify(t, bundleOf(t, rec, forged))
			require.Error(t, err)
			assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
			assert.False(t, rep.OK)
			require.Len(t, rep.Problems, 1, "only the bur audit check can tell: %v", rep.Problems)
			assert.Contains(t, rep.Problems[0], tt.want(rec))
		})
	}
}

// TestVerifyBundle_FieldRepeatedAfterBurs appends a second value of a
// field after the burs: JSON readers take the last one, the checks the
// header line's.
func TestVerifyBundle_FieldRepeatedAfterBurs(t *testing.T) {
	rec, burs := auditedRecord(t, 6, auditedOpts{})
	bundle := bundleOf(t, rec, burs)
	tests := []struct {
		name, field string
		value       func() any
	}{
		{"nonconformances", "nonconformances", func() any {
			ncs := slices.Clone(rec.Nonconformances)
			ncs[0].Reason = "accepted by the customer"
			return ncs
		}},
		{"audit", "audit", func() any {
			audit := slices.Clone(rec.Audit)
			audit[0].Reason = "edited"
			return audit
		}},
		{"audit, the same again", "audit", func() any { return rec.Audit }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value, err := json.Marshal(tt.value())
			require.NoError(t, err)
			tampered := withManifest(t, rezip(t, bundle, func(name string, data []byte) []byte {
				if name != trace.BundleJSON {
					return data
				}
				require.True(t, bytes.HasSuffix(data, []byte("]}\n")))
				return append(bytes.TrimSuffix(data, []byte("]}\n")), []byte(`],"`+tt.field+`":`+string(value)+"}\n")...)
			}, nil))
			rep, err := verify(t, tampered)
			require.Error(t, err)
			assert.Contains(t, strings.Join(rep.Problems, "\n"), "record.json: fields repeated after the burs")
		})
	}
}

func fixtureBur(t *testing.T, n int) *mes.Bur {
	t.Helper()
	_, burs := fixtureRecord(t, n)
	return burs[n-1]
}

func cloneBurs(t *testing.T, burs []*mes.Bur) []*mes.Bur {
	t.Helper()
	out := make([]*mes.Bur, len(burs))
	for i, b := range burs {
		data, err := json.Marshal(b)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &out[i]))
	}
	return out
}

func itoa(n uint64) string {
	data, _ := json.Marshal(n)
	return string(data)
}

// TestVerifyBundle_AuditMovedAfterBurs moves the audit entries from the
// header line to after the burs: what JSON readers see is not what was
// verified.
func TestVerifyBundle_AuditMovedAfterBurs(t *testing.T) {
	rec, burs := auditedRecord(t, 6, auditedOpts{})
	bundle := bundleOf(t, rec, burs)
	tampered := withManifest(t, rezip(t, bundle, func(name string, data []byte) []byte {
		if name != trace.BundleJSON {
			return data
		}
		line, rest, ok := bytes.Cut(data, []byte("\n"))
		require.True(t, ok)
		head, audit, ok := bytes.Cut(line, []byte(`,"audit":`))
		require.True(t, ok)
		audit, ok = bytes.CutSuffix(audit, []byte(`,"burs":[`))
		require.True(t, ok)
		rest, ok = bytes.CutSuffix(rest, []byte("]}\n"))
		require.True(t, ok)
		out := append(append(bytes.Clone(head), []byte(`,"burs":[`+"\n")...), rest...)
		return append(out, []byte(`],"audit":`+string(audit)+"}\n")...)
	}, nil))
	rep, err := verify(t, tampered)
	require.Error(t, err)
	assert.Contains(t, strings.Join(rep.Problems, "\n"), "record.json: fields repeated after the burs (content appended): audit")
}
