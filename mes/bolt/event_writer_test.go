package bolt

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEventWriter_TakeBoundsEventsAndBytes(t *testing.T) {
	req := func(events, bytes int) *publishReq { return &publishReq{recs: make([]eventRec, events), bytes: bytes} }
	tests := []struct {
		name     string
		maxBatch int
		maxBytes int
		queue    []*publishReq
		want     []int // requests per take
	}{
		{"all fit", 100, 1 << 20, []*publishReq{req(10, 100), req(10, 100), req(10, 100)}, []int{3}},
		{"events cap", 25, 1 << 20, []*publishReq{req(10, 100), req(10, 100), req(10, 100)}, []int{2, 1}},
		{"bytes cap", 100, 250, []*publishReq{req(10, 100), req(10, 100), req(10, 100)}, []int{2, 1}},
		{"an oversize call commits alone", 100, 250, []*publishReq{req(1, 1000), req(1, 10), req(1, 10)}, []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &eventWriter{maxBatch: tt.maxBatch, maxBytes: tt.maxBytes}
			for _, r := range tt.queue {
				w.queue = append(w.queue, r)
				w.n += len(r.recs)
				w.bytes += r.bytes
			}
			var got []int
			for len(w.queue) > 0 {
				batch, n := w.take()
				size, events := 0, 0
				for _, r := range batch {
					size += r.bytes
					events += len(r.recs)
				}
				assert.Equal(t, events, n)
				if len(batch) > 1 {
					assert.LessOrEqual(t, size, tt.maxBytes)
					assert.LessOrEqual(t, events, tt.maxBatch)
				}
				got = append(got, len(batch))
			}
			assert.Equal(t, tt.want, got)
			assert.Zero(t, w.n)
			assert.Zero(t, w.bytes)
		})
	}
}
