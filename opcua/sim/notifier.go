package sim

import (
	"context"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
)

// markDirty queues n for change notification.
func (e *endpoint) markDirty(n *node) {
	e.dirtyMu.Lock()
	e.dirty[n] = struct{}{}
	e.dirtyMu.Unlock()
}

func (e *endpoint) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// notifier pushes value changes to gopcua's monitored items, which fire
// only on an explicit change (gap, repro: a variable backed by a value
// function sends its first value only). It replaces
// server.ChangeNotification, which blocks (holding the monitored-item lock)
// when a subscription stops draining its queue (gap, repro: subscribe, stop
// publishing, then ChangeNotification hangs); here a full queue drops the
// notification instead, which a queue size of 1 allows anyway.
func (e *endpoint) notifier(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		}
		e.mu.Lock()
		srv, stalled := e.srv, e.stalled != nil
		e.mu.Unlock()
		if srv == nil || stalled {
			continue // keep the dirty set for later
		}
		e.dirtyMu.Lock()
		batch := e.dirty
		e.dirty = make(map[*node]struct{}, len(batch))
		e.dirtyMu.Unlock()
		e.notify(srv, batch)
	}
}

func (e *endpoint) notify(srv *server.Server, batch map[*node]struct{}) {
	mis := srv.MonitoredItemService
	if mis == nil {
		return
	}
	mis.Mu.Lock()
	defer mis.Mu.Unlock()
	if len(mis.Nodes) == 0 {
		return
	}
	for n := range batch {
		for _, item := range mis.Nodes[n.idStr] {
			if item == nil || item.Sub == nil || item.Req == nil || item.Req.ItemToMonitor == nil {
				continue
			}
			v := &ua.MonitoredItemNotification{
				ClientHandle: item.Req.RequestedParameters.ClientHandle,
				Value:        attribute(n, item.Req.ItemToMonitor.AttributeID),
			}
			select {
			case item.Sub.NotifyChannel <- v:
			default:
			}
		}
	}
}
