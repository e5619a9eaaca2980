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

// grinderSnapshot is what a poll of a grinder read: the given values, every
// other node unread.
func grinderSnapshot(t *testing.T, o *object, at time.Time, values map[string]any) snapshot {
	t.Helper()
	s := make(snapshot, len(o.signals))
	for k, v := range values {
		i, ok := o.idx[k]
		require.True(t, ok, "grinder signal %s", k)
		s[i] = &ua.DataValue{Value: ua.MustVariant(v), Status: ua.StatusOK, SourceTimestamp: at}
	}
	return s
}

func samplesOf(ev []mes.MachineEvent) []*mes.Sample {
	var out []*mes.Sample
	for _, e := range ev {
		if e.Kind == mes.EventSample {
			out = append(out, e.Sample)
		}
	}
	return out
}

// TestDerive_SampleCarriesWheel: a dressing or a wheel change is a Sample
// of its own, with no job finishing (the last cycle stays the same).
func TestDerive_SampleCarriesWheel(t *testing.T) {
	o := newObject("G11", "G11", "ep", objGrinder)
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	base := func(wheel string, dressed uint32) map[string]any {
		return map[string]any{
			KeyState: string(mes.StateIdle), KeySpindleLoad: 0.0, KeyParts: uint32(40), "cycle.Seq": uint32(40),
			"cycle.WheelId": "G11-W0001", "cycle.DressCount": uint32(0),
			KeyWheelID: wheel, KeyDressCount: dressed,
		}
	}
	log := slog.New(slog.DiscardHandler)

	first := o.derive(grinderSnapshot(t, o, t0, base("G11-W0001", 0)), t0, log)
	require.Len(t, samplesOf(first), 1)
	assert.Equal(t, "G11-W0001", samplesOf(first)[0].WheelID)
	assert.Zero(t, samplesOf(first)[0].DressCount)

	tests := []struct {
		name    string
		wheel   string
		dressed uint32
		want    bool // a Sample follows
	}{
		{"nothing changed", "G11-W0001", 0, false},
		{"dressed", "G11-W0001", 1, true},
		{"dressed again", "G11-W0001", 2, true},
		{"wheel changed", "G11-W0002", 0, true},
		{"still the new wheel", "G11-W0002", 0, false},
	}
	for i, tt := range tests {
		at := t0.Add(time.Duration(i+1) * time.Second)
		ev := o.derive(grinderSnapshot(t, o, at, base(tt.wheel, tt.dressed)), at, log)
		for _, e := range ev {
			assert.NotEqual(t, mes.EventCycle, e.Kind, "%s: no job finished", tt.name)
		}
		got := samplesOf(ev)
		if !tt.want {
			assert.Empty(t, got, tt.name)
			continue
		}
		require.Len(t, got, 1, tt.name)
		assert.Equal(t, tt.wheel, got[0].WheelID, tt.name)
		assert.Equal(t, tt.dressed, got[0].DressCount, tt.name)
	}
}

// TestSampleKeys_ReadEveryPoll: the wheel's nodes are among the values a
// poll reads every cycle, so a change is reported within one interval.
func TestSampleKeys_ReadEveryPoll(t *testing.T) {
	for _, k := range []string{KeyWheelID, KeyDressCount} {
		assert.True(t, fastKeys[k], k)
		assert.Empty(t, recordOf(k), "%s is a plain value, not a record field", k)
	}
}
