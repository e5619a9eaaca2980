package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout this code reads and writes (see keys.go).
const SchemaVersion = 5

// Defaults for Options.
const (
	DefaultSampleRetention = 24 * time.Hour
	DefaultMaxBatch        = 10_000
	DefaultMaxBatchBytes   = 4 << 20
	DefaultMaxDelay        = 2 * time.Millisecond
	DefaultSerialPattern   = "{batch}-{seq:05}"
	// openTimeout bounds the wait for the file lock, so a second process on
	// the same file fails with a message instead of hanging.
	openTimeout = 5 * time.Second
	// pruneChunk bounds the samples deleted per transaction so pruning never
	// holds the write lock long enough to stall event ingestion.
	pruneChunk = 20_000
)

// Options configures the store. Zero values take the defaults.
type Options struct {
	Logger *slog.Logger
	// SampleRetention is how long raw samples (EventSample) are kept;
	// every other event, genealogy and QA data never expire.
	SampleRetention time.Duration
	// MaxBatch and MaxDelay bound the group commit: the writer commits once
	// MaxBatch events are queued or MaxDelay after the first queued one.
	MaxBatch int
	MaxDelay time.Duration
	// MaxBatchBytes bounds the encoded event bytes of one commit (a single
	// larger call still commits alone): a commit's time grows with the
	// bytes it syncs, and every event in it waits for all of them.
	MaxBatchBytes int
	// Line is the clock of the line records the store stamps (a zero
	// creation or transition time) and of sample retention. Nil: the host's
	// clock, until SetLineClock.
	Line *mes.LineClock
	// Wall is the clock of the credential records the store stamps (users,
	// organisations, API tokens). Zero: the host's clock.
	Wall mes.WallClock
	// SerialPattern formats bur serials, e.g. "{batch}-{seq:05}".
	SerialPattern string
	// ReadOnly opens the file with a shared lock for backups and reports;
	// writes fail and no migration runs.
	ReadOnly bool
}

// DB is the Pilotline store: one bbolt file.
type DB struct {
	bolt    *bbolt.DB
	log     *slog.Logger
	line    atomic.Pointer[mes.LineClock]
	wall    mes.WallClock
	opts    Options
	serials mes.SerialPattern
	writer  *eventWriter

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating it and its directory if needed) the store at path,
// creates it at the newest schema or runs the forward migrations, and starts the event writer and the sample
// pruner. Errors: EINVALID (bad options, a file from a newer schema).
func Open(path string, o Options) (*DB, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SampleRetention <= 0 {
		o.SampleRetention = DefaultSampleRetention
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.MaxDelay < 0 {
		return nil, mes.Errorf(mes.EINVALID, "store: max delay must be ≥ 0")
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.SerialPattern == "" {
		o.SerialPattern = DefaultSerialPattern
	}
	serials, err := mes.ParseSerialPattern(o.SerialPattern)
	if err != nil {
		return nil, err
	}
	if !o.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	bdb, err := bbolt.Open(path, 0o640, &bbolt.Options{
		Timeout:  openTimeout,
		ReadOnly: o.ReadOnly,
		// The map freelist keeps commits cheap as the file grows, and not
		// syncing the freelist saves a page write per commit; bbolt rebuilds
		// it at open, which is what crash recovery needs anyway.
		FreelistType:   bbolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db := &DB{bolt: bdb, log: o.Logger, wall: o.Wall, opts: o, serials: serials, stop: make(chan struct{})}
	db.line.Store(o.Line)
	if err := db.migrate(); err != nil {
		bdb.Close()
		return nil, err
	}
	if !o.ReadOnly {
		// In transactions of its own, after the schema step that began it,
		// so a store of any size migrates in bounded memory and resumes
		// after a crash (see migrate.go).
		if _, err := db.migrateBurs(); err != nil {
			bdb.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	if !o.ReadOnly {
		if err := bdb.Update(func(tx *bbolt.Tx) error { return ensureBuckets(tx, openBuckets) }); err != nil {
			bdb.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	if !o.ReadOnly {
		db.writer = newEventWriter(db)
		db.wg.Add(2)
		go func() { defer db.wg.Done(); db.writer.run() }()
		go func() { defer db.wg.Done(); db.pruneLoop() }()
	}
	return db, nil
}

// Close stops the event writer (after committing what it holds) and the
// pruner, and closes the file.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		close(db.stop)
		if db.writer != nil {
			db.writer.close()
		}
		db.wg.Wait()
		db.closeErr = db.bolt.Close()
	})
	return db.closeErr
}

var _ mes.Backuper = (*DB)(nil)

// Backup writes a consistent copy of the whole file to w from one read
// transaction, so the line keeps running while it streams.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if cerr := ctx.Err(); err != nil && cerr != nil {
		return n, fmt.Errorf("backup: %w", cerr) // bbolt does not wrap the writer's error
	} else if err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}

// ctxWriter stops a long backup when its caller goes away.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// PruneSamples deletes raw samples older than the retention and returns how
// many it deleted. It runs periodically by itself; calling it is for tests
// and maintenance.
func (db *DB) PruneSamples(ctx context.Context) (int, error) {
	cutoff := t64(db.lineNow().Add(-db.opts.SampleRetention))
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n := 0
		err := db.bolt.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketSamples)
			var old [][]byte
			c := b.Cursor()
			for k, _ := c.First(); k != nil && len(old) < pruneChunk && string(k[:8]) < string(cutoff); k, _ = c.Next() {
				old = append(old, k)
			}
			for _, k := range old {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n = len(old)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("prune samples: %w", err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

func (db *DB) pruneLoop() {
	every := min(max(db.opts.SampleRetention/10, time.Second), 5*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			if n, err := db.PruneSamples(context.Background()); err != nil {
				db.log.Error("prune samples", "err", err)
			} else if n > 0 {
				db.log.Debug("pruned samples", "count", n)
			}
		}
	}
}

// view and update run fn in one transaction, giving up early if ctx is done.
func (db *DB) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(fn)
}

func (db *DB) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.opts.ReadOnly {
		return mes.Errorf(mes.EFORBIDDEN, "store is open read-only")
	}
	return db.bolt.Update(fn)
}

// getJSON decodes the value at key into v; found is false when it is absent.
// json.Unmarshal copies, so v never points into the transaction's pages.
func getJSON(b *bbolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	return b.Put(key, data)
}

// Check verifies the file's page structure (every page reachable once,
// freelist consistent) and returns the first problem found. It reads the
// whole file, so it is for tests, after a crash, and maintenance.
func (db *DB) Check(ctx context.Context) error {
	return db.view(ctx, func(tx *bbolt.Tx) error {
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return fmt.Errorf("store check: %w", first)
		}
		return nil
	})
}
