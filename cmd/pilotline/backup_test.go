package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
)

// TestBackup_FromFile copies a store and checks that the copy opens with
// its data, and that a failed backup leaves no output file behind.
func TestBackup_FromFile(t *testing.T) {
	data := t.TempDir()
	line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	db, err := bolt.Open(filepath.Join(data, "pilotline.db"), bolt.Options{})
	require.NoError(t, err)
	require.NoError(t, bolt.NewProductService(db).CreateProduct(context.Background(), &line.Products[0]))
	require.NoError(t, db.Close())

	out := filepath.Join(t.TempDir(), "copy.db")
	code, stdout, stderr := runCLI("backup", "--data", data, "-o", out)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "backup written: "+out)

	cp, err := bolt.Open(out, bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer cp.Close()
	p, err := bolt.NewProductService(cp).FindProduct(context.Background(), line.Products[0].ISO)
	require.NoError(t, err)
	assert.Equal(t, line.Products[0].Name, p.Name)

	missing := filepath.Join(t.TempDir(), "never.db")
	code, _, stderr = runCLI("backup", "--data", t.TempDir(), "-o", missing)
	assert.Equal(t, exitCannotOpen, code)
	assert.Contains(t, stderr, "no store at")
	_, err = os.Stat(missing)
	assert.True(t, os.IsNotExist(err), "no output after a failed backup")
}
