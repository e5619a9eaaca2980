package bolt

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// eventsPerRead bounds the events one read transaction of Events loads, so
// iterating a month of events neither holds a transaction open while the
// caller works nor keeps them all in memory.
const eventsPerRead = 512

// appendFill is the page fill of buckets written mostly at their end: full
// pages, since a page left behind is rarely written again.
const appendFill = 1.0

// EventStore is the durable, idempotent machine event log.
type EventStore struct{ db *DB }

var (
	_ mes.EventStore = (*EventStore)(nil)
	_ mes.EventSink  = (*EventStore)(nil)
)

// NewEventStore returns the event store on db.
func NewEventStore(db *DB) *EventStore { return &EventStore{db: db} }

// Publish implements mes.EventSink: it hands events to the group-commit
// writer and returns once the transaction holding them has committed (or
// failed). Events already stored (by Key) are skipped. If ctx ends first,
// Publish returns its error and the events may or may not be stored.
// Errors: EINVALID (an event without machine or kind, or not encodable),
// EINTERNAL (the commit failed, the store is closed).
func (s *EventStore) Publish(ctx context.Context, events ...mes.MachineEvent) error {
	if len(events) == 0 {
		return nil
	}
	// Encoding here spreads the work over the publishers' goroutines and
	// keeps the single writer to bucket puts and the commit. All values of
	// a call share one buffer: one allocation instead of one per event.
	recs := make([]eventRec, len(events))
	ends := make([]int, len(events))
	var buf, kbuf []byte
	for i := range events {
		e := &events[i]
		if e.Machine == "" || e.Kind == "" {
			return mes.Errorf(mes.EINVALID, "event %d: machine and kind are required", i)
		}
		var err error
		if buf, err = appendEvent(buf, e); err != nil {
			return mes.Errorf(mes.EINVALID, "event %d (%s): %v", i, e.Key(), err)
		}
		ends[i] = len(buf)
		recs[i] = eventRec{machine: e.Machine, t: e.SourceTime}
		if e.Kind == mes.EventSample {
			recs[i].sample = true
		} else {
			k := len(kbuf)
			kbuf = appendDedupKey(kbuf, e)
			recs[i].klen = len(kbuf) - k
		}
	}
	start, kstart := 0, 0
	for i, end := range ends {
		recs[i].val = buf[start:end:end]
		start = end
		if n := recs[i].klen; n > 0 {
			recs[i].key = kbuf[kstart : kstart+n : kstart+n]
			kstart += n
		}
	}
	return s.db.writer.publish(ctx, recs, len(buf))
}

type eventRec struct {
	key     []byte // event_keys key; nil for samples, which are keyed by (time, machine)
	klen    int    // length of key while Publish builds it
	machine string
	t       time.Time
	sample  bool
	val     []byte
}

type publishReq struct {
	recs   []eventRec
	bytes  int // encoded size of recs
	queued time.Time
	done   chan error
}

