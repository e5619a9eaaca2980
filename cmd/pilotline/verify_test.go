package main

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
)

// signedStore writes a store holding one batch of 3 burs, one of which
// failed (its NC scrapped), released with an e-signature, and returns its
// data directory. The store is closed, as after `pilotline serve` stops.
func signedStore(t *testing.T) string {
	t.Helper()
	return writeStore(t, true)
}

// writeStore is signedStore, with the NC disposed and the batch signed
// only when sign is set: otherwise the batch stays completed with its NC open.
func writeStore(t *testing.T, sign bool) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	db, err := bolt.Open(filepath.Join(dir, "pilotline.db"), bolt.Options{Line: mes.LineClockFrom(func() time.Time { return t0 }), Wall: mes.NewWallClock(func() time.Time { return t0 })})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	p := line.Products[0]
	require.NoError(t, bolt.NewProductService(db).CreateProduct(ctx, &p))
	batches, burs := bolt.NewBatchService(db), bolt.NewBurService(db)
	b := &mes.Batch{Product: p.ISO, Quantity: 3, Org: "acme", BlankLot: "LOT-1", State: mes.BatchReleased}
	require.NoError(t, batches.CreateBatch(ctx, b))
	for i := 1; i <= 3; i++ {
		bur, err := burs.StartBur(ctx, b.ID, t0)
		require.NoError(t, err)
		for j, op := range p.Route {
			start := t0.Add(time.Duration(i*10+j) * time.Minute)
			_, err := burs.CompleteOperation(ctx, "M-"+op.Group, mes.Cycle{Seq: uint64(i*100 + j), Serial: bur.Serial,
				Program: op.Program, ProgramVersion: op.ProgramVersion, Start: start, End: start.Add(time.Minute)})
			require.NoError(t, err)
		}
		v := map[string]float64{}
		for ch, tol := range p.Tolerances {
			v[ch] = tol.Nominal + float64(i-2)*(tol.Upper-tol.Nominal)/10
		}
		if i == 2 {
			for ch, tol := range p.Tolerances {
				v[ch] = tol.Upper * 2
				break
			}
		}
		_, err = burs.RecordMeasurement(ctx, mes.Measurement{Seq: uint64(i), Serial: bur.Serial, Station: "QC1", GaugeID: "GA-1",
			Time: t0.Add(time.Duration(i) * time.Hour), Values: v})
		require.NoError(t, err)
	}
	if !sign {
		return dir
	}
	ncs := bolt.NewNCService(db)
	list, err := ncs.ListNCs(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	_, err = ncs.CloseNC(ctx, list[0].ID, mes.DispositionScrap, "oversize", "", "qa1", t0.Add(24*time.Hour))
	require.NoError(t, err)
	_, err = bolt.NewSignatureService(db).SignBatch(ctx, &mes.Signature{SignerID: "qa1", PrintedName: "Li Wei", Meaning: mes.MeaningReleased,
		SignedAt: t0.Add(25 * time.Hour), RecordID: b.ID, AuthMethod: mes.AuthPassword})
	require.NoError(t, err)
	return dir
}

// editBolt rewrites the value at key in bucket with edit, straight in the file.
func editBolt(t *testing.T, dir, bucket string, edit func(k, v []byte) []byte) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, "pilotline.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		changed := map[string][]byte{}
		require.NoError(t, b.ForEach(func(k, v []byte) error {
			if nv := edit(k, v); nv != nil {
				changed[string(k)] = nv
			}
			return nil
		}))
		require.NotEmpty(t, changed, "nothing edited in %s", bucket)
		for k, v := range changed {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	}))
}

// editBur is an edit for editBolt that changes the bur whose serial ends
// in suffix as a value: burs are stored in a binary encoding.
func editBur(t *testing.T, suffix string, change func(b *mes.Bur)) func(k, v []byte) []byte {
	return func(k, v []byte) []byte {
		if !strings.HasSuffix(string(k), suffix) {
			return nil
		}
		b, err := bolt.DecodeBur(v)
		require.NoError(t, err)
		change(b)
		nv, err := bolt.EncodeBur(b)
		require.NoError(t, err)
		return nv
	}
}

func TestVerify_Store(t *testing.T) {
	tests := []struct {
		name   string
		bucket string
		edit   func(k, v []byte) []byte
		want   string
	}{
		{"bur measurement", "burs", editBur(t, "-00003", func(b *mes.Bur) { b.Measurement.GaugeID = "GA-9" }), "no longer matches the stored record"},
		{"audit entry", "audit", func(k, v []byte) []byte {
			if bytes.Contains(v, []byte(`"reason":"scrap: oversize"`)) {
				return bytes.Replace(v, []byte(`"reason":"scrap: oversize"`), []byte(`"reason":"scrap: chipped"`), 1)
			}
			return nil
		}, "content does not match its hash"},
		{"nc disposition", "ncs", func(k, v []byte) []byte {
			return bytes.Replace(v, []byte(`"disposition":"scrap"`), []byte(`"disposition":"use_as_is"`), 1)
		}, "differs from its audit entry"},
		{"signature", "signatures", func(k, v []byte) []byte {
			return bytes.Replace(v, []byte(`"printed_name":"Li Wei"`), []byte(`"printed_name":"Wang Fang"`), 1)
		}, "differs from its audit entry"},
		{"entry renumbered", "audit", func(k, v []byte) []byte {
			if bytes.Contains(v, []byte(`"action":"create","object_type":"nc"`)) {
				return bytes.Replace(v, []byte(`"seq":`), []byte(`"seq":1`), 1)
			}
			return nil
		}, "audit chain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := signedStore(t)
			code, out, errOut := runCLI("verify", "--data", dir)
			require.Equal(t, 0, code, "clean store: %s %s", out, errOut)
			assert.Contains(t, out, "OK: no alteration found")

			editBolt(t, dir, tt.bucket, tt.edit)
			code, out, errOut = runCLI("verify", "--data", dir)
			assert.Equal(t, 1, code, "%s %s", out, errOut)
			assert.Contains(t, out, "ALTERED")
			assert.Contains(t, out, tt.want)
			assert.Contains(t, errOut, "verification failed")
		})
	}
}

