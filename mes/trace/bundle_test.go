package trace_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/trace"
)

func writeBundle(t *testing.T) []byte {
	t.Helper()
	rec, burs := fixtureRecord(t, 6)
	var out bytes.Buffer
	require.NoError(t, trace.WriteBundle(context.Background(), &out, rec, slice(burs)))
	return out.Bytes()
}

// rezip copies a bundle, letting edit change, drop (return nil) or keep each file.
func rezip(t *testing.T, bundle []byte, edit func(name string, data []byte) []byte, extra map[string][]byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	require.NoError(t, err)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		if data = edit(f.Name, data); data == nil {
			continue
		}
		w, err := zw.Create(f.Name)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	for name, data := range extra {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return out.Bytes()
}

// withManifest rewrites the manifest to match the edited files, as a forger would.
func withManifest(t *testing.T, bundle []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	require.NoError(t, err)
	var m strings.Builder
	for _, f := range zr.File {
		if f.Name == trace.BundleManifest {
			continue
		}
		rc, err := f.Open()
		require.NoError(t, err)
		h := sha256.New()
		_, err = io.Copy(h, rc)
		require.NoError(t, err)
		fmt.Fprintf(&m, "%x  %s\n", h.Sum(nil), f.Name)
	}
	return rezip(t, bundle, func(name string, data []byte) []byte {
		if name == trace.BundleManifest {
			return []byte(m.String())
		}
		return data
	}, nil)
}

func verify(t *testing.T, bundle []byte) (*trace.BundleReport, error) {
	t.Helper()
	rep, err := trace.VerifyBundle(bytes.NewReader(bundle), int64(len(bundle)))
	require.NotNil(t, rep, "a readable bundle always gets a report")
	return rep, err
}

func TestBundle_VerifiesClean(t *testing.T) {
	bundle := writeBundle(t)
	rep, err := verify(t, bundle)
	require.NoError(t, err)
	assert.True(t, rep.OK)
	assert.Empty(t, rep.Problems)
	assert.Equal(t, "B000001", rep.Batch)
	assert.Equal(t, 6, rep.Burs)
	assert.Equal(t, 2, rep.Signatures)
	assert.Equal(t, 5, rep.AuditEntries)
	assert.Equal(t, uint64(7), rep.AuditHead.Seq)
	var names []string
	for _, f := range rep.Files {
		names = append(names, f.Name)
		assert.Equal(t, trace.FileOK, f.Status, f.Name)
	}
	assert.Equal(t, []string{"audit-head.json", "measurements.csv", "operations.csv", "record.json", "record.pdf"}, names)

	// The manifest is sha256sum's format.
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	require.NoError(t, err)
	for _, f := range zr.File {
		if f.Name == trace.BundleManifest {
			rc, _ := f.Open()
			data, _ := io.ReadAll(rc)
			assert.Regexp(t, `^([0-9a-f]{64}  [a-z.-]+\n){5}$`, string(data))
		}
	}
}

func TestBundle_Tamper(t *testing.T) {
	bundle := writeBundle(t)
	replace := func(file, old, new string) func(string, []byte) []byte {
		return func(name string, data []byte) []byte {
			if name == file {
				require.Contains(t, string(data), old, "fixture changed")
				return bytes.Replace(data, []byte(old), []byte(new), 1)
			}
			return data
		}
	}
	tests := []struct {
		name     string
		tampered []byte
		want     []string
	}{
		{"a CSV value edited", rezip(t, bundle, replace("operations.csv", ",171.5,", ",150,"), nil),
			[]string{"operations.csv altered"}},
		{"a CSV value edited and the manifest rewritten", withManifest(t, rezip(t, bundle, replace("measurements.csv", ",1.431,", ",1.419,"), nil)),
			[]string{"measurements.csv does not match record.json"}},
		{"a measurement in the JSON edited and the manifest rewritten", withManifest(t, rezip(t, bundle, replace("record.json", `"head_diameter":1.431`, `"head_diameter":1.419`), nil)),
			[]string{"record.json: content does not match its record hash", "signature S000001 (Wang Fang 王芳, reviewed): bound to record hash"}},
		{"a result in the JSON edited and the manifest rewritten", withManifest(t, rezip(t, bundle, replace("record.json", `"value_mm":1.431`, `"value_mm":1.419`), nil)),
			[]string{"record.json: content does not match its record hash", "measurements.csv does not match record.json"}},
		{"a signature's hash re-pointed at a forged record", withManifest(t, rezip(t, rezip(t, bundle,
			replace("record.json", `"head_diameter":1.431`, `"head_diameter":1.419`), nil), func(name string, data []byte) []byte {
			if name != "record.json" {
				return data
			}
			// The forger recomputes the record hash and points everything at it.
			var got []*mes.Bur
			rec, err := trace.ReadJSON(bytes.NewReader(data), func(b *mes.Bur) error { got = append(got, b); return nil })
			require.NoError(t, err)
			h, err := mes.BatchRecordHash(&rec.Batch, &rec.Product, rec.Nonconformances, slice(got))
			require.NoError(t, err)
			// Everywhere, including the signatures' audit entries…
			return bytes.ReplaceAll(data, []byte(rec.RecordHash), []byte(h))
		}, nil)),
			[]string{"audit entry seq 5 altered", "audit entry seq 6 altered"}},
		{"signatures re-pointed at a forged record, audit left alone", withManifest(t, rezip(t, rezip(t, bundle,
			replace("record.json", `"head_diameter":1.431`, `"head_diameter":1.419`), nil), func(name string, data []byte) []byte {
			if name != "record.json" {
				return data
			}
			var got []*mes.Bur
			rec, err := trace.ReadJSON(bytes.NewReader(data), func(b *mes.Bur) error { got = append(got, b); return nil })
			require.NoError(t, err)
			h, err := mes.BatchRecordHash(&rec.Batch, &rec.Product, rec.Nonconformances, slice(got))
			require.NoError(t, err)
			// …or only in the record and its two signatures (the first three occurrences).
			return bytes.Replace(data, []byte(rec.RecordHash), []byte(h), 3)
		}, nil)),
			[]string{"signature S000001 differs from its audit entry seq 5", "signature S000002 differs from its audit entry seq 6"}},
		{"a PDF byte changed", rezip(t, bundle, func(name string, data []byte) []byte {
			if name == "record.pdf" {
				data = bytes.Clone(data)
				data[len(data)/2] ^= 1
			}
			return data
		}, nil), []string{"record.pdf altered"}},
		{"a file removed", rezip(t, bundle, func(name string, data []byte) []byte {
			if name == "record.pdf" {
				return nil
			}
			return data
		}, nil), []string{"record.pdf missing from the bundle"}},
		{"a file added", rezip(t, bundle, func(_ string, data []byte) []byte { return data }, map[string][]byte{"note.txt": []byte("hi")}),
			[]string{"note.txt is not in the manifest"}},
		{"the manifest removed", rezip(t, bundle, func(name string, data []byte) []byte {
			if name == trace.BundleManifest {
				return nil
			}
			return data
		}, nil), []string{"manifest.sha256 missing"}},
		{"the chain head changed", withManifest(t, rezip(t, bundle, func(name string, data []byte) []byte {
			if name == trace.BundleAuditHead {
				return []byte(`{"seq": 9, "hash": "` + strings.Repeat("a", 64) + `"}`)
			}
			return data
		}, nil)), []string{"record.json head seq 7", "differs from audit-head.json seq 9"}},
		{"an audit entry's reason edited", withManifest(t, rezip(t, bundle, replace("record.json", `"reason":"head oversize, cannot be reworked","prev_hash"`, `"reason":"customer asked","prev_hash"`), nil)),
			[]string{"audit entry seq 4 altered"}},
		{"an audit entry removed", withManifest(t, rezip(t, bundle, func(name string, data []byte) []byte {
			if name != "record.json" {
				return data
			}
			var rec map[string]json.RawMessage
			line, rest, _ := bytes.Cut(data, []byte("\n"))
			require.NoError(t, json.Unmarshal(append(bytes.Clone(bytes.TrimSuffix(line, []byte(`,"burs":[`))), '}'), &rec))
			var audit []json.RawMessage
			require.NoError(t, json.Unmarshal(rec["audit"], &audit))
			old, _ := json.Marshal(audit)
			audit = append(audit[:2:2], audit[3:]...) // drop seq 4
			new, _ := json.Marshal(audit)
			require.Contains(t, string(line), string(old))
			return append(bytes.Replace(line, old, new, 1), append([]byte("\n"), rest...)...)
		}, nil)), []string{"audit entries of batch B000001 between seq 3 and 5 missing"}},
		{"the first audit entry removed", withManifest(t, rezip(t, bundle, func(name string, data []byte) []byte {
			if name != "record.json" {
				return data
			}
			i := bytes.Index(data, []byte(`"audit":[{`))
			j := bytes.Index(data[i:], []byte(`},{`))
			require.Positive(t, j)
			return append(bytes.Clone(data[:i+len(`"audit":[`)]), data[i+j+2:]...)
		}, nil)), []string{"audit entries of batch B000001 before seq 3 missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := verify(t, tt.tampered)
			require.Error(t, err)
			assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
			assert.False(t, rep.OK)
			all := strings.Join(rep.Problems, "\n")
			for _, w := range tt.want {
				assert.Contains(t, all, w)
			}
		})
	}
}

func TestVerifyBundle_NotAZip(t *testing.T) {
	_, err := trace.VerifyBundle(strings.NewReader("hello"), 5)
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
}