// eventWriter is the single goroutine that owns event writes. Publishers
// queue requests; the writer takes everything queued (up to MaxBatch events,
// waiting at most MaxDelay after the first) into one transaction and
// answers each request after the commit.
type eventWriter struct {
	db       *DB
	maxBatch int
	maxBytes int
	maxDelay time.Duration

	mu     sync.Mutex
	queue  []*publishReq
	n      int // events in queue
	bytes  int // their encoded size
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

// hostClock paces the group commit in real time, whatever clock the store
// stamps records with (a test's fake wall clock must not stall commits).
var hostClock mes.WallClock

func newEventWriter(db *DB) *eventWriter {
	return &eventWriter{db: db, maxBatch: db.opts.MaxBatch, maxBytes: db.opts.MaxBatchBytes, maxDelay: db.opts.MaxDelay,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (w *eventWriter) publish(ctx context.Context, recs []eventRec, bytes int) error {
	req := &publishReq{recs: recs, bytes: bytes, queued: hostClock.Now(), done: make(chan error, 1)}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return mes.Errorf(mes.EINTERNAL, "event store is closed")
	}
	w.queue = append(w.queue, req)
	w.n += len(recs)
	w.bytes += bytes
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close makes new publishes fail; run commits what is queued and returns.
func (w *eventWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
}

func (w *eventWriter) run() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// recent holds the request counts of the last few batches: publishers
	// that were just acknowledged usually come straight back, so the writer
	// expects about as many requests as it answered lately.
	var recent [4]int
	var lastAck time.Time
	for {
		<-w.wake
		for {
			w.mu.Lock()
			if len(w.queue) == 0 {
				closed := w.closed
				w.mu.Unlock()
				if closed {
					return
				}
				break
			}
			// Linger for more while under MaxBatch, short of the expected
			// requests, and within MaxDelay of the oldest request or of the
			// last acknowledgement, whichever is later. Without the last
			// condition, publishers that queued during a commit would be
			// committed alone the moment it ends, and the batches would split
			// in two that alternate.
			deadline := w.queue[0].queued
			if lastAck.After(deadline) {
				deadline = lastAck
			}
			wait := hostClock.Until(deadline.Add(w.maxDelay))
			if w.n < w.maxBatch && w.bytes < w.maxBytes && len(w.queue) < max(recent[0], recent[1], recent[2], recent[3]) && wait > 0 && !w.closed {
				w.mu.Unlock()
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-w.wake:
					timer.Stop()
				}
				continue
			}
			batch, n := w.take()
			w.mu.Unlock()
			err := w.commit(batch, n)
			for _, r := range batch {
				r.done <- err
			}
			copy(recent[1:], recent[:3])
			recent[0] = len(batch)
			lastAck = hostClock.Now()
		}
	}
}

// take removes up to MaxBatch events and MaxBatchBytes worth of requests
// from the queue (at least one request). Called with w.mu held.
func (w *eventWriter) take() ([]*publishReq, int) {
	i, n, size := 0, 0, 0
	for i < len(w.queue) && (i == 0 || n+len(w.queue[i].recs) <= w.maxBatch && size+w.queue[i].bytes <= w.maxBytes) {
		n += len(w.queue[i].recs)
		size += w.queue[i].bytes
		i++
	}
	batch := slices.Clone(w.queue[:i])
	w.queue = slices.Delete(w.queue, 0, i)
	w.n -= n
	w.bytes -= size
	return batch, n
}

func (w *eventWriter) commit(batch []*publishReq, n int) error {
	err := w.db.bolt.Update(func(tx *bbolt.Tx) error {
		events, keys, samples := tx.Bucket(bucketEvents), tx.Bucket(bucketEventKeys), tx.Bucket(bucketSamples)
		// Events arrive roughly in time order, so their pages fill from the
		// end: packing them full instead of half halves the bytes each
		// commit has to sync.
		events.FillPercent, samples.FillPercent = appendFill, appendFill
		// One cursor per bucket for the duplicate checks: Seek starts from
		// the root each time, so it stays valid across puts.
		keyCur, sampleCur := keys.Cursor(), samples.Cursor()
		for _, r := range batch {
			for _, rec := range r.recs {
				if rec.sample {
					k := sampleKey(rec.t, rec.machine)
					if has(sampleCur, k) {
						continue
					}
					if err := samples.Put(k, rec.val); err != nil {
						return err
					}
					continue
				}
				if has(keyCur, rec.key) {
					continue
				}
				seq, err := events.NextSequence()
				if err != nil {
					return err
				}
				ek := eventKey(rec.t, seq)
				if err := events.Put(ek, rec.val); err != nil {
					return err
				}
				if err := keys.Put(rec.key, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		w.db.log.Error("event commit failed", "events", n, "err", err)
		return mes.Errorf(mes.EINTERNAL, "store events: %v", err)
	}
	return nil
}

// has reports whether c's bucket holds key, also when its value is empty
// (which Bucket.Get cannot tell from absent).
func has(c *bbolt.Cursor, key []byte) bool {
	k, _ := c.Seek(key)
	return bytes.Equal(k, key)
}

// Events implements mes.EventStore. Events come in SourceTime order (for
// equal times, in the order they were stored, samples after the others);
// the iterator reads them in chunks of short read transactions. Events of
// kinds not in f.Kinds are skipped after reading their machine and kind,
// without decoding the rest.
func (s *EventStore) Events(ctx context.Context, f mes.EventFilter) iter.Seq2[mes.MachineEvent, error] {
	wantSamples, wantOthers := len(f.Kinds) == 0, len(f.Kinds) == 0
	for _, k := range f.Kinds {
		if k == mes.EventSample {
			wantSamples = true
		} else {
			wantOthers = true
		}
	}
	lo := t64(f.From)
	var hi []byte // exclusive upper bound on the 8-byte time prefix
	if !f.To.IsZero() {
		hi = t64(f.To)
	}
	return func(yield func(mes.MachineEvent, error) bool) {
		var srcs []*eventSource
		if wantOthers {
			srcs = append(srcs, &eventSource{db: s.db, dec: newEventDecoder(), kinds: f.Kinds, bucket: bucketEvents, next: lo, hi: hi, machine: f.Machine})
		}
		if wantSamples {
			srcs = append(srcs, &eventSource{db: s.db, dec: newEventDecoder(), bucket: bucketSamples, next: lo, hi: hi, machine: f.Machine, samples: true})
		}
		// Each source reads and decodes its next chunks in its own goroutine
		// while the caller works on the current one.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, src := range srcs {
			src.chunks, src.free = make(chan eventChunk, 2), make(chan []bufferedEvent, 3)
			wg.Add(1)
			go func() { defer wg.Done(); src.produce(stop) }()
		}
		defer func() { close(stop); wg.Wait() }()
		for {
			if err := ctx.Err(); err != nil {
				yield(mes.MachineEvent{}, err)
				return
			}
			var best *eventSource
			for _, src := range srcs {
				if err := src.fill(); err != nil {
					yield(mes.MachineEvent{}, err)
					return
				}
				if src.pos < len(src.buf) && (best == nil || src.buf[src.pos].tkey < best.buf[best.pos].tkey) {
					best = src
				}
			}
			if best == nil {
				return
			}
			e := &best.buf[best.pos]
			best.pos++
			if !yield(e.ev, nil) {
				return
			}
		}
	}
}

type bufferedEvent struct {
	tkey uint64 // the key's time prefix: merge order
	ev   mes.MachineEvent
}

// eventSource reads one ordered bucket in chunks, resuming after the last
// key it returned. Its producer goroutine reads and decodes chunks; the
// iterator consumes them.
type eventSource struct {
	// Producer side.
	db      *DB
	dec     *eventDecoder
	kinds   []mes.EventKind // nil: all
	bucket  []byte
	next    []byte // seek position of the next chunk
	hi      []byte
	machine string // only this machine
	samples bool
	out     []bufferedEvent // the chunk being read
	eof     bool

	chunks chan eventChunk
	free   chan []bufferedEvent // used chunks back to the producer

	// Consumer side.
	buf  []bufferedEvent
	pos  int // next event of buf to yield
	done bool
}

type eventChunk struct {
	events []bufferedEvent
	err    error
}

// produce sends chunks until the bucket is done, an error, or stop.
func (s *eventSource) produce(stop <-chan struct{}) {
	defer close(s.chunks)
	for !s.eof {
		select {
		case s.out = <-s.free:
		default:
			s.out = make([]bufferedEvent, 0, eventsPerRead)
		}
		s.out = s.out[:0]
		err := s.db.bolt.View(s.readChunk)
		if err == nil && len(s.out) == 0 {
			continue // every key of the chunk filtered out
		}
		select {
		case s.chunks <- eventChunk{s.out, err}:
		case <-stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (s *eventSource) wantKind(kind mes.EventKind) bool {
	return s.kinds == nil || slices.Contains(s.kinds, kind)
}

// fill takes the next chunk once the last one is used up, until it has an
// event or the source is done.
func (s *eventSource) fill() error {
	for s.pos >= len(s.buf) && !s.done {
		if s.buf != nil {
			select {
			case s.free <- s.buf:
			default:
			}
		}
		c, ok := <-s.chunks
		s.buf, s.pos = c.events, 0
		if !ok {
			s.done = true
			break
		}
		if c.err != nil {
			return c.err
		}
	}
	return nil
}

// readChunk reads up to eventsPerRead keys from s.next on. Events of
// other machines or kinds are skipped after reading their header: one
// machine's events are a scan of the period rather than an index, because
// a per-machine index cost every commit a page per machine.
func (s *eventSource) readChunk(tx *bbolt.Tx) error {
	c := tx.Bucket(s.bucket).Cursor()
	read := 0
	k, v := c.Seek(s.next)
	for ; k != nil && read < eventsPerRead; k, v = c.Next() {
		if s.hi != nil && string(k[:8]) >= string(s.hi) {
			break
		}
		read++
		if s.samples {
			if s.machine != "" && string(k[8:]) != s.machine {
				continue
			}
		} else if s.kinds != nil || s.machine != "" {
			if machine, kind, err := eventHeader(v); err == nil && (!s.wantKind(kind) || s.machine != "" && string(machine) != s.machine) {
				continue
			}
		}
		s.out = append(s.out, bufferedEvent{tkey: getU64(k)})
		e := &s.out[len(s.out)-1]
		if err := s.dec.decode(v, &e.ev); err != nil {
			return fmt.Errorf("decode event %x: %w", k, err)
		}
		if v[0] == '{' && (!s.wantKind(e.ev.Kind) || s.machine != "" && e.ev.Machine != s.machine) {
			s.out = s.out[:len(s.out)-1] // a JSON value, known only now
		}
	}
	if k == nil || read < eventsPerRead {
		s.eof = true
	} else {
		// Resume at the first key not read: k is still valid here.
		s.next = bytes.Clone(k)
	}
	return nil
}
