package opcua

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

// umati machines report alarms as events of Notification/Messages
// (OPC 40501-1 MessagesType is an event notifier), conditions of
// AlarmConditionType whose ActiveState/Id says raised or cleared. They are
// read by an event subscription, in poll mode too.

// eventHandleBase keeps event monitored items' client handles apart from
// those of value items (an index into session.items).
const eventHandleBase = 1 << 30

// Fields selected from each event, in this order.
const (
	evEventType = iota
	evSourceName
	evTime
	evMessage
	evSeverity
	evConditionName
	evConditionID
	evActive
	evActiveSince
	evFieldCount
)

func eventFilter() *ua.EventFilter {
	field := func(typ uint32, path ...string) *ua.SimpleAttributeOperand {
		op := &ua.SimpleAttributeOperand{TypeDefinitionID: ua.NewNumericNodeID(0, typ), AttributeID: ua.AttributeIDValue}
		for _, p := range path {
			op.BrowsePath = append(op.BrowsePath, &ua.QualifiedName{Name: p})
		}
		return op
	}
	sel := make([]*ua.SimpleAttributeOperand, evFieldCount)
	sel[evEventType] = field(id.BaseEventType, "EventType")
	sel[evSourceName] = field(id.BaseEventType, "SourceName")
	sel[evTime] = field(id.BaseEventType, "Time")
	sel[evMessage] = field(id.BaseEventType, "Message")
	sel[evSeverity] = field(id.BaseEventType, "Severity")
	sel[evConditionName] = field(id.ConditionType, "ConditionName")
	// the ConditionId is the NodeId attribute of the condition itself
	sel[evConditionID] = &ua.SimpleAttributeOperand{TypeDefinitionID: ua.NewNumericNodeID(0, id.ConditionType), AttributeID: ua.AttributeIDNodeID}
	sel[evActive] = field(id.AlarmConditionType, "ActiveState", "Id")
	sel[evActiveSince] = field(id.AlarmConditionType, "ActiveState", "TransitionTime")
	return &ua.EventFilter{SelectClauses: sel, WhereClause: &ua.ContentFilter{}}
}

// eventAlarm is an alarm raised by an event and not yet cleared.
type eventAlarm struct {
	alarm mes.Alarm
}

// monitorEvents adds an event item for every machine's Messages node to
// sub and asks the server to send the conditions active now
// (ConditionRefresh), so alarms raised during an outage are seen.
func (e *endpoint) monitorEvents(ctx context.Context, s *session, sub *gopcua.Subscription) {
	if len(s.messages) == 0 {
		return
	}
	s.evObj = map[uint32]*object{}
	var reqs []*ua.MonitoredItemCreateRequest
	var objs []*object
	for _, o := range s.found {
		n := s.messages[o]
		if n == nil {
			continue
		}
		h := uint32(eventHandleBase + len(objs))
		r := gopcua.NewMonitoredItemCreateRequestWithDefaults(n, ua.AttributeIDEventNotifier, h)
		r.RequestedParameters.QueueSize = 100
		r.RequestedParameters.Filter = ua.NewExtensionObject(eventFilter())
		reqs = append(reqs, r)
		objs = append(objs, o)
	}
	rctx, cancel := context.WithTimeout(ctx, e.connectTimeout())
	defer cancel()
	res, err := sub.Monitor(rctx, ua.TimestampsToReturnBoth, reqs...)
	if err != nil {
		e.log.Warn("alarm events: monitored items not created", "err", err)
		return
	}
	for i, r := range res.Results {
		if i < len(objs) && r != nil && r.StatusCode == ua.StatusOK {
			s.evObj[uint32(eventHandleBase+i)] = objs[i]
			objs[i].alarmEvents = true
		} else if i < len(objs) {
			e.log.Warn("alarm events refused by the server", "machine", objs[i].id, "status", r.StatusCode)
		}
	}
	if len(s.evObj) == 0 {
		return
	}
	_, err = s.c.Call(rctx, &ua.CallMethodRequest{
		ObjectID:       ua.NewNumericNodeID(0, id.ConditionType),
		MethodID:       ua.NewNumericNodeID(0, id.ConditionType_ConditionRefresh),
		InputArguments: []*ua.Variant{ua.MustVariant(sub.SubscriptionID)},
	})
	if err != nil {
		e.log.Debug("condition refresh", "err", err)
	}
}

