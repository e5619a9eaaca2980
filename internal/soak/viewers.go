package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pilotline/pilotline/twin"
)

// viewerPool runs the soak's WebSocket viewers. Fast viewers read every
// message and come and go; slow viewers connect with a tiny receive window
// and never read, so the hub must drop them.
//
// Delivery latency of a delta is measured as the time from the first
// viewer receiving that delta (the hub's send moment, to within the
// fastest viewer's own read) to this viewer receiving it: the hub's fan-out
// delay, which is what a slow viewer could inflate. Source-to-viewer latency
// also contains acquisition's poll interval and is reported apart.
type viewerPool struct {
	wsURL   string // the twin WebSocket URL (the MES comes back on the same address)
	incarn  func() int
	fast    int
	slow    int
	rng     *lockedRand
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	first   map[deltaKey]time.Time // first receipt of each delta
	recv    []deltaRecv
	slowMu  sync.Mutex
	slowNow []*slowViewer // the latest generation of slow viewers

	connects  atomic.Int64
	failures  atomic.Int64
	messages  atomic.Int64
	connected atomic.Int64
}

type deltaKey struct {
	incarn int
	seq    uint64
}

type deltaRecv struct {
	key deltaKey
	at  time.Time
}

// slowViewer is a viewer that never reads.
type slowViewer struct {
	conn   *websocket.Conn
	incarn int
	at     time.Time
}

func newViewerPool(parent context.Context, n int, seed int64, wsURL string, incarn func() int) *viewerPool {
	ctx, cancel := context.WithCancel(parent)
	slow := n / 5
	return &viewerPool{
		wsURL: wsURL, incarn: incarn, fast: n - slow, slow: slow, ctx: ctx, cancel: cancel,
		rng: &lockedRand{r: rand.New(rand.NewPCG(uint64(seed), 0x71e3))}, first: map[deltaKey]time.Time{},
	}
}

func (p *viewerPool) start() {
	for range p.fast {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.fastLoop() }()
	}
	p.connectSlow()
}

// connectSlow opens a new generation of slow viewers (after each MES start).
func (p *viewerPool) connectSlow() {
	var gen []*slowViewer
	for range p.slow {
		c, err := p.dial(true)
		if err != nil {
			p.failures.Add(1)
			continue
		}
		gen = append(gen, &slowViewer{conn: c, incarn: p.incarn(), at: time.Now()})
	}
	p.slowMu.Lock()
	old := p.slowNow
	p.slowNow = gen
	p.slowMu.Unlock()
	for _, v := range old {
		v.conn.Close()
	}
}

func (p *viewerPool) dial(slow bool) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	if slow {
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// A receive window of a few KB makes the hub's writes back up
			// within seconds instead of after megabytes of kernel buffers.
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
			return c, nil
		}
		d.ReadBufferSize = 1024
	}
	c, _, err := d.DialContext(p.ctx, p.wsURL, http.Header{})
	if err == nil {
		p.connects.Add(1)
	}
	return c, err
}

// fastLoop connects, reads for a random while, leaves, and comes back.
func (p *viewerPool) fastLoop() {
	for p.ctx.Err() == nil {
		c, err := p.dial(false)
		if err != nil {
			p.failures.Add(1)
			sleepCtx(p.ctx, 500*time.Millisecond)
			continue
		}
		p.connected.Add(1)
		stay := time.Duration(10+p.rng.intN(50)) * time.Second
		p.read(c, time.Now().Add(stay))
		p.connected.Add(-1)
		c.Close()
		sleepCtx(p.ctx, time.Duration(100+p.rng.intN(900))*time.Millisecond)
	}
}

func (p *viewerPool) read(c *websocket.Conn, until time.Time) {
	incarn := p.incarn()
	stop := context.AfterFunc(p.ctx, func() { c.Close() })
	defer stop()
	var local []deltaRecv
	defer func() {
		p.mu.Lock()
		p.recv = append(p.recv, local...)
		p.mu.Unlock()
	}()
	for time.Now().Before(until) {
		_ = c.SetReadDeadline(until)
		_, b, err := c.ReadMessage()
		at := time.Now()
		if err != nil {
			return
		}
		p.messages.Add(1)
		var head struct {
			Type string `json:"type"`
			Seq  uint64 `json:"seq"`
		}
		if json.Unmarshal(b, &head) != nil || head.Type != "delta" {
			continue
		}
		k := deltaKey{incarn, head.Seq}
		p.mu.Lock()
		if f, ok := p.first[k]; !ok || at.Before(f) {
			p.first[k] = at
		}
		p.mu.Unlock()
		local = append(local, deltaRecv{key: k, at: at})
	}
}

// latencies returns the delivery latencies (ms) of every delta receipt
// with its receipt time, and clears what was collected.
func (p *viewerPool) latencies() (at []time.Time, ms []float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.recv {
		f := p.first[r.key]
		at = append(at, r.at)
		ms = append(ms, float64(r.at.Sub(f))/float64(time.Millisecond))
	}
	return at, ms
}

// slowDropped checks the latest generation of slow viewers: each must find
// its connection closed by the server after draining what the kernel held.
// A viewer that never reads is dropped either when its queue overflows
// ("dropped" with reason slow_consumer, best effort) or, at the latest,
// when it has not answered a ping within twin.PongWait of connecting; the
// check waits past that. slowConsumer counts the drops announced as such.
func (p *viewerPool) slowDropped(wait time.Duration) (dropped, open, slowConsumer int) {
	p.slowMu.Lock()
	gen := p.slowNow
	p.slowNow = nil
	p.slowMu.Unlock()
	var wg sync.WaitGroup
	var d, o, sc atomic.Int64
	for _, v := range gen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer v.conn.Close()
			deadline := maxTime(time.Now().Add(wait), v.at.Add(twin.PongWait+10*time.Second))
			for {
				_ = v.conn.SetReadDeadline(deadline)
				_, b, err := v.conn.ReadMessage()
				if err == nil {
					if bytes.Contains(b, []byte(`"type":"dropped"`)) && bytes.Contains(b, []byte(twin.ReasonSlow)) {
						sc.Add(1)
					}
					continue
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					o.Add(1)
				} else {
					d.Add(1)
				}
				return
			}
		}()
	}
	wg.Wait()
	return int(d.Load()), int(o.Load()), int(sc.Load())
}

func (p *viewerPool) close() {
	p.cancel()
	p.wg.Wait()
	p.slowMu.Lock()
	for _, v := range p.slowNow {
		v.conn.Close()
	}
	p.slowNow = nil
	p.slowMu.Unlock()
}

// percentile is the nearest-rank percentile of values (reordered in place).
func percentile(values []float64, pct float64) float64 {
	if len(values) == 0 {
		return 0
	}
	slices.Sort(values)
	k := int(float64(len(values))*pct/100+0.999999) - 1
	return values[min(max(k, 0), len(values)-1)]
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// wsURLOf turns an http base URL into the twin WebSocket URL.
func wsURLOf(base string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "ws/twin"
}
