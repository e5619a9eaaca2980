package opcua

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

var heartbeatNode = ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime)

// readAll reads every resolved node plus the heartbeat into the snapshots.
func (e *endpoint) readAll(ctx context.Context, s *session) error {
	return e.readChunks(ctx, s, readEvery, nil, nil)
}

// readCycle is one poll: the hot nodes (every slowEvery-th cycle the slow
// ones too), the Cleared of each raised alarm and the heartbeat in one
// batched Read (chunked), then, in a second Read, the fields of every record
// whose trigger changed, so that a record is always read whole.
func (e *endpoint) readCycle(ctx context.Context, s *session) error {
	s.cycle++
	which := readHot
	if s.cycle%slowEvery == 0 {
		which = readWarm
	}
	var extra []readRef
	for k := range s.slots {
		r := &s.slots[k]
		snap := s.snap[r.o]
		for i := range AlarmSlots {
			if c := r.cleared[i]; c.n != nil && r.seq[i] < len(snap) && good(snap[r.seq[i]]) && valueUint(snap[r.seq[i]]) != 0 && alarmOpen(snap[c.i]) {
				extra = append(extra, c)
			}
		}
	}
	var records []readRef
	err := e.readChunks(ctx, s, which, extra, func(it readRef, old, cur *ua.DataValue) {
		if it.trig == trigNone || sameValue(old, cur) {
			return
		}
		if it.trig == trigRecord {
			records = append(records, it)
			records = append(records, s.cold[it.o][it.rec]...)
			return
		}
		// new alarms since the last read: their slots, the whole ring when
		// the count jumped by a ring or more, or went back
		from, to := valueUint(old), valueUint(cur)
		if !good(old) || to < from || to-from >= AlarmSlots {
			from = to - min(to, AlarmSlots)
		}
		for seq := from + 1; seq <= to; seq++ {
			records = append(records, s.cold[it.o][alarmKeys[seq%AlarmSlots].rec]...)
		}
	})
	if err != nil {
		return err
	}
	return e.rereadRecords(ctx, s, records)
}

// alarmOpen tells whether a slot's Cleared says the alarm is still active.
func alarmOpen(dv *ua.DataValue) bool {
	if !good(dv) {
		return true
	}
	t, _ := dv.Value.Value().(time.Time)
	return !t.After(opcEpoch)
}

func valueUint(dv *ua.DataValue) uint64 {
	if dv == nil || dv.Value == nil {
		return 0
	}
	switch v := dv.Value.Value().(type) {
	case uint32:
		return uint64(v)
	case int32:
		return uint64(max(v, 0))
	case uint64:
		return v
	case int64:
		return uint64(max(v, 0))
	case uint16:
		return uint64(v)
	case float64:
		return uint64(max(v, 0))
	}
	return 0
}

// sameValue compares two read values.
func sameValue(a, b *ua.DataValue) bool {
	if a == nil || b == nil || a.Value == nil || b.Value == nil {
		return a == b
	}
	if a.Status != b.Status {
		return false
	}
	switch x := a.Value.Value().(type) {
	case time.Time:
		y, ok := b.Value.Value().(time.Time)
		return ok && x.Equal(y)
	case *ua.LocalizedText:
		y, ok := b.Value.Value().(*ua.LocalizedText)
		return ok && x != nil && y != nil && x.Text == y.Text
	case string, float64, float32, int32, uint32, int16, uint16, bool, int64, uint64, byte, int8:
		return x == b.Value.Value()
	}
	return false
}

// readChunks reads the chosen lists, extra nodes riding in the first
// request (or one of their own when it is full).
func (e *endpoint) readChunks(ctx context.Context, s *session, which readSet, extra []readRef, changed func(it readRef, old, cur *ua.DataValue)) error {
	chunks, bodies := s.lists(which)
	for k := 0; k < len(chunks)+1; k++ {
		var ch []readRef
		var body []*ua.ReadValueID
		off := 0
		switch {
		case k < len(chunks):
			ch, body = chunks[k], bodies[k]
			if k == 0 {
				off = 1
			}
			if k == 0 && len(extra) > 0 && len(body)+len(extra) <= max(1, min(s.lim.read, maxOpsPerRequest)) {
				body = slices.Clip(body)
				ch = append(slices.Clip(ch), extra...)
				for _, it := range extra {
					body = append(body, &ua.ReadValueID{NodeID: it.n, AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}})
				}
				extra = nil
			}
		case len(extra) > 0:
			ch = extra
			for _, it := range extra {
				body = append(body, &ua.ReadValueID{NodeID: it.n, AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}})
			}
		default:
			continue
		}
		if len(body) == 0 {
			continue
		}
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnSource, NodesToRead: body}
		rctx, cancel := context.WithTimeout(ctx, e.requestTimeout())
		res, err := s.c.Read(rctx, req)
		cancel()
		if err == nil && res.ResponseHeader.ServiceResult == ua.StatusBadTooManyOperations {
			err = ua.StatusBadTooManyOperations
		}
		if errors.Is(err, ua.StatusBadTooManyOperations) && s.lim.readProbe && s.lim.read != s.lim.readAdvertised {
			e.log.Info("server enforces its advertised read limit", "max_read", s.lim.readAdvertised)
			s.lim.read = s.lim.readAdvertised
			s.rechunk(nil)
			return e.readChunks(ctx, s, which, extra, changed)
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if sr := res.ResponseHeader.ServiceResult; sr != ua.StatusOK {
			return fmt.Errorf("read: %w", sr)
		}
		if len(res.Results) != len(req.NodesToRead) {
			return fmt.Errorf("read: %d results for %d nodes", len(res.Results), len(req.NodesToRead))
		}
		if off == 1 {
			e.clock.observeValue(res.Results[0], wall.Now())
		}
		for j, it := range ch {
			cur := res.Results[j+off]
			if changed != nil {
				changed(it, s.snap[it.o][it.i], cur)
			}
			s.snap[it.o][it.i] = cur
		}
	}
	return nil
}

