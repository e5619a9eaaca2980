package ui

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
)

// openBackend opens a real store in a temporary directory; the test
// server runs on it. (Only the tests reach into mes/bolt; the ui package
// itself speaks the mes interfaces.)
func openBackend(tb testing.TB, line *mes.LineConfig) backend {
	tb.Helper()
	db, err := bolt.Open(filepath.Join(tb.TempDir(), "pilotline.db"), bolt.Options{
		SerialPattern: line.SerialPattern,
		MaxDelay:      time.Millisecond,
		Line:          mes.LineClockFrom(func() time.Time { return testNow }), Wall: mes.NewWallClock(func() time.Time { return testNow }),
	})
	require.NoError(tb, err)
	tb.Cleanup(func() { assert.NoError(tb, db.Close()) })
	return backend{
		Products: bolt.NewProductService(db), Batches: bolt.NewBatchService(db), Burs: bolt.NewBurService(db),
		Events: bolt.NewEventStore(db), Backup: db,
	}
}

// access is the account store of a test server.
type access struct {
	Users    *bolt.UserService
	Orgs     *bolt.OrgService
	Sessions *bolt.SessionService
	Tokens   *bolt.TokenService
	Audit    *bolt.AuditService
}

// openAccess opens an account store in a temporary directory.
func openAccess(tb testing.TB, now func() time.Time) access {
	tb.Helper()
	db, err := bolt.Open(filepath.Join(tb.TempDir(), "access.db"), bolt.Options{Line: mes.LineClockFrom(now), Wall: mes.NewWallClock(now), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(tb, err)
	tb.Cleanup(func() { assert.NoError(tb, db.Close()) })
	return access{Users: bolt.NewUserService(db), Orgs: bolt.NewOrgService(db), Sessions: bolt.NewSessionService(db),
		Tokens: bolt.NewTokenService(db), Audit: bolt.NewAuditService(db)}
}

// checkBackup checks that a streamed backup is a store that opens and
// holds the product iso.
func checkBackup(tb testing.TB, data []byte, iso string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "backup.db")
	require.NoError(tb, os.WriteFile(path, data, 0o600))
	db, err := bolt.Open(path, bolt.Options{ReadOnly: true})
	require.NoError(tb, err)
	defer db.Close()
	p, err := bolt.NewProductService(db).FindProduct(context.Background(), iso)
	require.NoError(tb, err)
	assert.Equal(tb, iso, p.ISO)
}
