package twin

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// TestModel_SampleWheelReachesViewers: a dressing or a wheel change told by
// a sample alone changes the model's version and reaches a viewer as a
// delta of the grinder, with no job finishing.
func TestModel_SampleWheelReachesViewers(t *testing.T) {
	tests := []struct {
		name    string
		sample  mes.Sample
		want    bool
		wheel   string
		dressed uint32
	}{
		{"dressed", mes.Sample{SpindleLoad: 12, WheelID: "G05-W0001", DressCount: 4}, true, "G05-W0001", 4},
		{"new wheel", mes.Sample{SpindleLoad: 12, WheelID: "G05-W0002"}, true, "G05-W0002", 0},
		{"same as before", mes.Sample{SpindleLoad: 12, WheelID: "G05-W0001", DressCount: 3}, false, "G05-W0001", 3},
		{"no wheel named", mes.Sample{SpindleLoad: 12, DressCount: 9}, false, "G05-W0001", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewModel(MustLoadLine(t))
			m.Apply(mes.MachineEvent{Machine: "G05", Kind: mes.EventSample, SourceTime: at(1),
				Sample: &mes.Sample{SpindleLoad: 12, WheelID: "G05-W0001", DressCount: 3}})
			require.Equal(t, "G05-W0001", grinder(t, m.Snapshot(), "G05").WheelID)
			d := newDiffer(Filter{}, 1, m.Snapshot())
			m.takeSpans()
			v := m.Version()

			smp := tt.sample
			m.Apply(mes.MachineEvent{Machine: "G05", Kind: mes.EventSample, SourceTime: at(2), Sample: &smp})
			g := grinder(t, m.Snapshot(), "G05")
			assert.Equal(t, tt.wheel, g.WheelID)
			assert.Equal(t, tt.dressed, g.DressCount)
			assert.Equal(t, tt.want, m.Version() != v, "the model tells the hub it changed")

			delta, _, err := d.diff(m.Snapshot(), m.takeSpans())
			require.NoError(t, err)
			if !tt.want {
				assert.Empty(t, delta.Grinders, "no grinder changed")
				return
			}
			require.Len(t, delta.Grinders, 1, "the grinder goes out in the delta")
			f := delta.Grinders[0]
			assert.JSONEq(t, `"G05"`, string(f["id"]))
			var got struct {
				WheelID    *string `json:"wheel_id"`
				DressCount *uint32 `json:"dress_count"`
			}
			require.NoError(t, json.Unmarshal([]byte(encode(t, f)), &got))
			if got.WheelID != nil {
				assert.Equal(t, tt.wheel, *got.WheelID)
			}
			if got.DressCount != nil {
				assert.Equal(t, tt.dressed, *got.DressCount)
			}
			assert.True(t, got.WheelID != nil || got.DressCount != nil, "the delta carries the wheel: %s", encode(t, f))
		})
	}
}