// heartbeat reads the server's current time: an answer within one interval
// proves the connection and the server alive.
func (e *endpoint) heartbeat(ctx context.Context, s *session) error {
	rctx, cancel := context.WithTimeout(ctx, e.requestTimeout())
	defer cancel()
	res, err := s.c.Read(rctx, &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnNeither,
		NodesToRead: []*ua.ReadValueID{{NodeID: heartbeatNode, AttributeID: ua.AttributeIDValue}}})
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if len(res.Results) == 1 {
		e.clock.observeValue(res.Results[0], wall.Now())
	}
	return nil
}

// receivedAt sets the local receive time of events acquisition stamped
// itself on the machine's clock.
func receivedAt(ev []mes.MachineEvent, local time.Time) []mes.MachineEvent {
	for i := range ev {
		ev[i].Received = local
	}
	return ev
}

// emit derives events for the given objects from their snapshots, updates
// their status and hands the events to the sink.
func (e *endpoint) emit(ctx context.Context, s *session, objs []*object) {
	now := wall.Now()
	at := e.clock.at(now)
	var ev []mes.MachineEvent
	for _, o := range objs {
		snap := s.snap[o]
		ev = append(ev, receivedAt(o.restored(at), now)...)
		ev = append(ev, o.derive(snap, now, e.log)...)
		var newest time.Time
		for _, dv := range snap {
			if t := srcTime(dv); good(dv) && t.After(newest) {
				newest = t
			}
		}
		state, mode := o.state, o.mode
		if o.kind == objRobot {
			state = o.lastRobot.State
		}
		e.a.setStatus(o.id, func(st *MachineStatus) {
			st.CommOK, st.LastLocal, st.LastError = true, now, ""
			if state != "" {
				st.State = state
			} else if st.State == mes.StateOffline || st.State == mes.StateCommLost {
				st.State = mes.StateIdle
			}
			st.Mode = mode
			if newest.After(st.LastSource) {
				st.LastSource = newest
			}
		})
	}
	e.a.publish(ctx, ev)
}

// poll reads the endpoint once per interval until a read fails; the first
// read after connecting is a full one.
func (e *endpoint) poll(ctx context.Context, s *session) error {
	t := time.NewTimer(untilTick(wall.Now(), e.interval))
	defer t.Stop()
	read := e.readAll
	var notes chan *gopcua.PublishNotificationData
	for {
		if err := read(ctx, s); err != nil {
			return err
		}
		if notes == nil && len(s.messages) > 0 {
			// after the first read, so alarm events find the machines' state
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			notes = e.eventSubscription(sctx, s)
		}
		read = e.readCycle
		e.emit(ctx, s, s.found)
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				t.Reset(untilTick(wall.Now(), e.interval))
				break wait
			case n := <-notes:
				if list, ok := n.Value.(*ua.EventNotificationList); ok && n.Error == nil {
					e.a.publish(ctx, e.applyEvents(s, list, wall.Now()))
				}
			}
		}
	}
}

// eventSubscription subscribes to the machines' alarm events for a polled
// endpoint; nil (no events) when the server refuses.
func (e *endpoint) eventSubscription(ctx context.Context, s *session) chan *gopcua.PublishNotificationData {
	notes := make(chan *gopcua.PublishNotificationData, 64)
	sub, err := s.c.Subscribe(ctx, &gopcua.SubscriptionParameters{Interval: e.publish}, notes)
	if err != nil {
		e.log.Warn("alarm events: no subscription", "err", err)
		return nil
	}
	e.monitorEvents(ctx, s, sub)
	return notes
}

// untilTick is the time from now to the next whole multiple of interval
// since the Unix epoch. Every endpoint polling at the same interval reads
// at the same instants: the line is sampled together, and the process
// wakes once per cycle rather than once per endpoint, which is most of
// what an idle poll costs.
func untilTick(now time.Time, interval time.Duration) time.Duration {
	d := interval - time.Duration(now.UnixNano()%int64(interval))
	if d < interval/10 {
		d += interval // just missed one: never read twice in a row
	}
	return d
}
