package sim

import (
	"context"
	"net"
)

func (e *endpoint) accept(ctx context.Context, ln net.Listener, private string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		e.mu.Lock()
		refusing := e.refusing
		e.mu.Unlock()
		if refusing {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, as from a closed port
			}
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", private)
		if err != nil {
			c.Close()
			continue
		}
		e.mu.Lock()
		if e.conns == nil || e.ln != ln || e.refusing {
			stopped := e.refusing && e.ln == ln
			e.mu.Unlock()
			c.Close()
			up.Close()
			if stopped {
				continue // halted since the check above
			}
			return
		}
		e.conns[c], e.conns[up] = struct{}{}, struct{}{}
		e.pipes.Add(2)
		e.mu.Unlock()
		go func() { defer e.pipes.Done(); e.pipe(ctx, up, c) }()
		go func() { defer e.pipes.Done(); e.pipe(ctx, c, up) }()
	}
}

// pipe copies src to dst, holding the bytes back while the endpoint stalls.
func (e *endpoint) pipe(ctx context.Context, dst, src net.Conn) {
	defer func() {
		src.Close()
		dst.Close()
		e.mu.Lock()
		if e.conns != nil {
			delete(e.conns, src)
			delete(e.conns, dst)
		}
		e.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			e.gate(ctx)
			if ctx.Err() != nil {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (e *endpoint) setStall(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case on && e.stalled == nil:
		e.stalled = make(chan struct{})
	case !on && e.stalled != nil:
		close(e.stalled)
		e.stalled = nil
		e.poke()
	}
}

// gate blocks while the endpoint is stalled.
func (e *endpoint) gate(ctx context.Context) {
	e.mu.Lock()
	ch := e.stalled
	e.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
}
