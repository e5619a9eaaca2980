package bolt_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a settable clock for store timestamps and retention.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// MustOpenDB opens a store in a temporary directory and closes it at cleanup.
func MustOpenDB(tb testing.TB, o bolt.Options) (*bolt.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "data", "pilotline.db")
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := bolt.Open(path, o)
	require.NoError(tb, err)
	tb.Cleanup(func() { db.Close() })
	return db, path
}

// testLine is the default line; its product has a five-operation route.
func testLine(tb testing.TB) *mes.LineConfig {
	tb.Helper()
	c, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(tb, err)
	return c
}

func testLineConfig() *mes.LineConfig {
	c, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	if err != nil {
		panic(err)
	}
	return c
}

// services bundles the services of one store.
type services struct {
	db       *bolt.DB
	products *bolt.ProductService
	batches  *bolt.BatchService
	burs     *bolt.BurService
	events   *bolt.EventStore
	product  mes.Product
	clock    *clock
}

func newServices(tb testing.TB) *services {
	tb.Helper()
	clk := newClock()
	db, _ := MustOpenDB(tb, bolt.Options{Line: mes.LineClockFrom(clk.Now), Wall: mes.NewWallClock(clk.Now)})
	s := &services{db: db, products: bolt.NewProductService(db), batches: bolt.NewBatchService(db),
		burs: bolt.NewBurService(db), events: bolt.NewEventStore(db), product: testLine(tb).Products[0], clock: clk}
	require.NoError(tb, s.products.CreateProduct(context.Background(), &s.product))
	return s
}

// releasedBatch creates a released batch of the test product.
func (s *services) releasedBatch(tb testing.TB, qty int, goodRequired bool) *mes.Batch {
	tb.Helper()
	b := &mes.Batch{Product: s.product.ISO, Quantity: qty, GoodRequired: goodRequired, Org: "Acme Dental", BlankLot: "LOT-2026-031", State: mes.BatchReleased}
	require.NoError(tb, s.batches.CreateBatch(context.Background(), b))
	return b
}

func TestOpen_SchemaAndReopen(t *testing.T) {
	ctx := context.Background()
	db, path := MustOpenDB(t, bolt.Options{})
	require.NoError(t, bolt.NewProductService(db).CreateProduct(ctx, ptr(testLine(t).Products[0])))
	require.NoError(t, db.Close())
	require.NoError(t, db.Close(), "Close twice is harmless")

	db2, err := bolt.Open(path, bolt.Options{})
	require.NoError(t, err)
	ps, err := bolt.NewProductService(db2).ListProducts(ctx)
	require.NoError(t, err)
	assert.Len(t, ps, 1, "data survives reopening")
	require.NoError(t, db2.Close())

	ro, err := bolt.Open(path, bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	err = bolt.NewProductService(ro).CreateProduct(ctx, ptr(testLine(t).Products[0]))
	assert.Error(t, err, "a read-only store refuses writes")
	var buf bytes.Buffer
	n, err := ro.Backup(ctx, &buf)
	require.NoError(t, err)
	assert.EqualValues(t, buf.Len(), n)
}

func TestOpen_BadOptions(t *testing.T) {
	dir := t.TempDir()
	_, err := bolt.Open(filepath.Join(dir, "a.db"), bolt.Options{SerialPattern: "{batch}"})
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
	_, err = bolt.Open(filepath.Join(dir, "b.db"), bolt.Options{MaxDelay: -time.Second})
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
}

func TestBackup_ConsistentCopyWhileWriting(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	b := s.releasedBatch(t, 100, false)
	for range 10 {
		_, err := s.burs.StartBur(ctx, b.ID, time.Time{})
		require.NoError(t, err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the line keeps running during the backup
		defer wg.Done()
		for i := uint64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			assert.NoError(t, s.events.Publish(ctx, mes.MachineEvent{Machine: "G01", Kind: mes.EventCounter, Counter: i, SourceTime: s.clock.Now()}))
		}
	}()
	path := filepath.Join(t.TempDir(), "backup.db")
	var buf bytes.Buffer
	n, err := s.db.Backup(ctx, &buf)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	assert.EqualValues(t, buf.Len(), n)
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))

	cp, err := bolt.Open(path, bolt.Options{})
	require.NoError(t, err)
	defer cp.Close()
	burs, err := bolt.NewBurService(cp).ListBurs(ctx, b.ID)
	require.NoError(t, err)
	assert.Len(t, burs, 10)

	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.db.Backup(ctxDone, &bytes.Buffer{})
	assert.ErrorIs(t, err, context.Canceled)
}

func ptr[T any](v T) *T { return &v }