// applyEvents turns the events of one notification into alarm events.
func (e *endpoint) applyEvents(s *session, list *ua.EventNotificationList, now time.Time) []mes.MachineEvent {
	var ev []mes.MachineEvent
	for _, f := range list.Events {
		if f == nil {
			continue
		}
		o := s.evObj[f.ClientHandle]
		if o == nil || len(f.EventFields) < evFieldCount {
			continue
		}
		ev = append(ev, o.alarmEvent(f.EventFields, now)...)
	}
	return ev
}

// alarmEvent derives raised and cleared from one condition event. Events
// that are no alarm conditions (no ActiveState) and the refresh brackets
// are ignored.
func (o *object) alarmEvent(fields []*ua.Variant, now time.Time) []mes.MachineEvent {
	active, ok := variantValue(fields[evActive]).(bool)
	if !ok {
		return nil
	}
	cond := ""
	if n, ok := variantValue(fields[evConditionID]).(*ua.NodeID); ok && n != nil {
		cond = n.String()
	}
	name := textOf(variantValue(fields[evConditionName]))
	if cond == "" {
		cond = textOf(variantValue(fields[evSourceName])) + "/" + name
	}
	at := nullTime(variantValue(fields[evTime]))
	if at.IsZero() {
		at = now
	}
	mk := func(kind mes.EventKind, a mes.Alarm, src time.Time) mes.MachineEvent {
		return mes.MachineEvent{Machine: o.id, Kind: kind, SourceTime: src, Received: now, Alarm: &a}
	}
	if o.evAlarms == nil {
		o.evAlarms = map[string]eventAlarm{}
	}
	seen, known := o.evAlarms[cond]
	switch {
	case active && !known:
		since := nullTime(variantValue(fields[evActiveSince]))
		if since.IsZero() {
			since = at
		}
		sev, _ := variantValue(fields[evSeverity]).(uint16)
		a := mes.Alarm{
			Seq:      alarmSeq(cond, since),
			Code:     name,
			Text:     textOf(variantValue(fields[evMessage])),
			Severity: int(sev),
			Raised:   since,
		}
		o.evAlarms[cond] = eventAlarm{alarm: a}
		return []mes.MachineEvent{mk(mes.EventAlarmRaised, a, since)}
	case !active && known:
		a := seen.alarm
		a.Cleared = at
		delete(o.evAlarms, cond)
		return []mes.MachineEvent{mk(mes.EventAlarmCleared, a, at)}
	}
	return nil
}

// alarmSeq numbers an event alarm by its condition and the instant it
// became active, so a refresh or a reconnect reports it under the same key.
// The top bit keeps it apart from the sequence numbers of PL:Alarms.
func alarmSeq(cond string, since time.Time) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%d", cond, since.UnixNano())
	return h.Sum64() | 1<<63
}

func variantValue(v *ua.Variant) any {
	if v == nil {
		return nil
	}
	return v.Value()
}

func textOf(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case *ua.LocalizedText:
		if t != nil {
			return t.Text
		}
	case *ua.QualifiedName:
		if t != nil {
			return t.Name
		}
	}
	return ""
}

// nullTime is v as a time, zero for OPC UA's null DateTime: the 1601 epoch
// (the encoding's zero) or the Unix epoch, which some servers send instead.
func nullTime(v any) time.Time {
	t, _ := v.(time.Time)
	if t.IsZero() || !t.After(opcEpoch) || t.Equal(time.Unix(0, 0)) {
		return time.Time{}
	}
	return t
}
