package bolt_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
)

// recordingWriter is a MachineWriter that remembers the jobs it was given
// and refuses machines listed in refuse.
type recordingWriter struct {
	mu     sync.Mutex
	jobs   []mes.Job
	refuse map[string]bool
}

func (w *recordingWriter) Dispatch(_ context.Context, j mes.Job) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refuse[j.Machine] {
		return mes.Errorf(mes.ECONFLICT, "machine %s refused the job", j.Machine)
	}
	w.jobs = append(w.jobs, j)
	return nil
}

func (w *recordingWriter) Jobs() []mes.Job {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]mes.Job(nil), w.jobs...)
}

type lineFixture struct {
	line    *mes.LineConfig
	db      *bolt.DB
	batches *bolt.BatchService
	burs    *bolt.BurService
	writer  *recordingWriter
	d       *mes.Dispatcher
	t0      time.Time
}

// mustLine opens a store with the fixture line's products and a dispatcher
// over it; the test drives the dispatcher with tick.
func mustLine(t *testing.T, path string, writer *recordingWriter) *lineFixture {
	t.Helper()
	line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	db, err := bolt.Open(path, bolt.Options{SerialPattern: line.SerialPattern})
	require.NoError(t, err)
	f := &lineFixture{line: line, db: db, batches: bolt.NewBatchService(db), burs: bolt.NewBurService(db), writer: writer,
		t0: time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)}
	products := bolt.NewProductService(db)
	if ps, _ := products.ListProducts(context.Background()); len(ps) == 0 {
		for i := range line.Products {
			require.NoError(t, products.CreateProduct(context.Background(), &line.Products[i]))
		}
	}
	f.d = &mes.Dispatcher{Line: line, Burs: f.burs, Batches: f.batches, Writer: writer}
	t.Cleanup(func() { db.Close() })
	return f
}

func (f *lineFixture) releasedBatch(t *testing.T, qty int) *mes.Batch {
	t.Helper()
	b := &mes.Batch{Product: f.line.Products[0].ISO, Quantity: qty, GoodRequired: true, Org: "Acme Dental", BlankLot: "CB-1", PlannedStart: f.t0}
	require.NoError(t, f.batches.CreateBatch(context.Background(), b))
	_, err := f.batches.TransitionBatch(context.Background(), b.ID, mes.BatchReleased, "planner", "", f.t0)
	require.NoError(t, err)
	return b
}

func (f *lineFixture) idle(machines ...string) {
	for _, m := range machines {
		f.d.Publish(context.Background(), mes.MachineEvent{Machine: m, Kind: mes.EventState, State: mes.StateIdle, SourceTime: f.t0})
	}
}

// tick runs one dispatcher pass and returns every job written so far.
func (f *lineFixture) tick(t *testing.T) []mes.Job {
	t.Helper()
	require.NoError(t, f.d.Tick(context.Background()))
	return f.writer.Jobs()
}

func TestDispatcher_StartsBursAndFollowsTheRoute(t *testing.T) {
	f := mustLine(t, filepath.Join(t.TempDir(), "db"), &recordingWriter{})
	b := f.releasedBatch(t, 2)
	f.idle("G01", "G02", "G03")
	require.Len(t, f.tick(t), 2)
	jobs := f.tick(t)
	require.Len(t, jobs, 2, "a batch of 2 starts exactly 2 blanks, though 3 machines are free")
	assert.Equal(t, "O1010_SHANK", jobs[0].Program)
	assert.Equal(t, 10, jobs[0].Operation)
	assert.Equal(t, b.ID, jobs[0].Batch)

	// G01 reports the job done: the bur now waits for operation 20 on the HEAD group.
	c := mes.Cycle{Seq: 1, Serial: jobs[0].Serial, Program: jobs[0].Program, ProgramVersion: "3.2",
		Start: f.t0, End: f.t0.Add(780 * time.Second)}
	f.d.Publish(context.Background(), mes.MachineEvent{Machine: jobs[0].Machine, Kind: mes.EventCycle, Cycle: &c, SourceTime: c.End})
	f.idle("G06")
	jobs = f.tick(t)
	require.Len(t, jobs, 3)
	assert.Equal(t, "G06", jobs[2].Machine)
	assert.Equal(t, jobs[0].Serial, jobs[2].Serial)
	assert.Equal(t, 20, jobs[2].Operation)

	bur, err := f.burs.FindBur(context.Background(), jobs[0].Serial)
	require.NoError(t, err)
	require.Len(t, bur.Operations, 1)
	assert.Equal(t, jobs[0].Machine, bur.Operations[0].Machine)
	assert.Equal(t, 780.0, bur.Operations[0].CycleS)
	assert.Equal(t, "G06", bur.Machine)
}