// TestVerify_UnsignedBatch: a bur altered in the file is found by its own
// audit entry, before any signature binds the batch.
func TestVerify_UnsignedBatch(t *testing.T) {
	tests := []struct {
		name string
		edit func(k, v []byte) []byte
		want string
	}{
		{"gauge", editBur(t, "-00003", func(b *mes.Bur) { b.Measurement.GaugeID = "GA-9" }), "bur B000001-00003 differs from its audit entry"},
		{"scrap made good", editBur(t, "-00002", func(b *mes.Bur) { b.Disposition = mes.BurGood }), "bur B000001-00002 differs from its audit entry"},
		{"program version", editBur(t, "-00001", func(b *mes.Bur) { b.Operations[0].ProgramVersion = "9" + b.Operations[0].ProgramVersion }),
			"bur B000001-00001 differs from its audit entry"},
		{"measured value", editBur(t, "-00001", func(b *mes.Bur) { b.Measurement.Values["x"] = 1 }), "bur B000001-00001 differs from its audit entry"},
		{"undecodable", func(k, v []byte) []byte {
			if strings.HasSuffix(string(k), "-00002") {
				return append(bytes.Clone(v), 0) // a trailing byte no encoding allows
			}
			return nil
		}, "burs of batch B000001 unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeStore(t, false)
			code, out, errOut := runCLI("verify", "--data", dir)
			require.Equal(t, 0, code, "clean store: %s %s", out, errOut)
			assert.Contains(t, out, "3 burs checked")
			assert.Contains(t, out, "0 signature(s)")

			editBolt(t, dir, "burs", tt.edit)
			code, out, errOut = runCLI("verify", "--data", dir)
			assert.Equal(t, 1, code, "%s %s", out, errOut)
			assert.Contains(t, out, "ALTERED")
			assert.Contains(t, out, tt.want)
			assert.Contains(t, errOut, "verification failed")
		})
	}
}

func TestVerify_Usage(t *testing.T) {
	for _, args := range [][]string{{"verify", "--nope"}, {"verify", "--data", "x", "--bundle", "y"}, {"verify", "extra"}} {
		code, _, _ := runCLI(args...)
		assert.Equal(t, 2, code, "%v", args)
	}
	code, _, errOut := runCLI("verify", "--data", t.TempDir())
	assert.Equal(t, exitCannotOpen, code, "no store is not an altered store")
	assert.Contains(t, errOut, "no store")
}

func TestExportAndVerifyBundle(t *testing.T) {
	dir := signedStore(t)
	out := t.TempDir()
	for _, f := range []struct{ format, starts string }{
		{"csv", "batch,serial,"}, {"measurements", "batch,serial,characteristic"}, {"json", `{"schema":`}, {"pdf", "%PDF-"}, {"bundle", "PK"},
	} {
		path := filepath.Join(out, f.format)
		code, stdout, stderr := runCLI("export", "--data", dir, "--batch", "B000001", "--format", f.format, "-o", path)
		require.Equal(t, 0, code, "%s %s", stdout, stderr)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(data, []byte(f.starts)), "%s starts %q", f.format, data[:min(len(data), 20)])
	}
	bundle := filepath.Join(out, "bundle")
	code, stdout, stderr := runCLI("verify", "--bundle", bundle)
	require.Equal(t, 0, code, "%s %s", stdout, stderr)
	assert.Contains(t, stdout, "batch B000001, 3 burs (3 checked against their audit entry), 1 signature(s)")

	// Tampered: a gauge id changed everywhere in record.json, in the burs
	// and in the audit entries of their dispositions.
	tampered := filepath.Join(out, "tampered.zip")
	rezipFile(t, bundle, tampered, func(name string, data []byte) []byte {
		if name == "record.json" {
			return bytes.ReplaceAll(data, []byte(`"gauge_id":"GA-1"`), []byte(`"gauge_id":"GA-2"`))
		}
		return data
	})
	code, stdout, _ = runCLI("verify", "--bundle", tampered)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "record.json altered")
	assert.Contains(t, stdout, "does not match its record hash")
	assert.Contains(t, stdout, "content does not match its hash", "the disposition's audit entry too")

	for _, args := range [][]string{
		{"export", "--batch", "B000001", "-o", "x", "--format", "xml"},
		{"export", "--format", "csv", "-o", "x"},
		{"export", "--batch", "B000001", "--format", "csv"},
		{"export", "--batch", "B000001", "-o", "x", "--url", "http://127.0.0.1:1"},
	} {
		t.Setenv("PILOTLINE_TOKEN", "")
		code, _, _ := runCLI(args...)
		assert.Equal(t, 2, code, "%v", args)
	}
	code, _, errOut := runCLI("export", "--data", dir, "--batch", "B000077", "-o", filepath.Join(out, "none"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not found")
}

// rezipFile copies a zip, passing each file's content through edit.
func rezipFile(t *testing.T, from, to string, edit func(name string, data []byte) []byte) {
	t.Helper()
	zr, err := zip.OpenReader(from)
	require.NoError(t, err)
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		w, err := zw.Create(f.Name)
		require.NoError(t, err)
		_, err = w.Write(edit(f.Name, data))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(to, buf.Bytes(), 0o600))
}
