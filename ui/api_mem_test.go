package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// memStore is a small in-memory implementation of the mes services, used
// where a test needs to inject failures the real store never produces.
type memStore struct {
	mu       sync.Mutex
	line     *mes.LineConfig
	products map[string]*mes.Product
	batches  map[string]*mes.Batch
	burs     map[string]*mes.Bur
	events   []mes.MachineEvent
	keys     map[string]bool
	nextID   int
	fail     error // when set, every call returns it
}

var (
	_ mes.ProductService = (*memStore)(nil)
	_ mes.BatchService   = (*memStore)(nil)
	_ mes.BurService     = (*memStore)(nil)
	_ mes.EventStore     = (*memStore)(nil)
	_ mes.Backuper       = (*memStore)(nil)
)

func newMemStore(line *mes.LineConfig) *memStore {
	return &memStore{line: line, products: map[string]*mes.Product{}, batches: map[string]*mes.Batch{},
		burs: map[string]*mes.Bur{}, keys: map[string]bool{}}
}

func clone[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return &out
}

func (m *memStore) CreateProduct(_ context.Context, p *mes.Product) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if _, ok := m.products[p.ISO]; ok {
		return mes.Errorf(mes.ECONFLICT, "product %s exists", p.ISO)
	}
	m.products[p.ISO] = clone(p)
	return nil
}

func (m *memStore) FindProduct(_ context.Context, iso string) (*mes.Product, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	p, ok := m.products[iso]
	if !ok {
		return nil, mes.Errorf(mes.ENOTFOUND, "no product %s", iso)
	}
	return clone(p), nil
}

func (m *memStore) ListProducts(context.Context) ([]*mes.Product, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []*mes.Product
	for _, p := range m.products {
		out = append(out, clone(p))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ISO < out[j].ISO })
	return out, nil
}

func (m *memStore) CreateBatch(_ context.Context, b *mes.Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if err := b.Validate(); err != nil {
		return err
	}
	if _, ok := m.products[b.Product]; !ok {
		return mes.Errorf(mes.EINVALID, "product: unknown %s", b.Product)
	}
	m.nextID++
	b.ID = fmt.Sprintf("B%06d", m.nextID)
	b.Created = time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	want := b.State
	b.State = mes.BatchPlanned
	if want == mes.BatchReleased {
		if err := b.Transition(mes.BatchReleased, "planner", "", b.Created); err != nil {
			return err
		}
	}
	m.batches[b.ID] = clone(b)
	return nil
}

func (m *memStore) FindBatch(_ context.Context, id string) (*mes.Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	b, ok := m.batches[id]
	if !ok {
		return nil, mes.Errorf(mes.ENOTFOUND, "no batch %s", id)
	}
	return clone(b), nil
}

func (m *memStore) ListBatches(_ context.Context, f mes.BatchFilter) ([]*mes.Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []*mes.Batch
	for _, b := range m.batches {
		if (f.Org == "" || b.Org == f.Org) && (len(f.States) == 0 || slices.Contains(f.States, b.State)) {
			out = append(out, clone(b))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

func (m *memStore) TransitionBatch(_ context.Context, id string, to mes.BatchState, by, reason string, at time.Time) (*mes.Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	b, ok := m.batches[id]
	if !ok {
		return nil, mes.Errorf(mes.ENOTFOUND, "no batch %s", id)
	}
	nb := clone(b)
	if err := nb.Transition(to, by, reason, at); err != nil {
		return nil, err
	}
	m.batches[id] = nb
	return clone(nb), nil
}

func (m *memStore) FindBur(_ context.Context, serial string) (*mes.Bur, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	b, ok := m.burs[serial]
	if !ok {
		return nil, mes.Errorf(mes.ENOTFOUND, "no bur %s", serial)
	}
	return clone(b), nil
}

func (m *memStore) ListBurs(_ context.Context, batch string) ([]*mes.Bur, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []*mes.Bur
	for _, b := range m.burs {
		if b.Batch == batch {
			out = append(out, clone(b))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Serial < out[j].Serial })
	return out, nil
}

func (m *memStore) WaitingBurs(context.Context, string, int) ([]*mes.Bur, error) { return nil, nil }

func (m *memStore) StartBur(_ context.Context, batch string, at time.Time) (*mes.Bur, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.batches[batch]
	if !ok {
		return nil, mes.Errorf(mes.ENOTFOUND, "no batch %s", batch)
	}
	if !b.State.Dispatchable() || !b.NeedsBlank() {
		return nil, mes.Errorf(mes.ECONFLICT, "batch %s needs no blank", batch)
	}
	if b.State == mes.BatchReleased {
		if err := b.Transition(mes.BatchRunning, "system", "", at); err != nil {
			return nil, err
		}
	}
	b.Started++
	bur := &mes.Bur{Serial: fmt.Sprintf("%s-%05d", batch, b.Started), Batch: batch, Product: b.Product, Seq: b.Started,
		BlankLot: b.BlankLot, Disposition: mes.BurInProcess, Created: at}
	m.burs[bur.Serial] = bur
	return clone(bur), nil
}

func (m *memStore) AssignBur(context.Context, string, string) error   { return nil }
func (m *memStore) UnassignBur(context.Context, string, string) error { return nil }

func (m *memStore) CompleteOperation(_ context.Context, machine string, c mes.Cycle) (*mes.Bur, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.burs[c.Serial]
	if !ok {
		return nil, mes.Errorf(mes.ENOTFOUND, "no bur %s", c.Serial)
	}
	b.Operations = append(b.Operations, mes.OperationRecord{Number: 10 * (len(b.Operations) + 1), Machine: machine, CycleSeq: c.Seq,
		Program: c.Program, ProgramVersion: c.ProgramVersion, Start: c.Start, End: c.End, CycleS: c.CycleTime().Seconds(), EnergyKWh: c.EnergyKWh})
	b.NextOp++
	return clone(b), nil
}

func (m *memStore) RecordMeasurement(context.Context, mes.Measurement) (*mes.Bur, error) {
	return nil, mes.Errorf(mes.EINTERNAL, "not implemented in memStore")
}

func (m *memStore) Publish(_ context.Context, events ...mes.MachineEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for _, e := range events {
		if k := e.Key(); !m.keys[k] {
			m.keys[k] = true
			m.events = append(m.events, e)
		}
	}
	sort.SliceStable(m.events, func(i, j int) bool { return m.events[i].SourceTime.Before(m.events[j].SourceTime) })
	return nil
}

func (m *memStore) Events(_ context.Context, f mes.EventFilter) iter.Seq2[mes.MachineEvent, error] {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		err := m.fail
		return func(yield func(mes.MachineEvent, error) bool) { yield(mes.MachineEvent{}, err) }
	}
	var sel []mes.MachineEvent
	for _, e := range m.events {
		if (f.Machine == "" || e.Machine == f.Machine) && (len(f.Kinds) == 0 || slices.Contains(f.Kinds, e.Kind)) &&
			(f.From.IsZero() || !e.SourceTime.Before(f.From)) && (f.To.IsZero() || e.SourceTime.Before(f.To)) {
			sel = append(sel, e)
		}
	}
	return func(yield func(mes.MachineEvent, error) bool) {
		for _, e := range sel {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func (m *memStore) Backup(_ context.Context, w io.Writer) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return 0, m.fail
	}
	b, err := json.Marshal(map[string]any{"products": m.products, "batches": m.batches, "burs": m.burs, "events": m.events})
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}