func TestDispatcher_HeldBatchIsNotDispatched(t *testing.T) {
	f := mustLine(t, filepath.Join(t.TempDir(), "db"), &recordingWriter{})
	b := f.releasedBatch(t, 10)
	_, err := f.batches.TransitionBatch(context.Background(), b.ID, mes.BatchHeld, "qa", "suspect wheel", f.t0)
	require.NoError(t, err)
	f.idle("G01", "G02")
	assert.Empty(t, f.tick(t), "nothing dispatched from a held batch")
	assert.Empty(t, f.tick(t), "nor on the next pass")

	_, err = f.batches.TransitionBatch(context.Background(), b.ID, mes.BatchReleased, "qa", "wheel checked", f.t0)
	require.NoError(t, err)
	assert.Len(t, f.tick(t), 2, "released again: dispatch resumes")
}

func TestDispatcher_RefusedJobIsTakenBack(t *testing.T) {
	w := &recordingWriter{refuse: map[string]bool{"G01": true}}
	f := mustLine(t, filepath.Join(t.TempDir(), "db"), w)
	f.releasedBatch(t, 1)
	f.idle("G01")
	assert.Empty(t, f.tick(t))
	assert.Empty(t, f.tick(t), "refused again")
	w.mu.Lock()
	w.refuse = nil
	w.mu.Unlock()
	jobs := f.tick(t)
	require.Len(t, jobs, 1)
	assert.Equal(t, "G01", jobs[0].Machine)
	assert.Equal(t, 1, func() int {
		bs, err := f.batches.ListBatches(context.Background(), mes.BatchFilter{})
		require.NoError(t, err)
		return bs[0].Started
	}(), "the refused attempt did not start a second blank")
}

func TestDispatcher_RestartKeepsAssignments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	func() {
		t.Run("first run", func(t *testing.T) {
			f := mustLine(t, path, &recordingWriter{})
			f.releasedBatch(t, 1)
			f.idle("G01")
			require.Len(t, f.tick(t), 1)
		})
	}()
	// The MES restarts while G01 runs the job: the new dispatcher must not
	// hand G01 another bur, and the batch needs no more blanks.
	f := mustLine(t, path, &recordingWriter{})
	f.idle("G01", "G02")
	assert.Empty(t, f.tick(t))
	assert.Empty(t, f.tick(t))
}

func TestDispatcher_TwoBatchesOnDisjointGroups(t *testing.T) {
	f := mustLine(t, filepath.Join(t.TempDir(), "db"), &recordingWriter{})
	products := bolt.NewProductService(f.db)
	neck := f.line.Products[0]
	neck.ISO, neck.Name = "500314002001014", "Neck rework bur"
	neck.Route = []mes.Operation{{Number: 10, Name: "Neck", Group: "NECK", Program: "O4040_NECK", ProgramVersion: "1.9", IdealCycleS: 780}}
	require.NoError(t, products.CreateProduct(context.Background(), &neck))
	f.line.Products = append(f.line.Products, neck)

	a := f.releasedBatch(t, 5)
	b := &mes.Batch{Product: neck.ISO, Quantity: 5, Org: "Aero Tools", BlankLot: "CB-2", PlannedStart: f.t0}
	require.NoError(t, f.batches.CreateBatch(context.Background(), b))
	_, err := f.batches.TransitionBatch(context.Background(), b.ID, mes.BatchReleased, "planner", "", f.t0)
	require.NoError(t, err)

	f.idle("G01", "G21")
	jobs := f.tick(t)
	require.Len(t, jobs, 2)
	byMachine := map[string]mes.Job{}
	for _, j := range jobs {
		byMachine[j.Machine] = j
	}
	assert.Equal(t, a.ID, byMachine["G01"].Batch, "shank group works on the first batch")
	assert.Equal(t, b.ID, byMachine["G21"].Batch, "neck group works on the second batch at the same time")
	assert.Equal(t, "O4040_NECK", byMachine["G21"].Program)
}
