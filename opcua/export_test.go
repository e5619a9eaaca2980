package opcua

import (
	"context"
	"fmt"
	"sync"

	"github.com/gopcua/opcua/ua"
)

// BenchLine gives the external benchmarks one connected session per
// endpoint without the run loop, so that single cycles can be timed.
type BenchLine struct {
	eps      []*endpoint
	sessions []*session
}

// ConnectAll connects and resolves every endpoint of a.
func ConnectAll(ctx context.Context, a *Acquisition) (*BenchLine, error) {
	b := &BenchLine{}
	for _, e := range a.eps {
		if len(e.objects) == 0 {
			continue
		}
		s, err := e.connect(ctx)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("%s: %w", e.cfg.ID, err)
		}
		b.eps = append(b.eps, e)
		b.sessions = append(b.sessions, s)
	}
	return b, nil
}

// Nodes is the number of nodes one cycle reads (heartbeats not counted).
func (b *BenchLine) Nodes() int {
	n := 0
	for _, s := range b.sessions {
		n += len(s.items)
	}
	return n
}

// Requests is the number of Read requests one batched cycle sends.
func (b *BenchLine) Requests() int {
	n := 0
	for _, s := range b.sessions {
		n += len(s.hotCh)
	}
	return n
}

// Cycle is one poll cycle of the whole line: every endpoint concurrently,
// batched reads, events derived and published.
func (b *BenchLine) Cycle(ctx context.Context) error {
	return b.each(func(e *endpoint, s *session) error {
		if err := e.readCycle(ctx, s); err != nil {
			return err
		}
		e.emit(ctx, s, s.found)
		return nil
	})
}

// HotNodes is the number of nodes a steady poll cycle reads.
func (b *BenchLine) HotNodes() int {
	n := 0
	for _, s := range b.sessions {
		n += len(s.hot)
	}
	return n
}

// NaiveCycle reads the same nodes with one Read request per node.
func (b *BenchLine) NaiveCycle(ctx context.Context) error {
	return b.each(func(e *endpoint, s *session) error {
		for _, it := range s.items {
			res, err := s.c.Read(ctx, &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth,
				NodesToRead: []*ua.ReadValueID{{NodeID: it.n, AttributeID: ua.AttributeIDValue}}})
			if err != nil {
				return err
			}
			s.snap[it.o][it.i] = res.Results[0]
		}
		e.emit(ctx, s, s.found)
		return nil
	})
}

func (b *BenchLine) each(f func(*endpoint, *session) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(b.sessions))
	for i := range b.sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(b.eps[i], b.sessions[i])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Close closes every session.
func (b *BenchLine) Close() {
	for _, s := range b.sessions {
		s.close()
	}
}
