package opcua

import (
	"log/slog"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

func TestNullTime(t *testing.T) {
	real := time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   any
		want time.Time
	}{
		{"a time", real, real},
		{"zero", time.Time{}, time.Time{}},
		{"1601, the encoding's zero", opcEpoch, time.Time{}},
		{"1970, what some servers send for null", time.Unix(0, 0).UTC(), time.Time{}},
		{"not a time", "2026-11-02", time.Time{}},
	}
	for _, tt := range tests {
		assert.True(t, tt.want.Equal(nullTime(tt.in)), tt.name)
	}
}

// A server that sends 1970 for an alarm slot's unset Cleared must not clear
// the alarm as it is raised (that lost the real clear later).
func TestAlarmRing1970IsNotCleared(t *testing.T) {
	o := newObject("G01", "G01", "E", objGrinder)
	s := make(snapshot, len(o.signals))
	put := func(key string, v any) {
		s[o.idx[key]] = &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)}
	}
	raised := time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC)
	put("alarm.1.Seq", uint32(1))
	put("alarm.1.Code", "E17")
	put("alarm.1.Raised", raised)
	put("alarm.1.Cleared", time.Unix(0, 0).UTC())
	ev := o.derive(s, raised, slog.New(slog.DiscardHandler))
	var kinds []mes.EventKind
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	assert.Equal(t, []mes.EventKind{mes.EventAlarmRaised}, kinds)

	put("alarm.1.Cleared", raised.Add(time.Minute))
	ev = o.derive(s, raised.Add(time.Minute), slog.New(slog.DiscardHandler))
	require.Len(t, ev, 1)
	assert.Equal(t, mes.EventAlarmCleared, ev[0].Kind)
	assert.True(t, raised.Add(time.Minute).Equal(ev[0].SourceTime), "the real clear is kept")
}

// An alarm event stamped 1970 is stamped with its receive time instead.
func TestAlarmEvent1970Time(t *testing.T) {
	o := newObject("G01", "G01", "E", objGrinder)
	now := time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC)
	fields := make([]*ua.Variant, evFieldCount)
	fields[evTime] = ua.MustVariant(time.Unix(0, 0).UTC())
	fields[evActiveSince] = ua.MustVariant(time.Unix(0, 0).UTC())
	fields[evConditionName] = ua.MustVariant("A42")
	fields[evActive] = ua.MustVariant(true)
	ev := o.alarmEvent(fields, now)
	require.Len(t, ev, 1)
	assert.Equal(t, mes.EventAlarmRaised, ev[0].Kind)
	assert.True(t, now.Equal(ev[0].Alarm.Raised))
	assert.Empty(t, o.alarmEvent(fields, now.Add(time.Second)), "an active alarm seen again is not raised twice")
	fields[evActive] = ua.MustVariant(false)
	ev = o.alarmEvent(fields, now.Add(time.Minute))
	require.Len(t, ev, 1)
	assert.Equal(t, mes.EventAlarmCleared, ev[0].Kind)
}
