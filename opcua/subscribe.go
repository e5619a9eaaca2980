package opcua

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
)

// clockEvery is how often a busy subscription still reads the server's
// clock (see machineClock).
const clockEvery = 5 * time.Second

// subscribe reads the endpoint once, then follows it through one
// subscription with a monitored item per node, and a heartbeat Read in
// every interval without a notification. The subscription lives and dies with the session: after a
// reconnect it is created anew.
func (e *endpoint) subscribe(ctx context.Context, s *session) error {
	if err := e.readAll(ctx, s); err != nil {
		return err
	}
	e.emit(ctx, s, s.found)

	notes := make(chan *gopcua.PublishNotificationData, 64)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := s.c.Subscribe(sctx, &gopcua.SubscriptionParameters{Interval: e.publish}, notes)
	if err != nil {
		return fmt.Errorf("create subscription: %w", err)
	}
	step := max(1, min(s.lim.monitored, maxOpsPerRequest))
	failed := 0
	for lo := 0; lo < len(s.items); lo += step {
		hi := min(lo+step, len(s.items))
		reqs := make([]*ua.MonitoredItemCreateRequest, 0, hi-lo)
		for h := lo; h < hi; h++ {
			r := gopcua.NewMonitoredItemCreateRequestWithDefaults(s.items[h].n, ua.AttributeIDValue, uint32(h))
			r.RequestedParameters.SamplingInterval = float64(e.publish.Milliseconds())
			r.RequestedParameters.QueueSize = 1
			reqs = append(reqs, r)
		}
		rctx, rcancel := context.WithTimeout(ctx, e.connectTimeout())
		res, err := sub.Monitor(rctx, ua.TimestampsToReturnBoth, reqs...)
		rcancel()
		if err != nil {
			return fmt.Errorf("create monitored items: %w", err)
		}
		for _, r := range res.Results {
			if r == nil || r.StatusCode != ua.StatusOK {
				failed++
			}
		}
	}
	if failed > 0 {
		e.log.Warn("monitored items refused by the server", "failed", failed, "of", len(s.items))
	}
	e.monitorEvents(ctx, s, sub)
	e.log.Info("subscription created", "items", len(s.items), "alarm_event_items", len(s.evObj), "publishing_interval", sub.RevisedPublishingInterval)

	t := time.NewTicker(e.interval)
	defer t.Stop()
	dirty := map[*object]bool{}
	var records []readRef
	var lastNote, lastBeat time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			// a notification within the interval proves the server alive:
			// the heartbeat Read is for quiet spells
			// and, every clockEvery, for the server's clock
			if wall.Since(lastNote) >= e.interval || wall.Since(lastBeat) >= clockEvery {
				if err := e.heartbeat(ctx, s); err != nil {
					return err
				}
				lastBeat = wall.Now()
			}
			if st := s.c.State(); st != gopcua.Connected {
				return fmt.Errorf("subscription: client %s", st)
			}
			now := wall.Now()
			for _, o := range s.found {
				e.a.setStatus(o.id, func(st *MachineStatus) { st.LastLocal = now })
			}
		case n := <-notes:
			lastNote = wall.Now()
			if err := e.apply(s, n, dirty, &records); err != nil {
				return err
			}
			// take what else is queued before deriving: one batch of events per burst
		drain:
			for {
				select {
				case n := <-notes:
					if err := e.apply(s, n, dirty, &records); err != nil {
						return err
					}
				default:
					break drain
				}
			}
			if err := e.rereadRecords(ctx, s, records); err != nil {
				return err
			}
			objs := make([]*object, 0, len(dirty))
			for _, o := range s.found {
				if dirty[o] {
					objs = append(objs, o)
				}
			}
			e.emit(ctx, s, objs)
			clear(dirty)
			records = records[:0]
		}
	}
}

// apply stores one publish notification in the snapshots. When a record's
// Seq changed (last cycle, alarm slot, measurement), the record's other
// fields are queued for a Read, because the server may report them in a
// different notification than the Seq.
func (e *endpoint) apply(s *session, n *gopcua.PublishNotificationData, dirty map[*object]bool, records *[]readRef) error {
	if n.Error != nil {
		if errors.Is(n.Error, ua.StatusBadNoSubscription) {
			return nil
		}
		return fmt.Errorf("subscription: %w", n.Error)
	}
	if list, ok := n.Value.(*ua.EventNotificationList); ok {
		e.a.publish(context.Background(), e.applyEvents(s, list, wall.Now()))
		return nil
	}
	dc, ok := n.Value.(*ua.DataChangeNotification)
	if !ok {
		return nil
	}
	for _, it := range dc.MonitoredItems {
		if it == nil || int(it.ClientHandle) >= len(s.items) {
			continue
		}
		ref := s.items[it.ClientHandle]
		s.snap[ref.o][ref.i] = it.Value
		dirty[ref.o] = true
		key := ref.o.signals[ref.i].Key
		if prefix, ok := strings.CutSuffix(key, ".Seq"); ok {
			for _, other := range s.items {
				if other.o == ref.o && other.i != ref.i && strings.HasPrefix(other.o.signals[other.i].Key, prefix+".") {
					*records = append(*records, other)
				}
			}
		}
	}
	return nil
}

func (e *endpoint) rereadRecords(ctx context.Context, s *session, refs []readRef) error {
	step := max(1, min(s.lim.read, maxOpsPerRequest))
	for lo := 0; lo < len(refs); lo += step {
		ch := refs[lo:min(lo+step, len(refs))]
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
		for _, r := range ch {
			req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: r.n, AttributeID: ua.AttributeIDValue})
		}
		rctx, cancel := context.WithTimeout(ctx, e.requestTimeout())
		res, err := s.c.Read(rctx, req)
		cancel()
		if err != nil {
			return fmt.Errorf("read records: %w", err)
		}
		for j, r := range ch {
			if j < len(res.Results) {
				s.snap[r.o][r.i] = res.Results[j]
			}
		}
	}
	return nil
}
