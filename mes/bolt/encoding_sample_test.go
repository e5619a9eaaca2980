package bolt

import (
	"encoding/hex"
	"math"
	"testing"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Values written before samples carried their wheel (parts byte without
// bit 6), as the encoder of that time produced them.
var oldSampleRecords = []struct {
	name string
	hex  string
	want mes.MachineEvent
}{
	{"sample", "01034730370701808eaa9a0d959aef3a000000000008000000000070c7400000000000404440cdcccccccc4c35400000000000001e40adfa5c6d454a93403333333333f358400000000000000440000000000000e03f0d423030303030312d3030303133054f32303230000000000000f03f00000000000000c00000000000000c40000000000080564000000000008046c095d626e80b2e113ee724",
		mes.MachineEvent{Machine: "G07", Kind: mes.EventSample, SourceTime: encT0, Sample: &mes.Sample{SpindleSpeed: 12000, SpindleLoad: 40.5,
			CoolantTemp: 21.3, PowerKW: 7.5, EnergyKWh: 1234.5678, WheelDiameter: 99.8, WheelWearUM: 2.5, Progress: 0.5,
			Serial: "B000001-00013", Program: "O2020", Axes: [6]float64{1, -2, 3.5, 90, -45, 1e-9}, PartsCounter: 4711}}},
	{"sample between other parts", "010158ff0f76656e646f725f73706563696669630000ff036f6464000601723f01000000000000020000000000000000000000000000000000000000000000000000000000000000000300000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000004000347303100000500",
		mes.MachineEvent{Machine: "X", Kind: "vendor_specific", Alarm: &mes.Alarm{Seq: 1}, Cycle: &mes.Cycle{Seq: 2},
			Measurement: &mes.Measurement{Seq: 3}, Sample: &mes.Sample{PartsCounter: 4}, Robot: &mes.RobotStatus{At: "G01"},
			Station: &mes.StationStatus{Count: 5}, Reason: "r", State: "odd", Counter: 6}},
}

func TestEventEncoding_OldSamplesDecodeWithoutWheel(t *testing.T) {
	dec := newEventDecoder()
	for _, tt := range oldSampleRecords {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hex.DecodeString(tt.hex)
			require.NoError(t, err)
			var got mes.MachineEvent
			require.NoError(t, dec.decode(b, &got))
			assert.Equal(t, jsonRoundTrip(t, tt.want), got)
			require.NotNil(t, got.Sample)
			assert.Empty(t, got.Sample.WheelID)
			assert.Zero(t, got.Sample.DressCount)

			again, err := appendEvent(nil, &got)
			require.NoError(t, err)
			assert.Equal(t, b, again, "a sample without wheel data encodes to the bytes it always had")
		})
	}
}

func TestEventEncoding_SampleWheelRoundTrip(t *testing.T) {
	dec := newEventDecoder()
	tests := []struct {
		name  string
		wheel string
		dress uint32
	}{
		{"wheel and dressings", "G11-W0004", 3},
		{"new wheel, not yet dressed", "G11-W0005", 0},
		{"dressings only", "", 7},
		{"largest count", "W", math.MaxUint32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mes.MachineEvent{Machine: "G11", Kind: mes.EventSample, SourceTime: encT0,
				Sample: &mes.Sample{SpindleLoad: 55, Serial: "B000002-00001", PartsCounter: 9, WheelID: tt.wheel, DressCount: tt.dress}}
			b, err := appendEvent(nil, &e)
			require.NoError(t, err)
			var got mes.MachineEvent
			require.NoError(t, dec.decode(b, &got))
			require.NotNil(t, got.Sample)
			assert.Equal(t, tt.wheel, got.Sample.WheelID)
			assert.Equal(t, tt.dress, got.Sample.DressCount)
			assert.Equal(t, jsonRoundTrip(t, e), got)

			// The wheel costs bytes only when there is one to tell.
			bare := e
			bare.Sample = &mes.Sample{SpindleLoad: 55, Serial: "B000002-00001", PartsCounter: 9}
			old, err := appendEvent(nil, &bare)
			require.NoError(t, err)
			assert.Greater(t, len(b), len(old))
		})
	}
}

func TestEventEncoding_RejectsBadSampleWheel(t *testing.T) {
	dec := newEventDecoder()
	e := mes.MachineEvent{Machine: "G11", Kind: mes.EventSample, Sample: &mes.Sample{WheelID: "W1", DressCount: 2}}
	good, err := appendEvent(nil, &e)
	require.NoError(t, err)
	const maskAt = 1 + 1 + 3 + 1 + 2 + 1 + 1 + 1 + 1 // version, machine "G11", kind, 2 zero times, state, mode, counter, reason
	require.Equal(t, byte(hasSample|hasSampleWheel), good[maskAt], "the parts byte is where the layout says")

	tests := []struct {
		name string
		edit func(b []byte) []byte
	}{
		{"wheel bit without a sample", func(b []byte) []byte {
			c := &mes.MachineEvent{Machine: "G11", Kind: mes.EventState}
			out, err := appendEvent(nil, c)
			require.NoError(t, err)
			out[maskAt] |= hasSampleWheel
			return append(out, 2, 'W', '1', 2)
		}},
		{"an unknown part bit", func(b []byte) []byte { b[maskAt] |= 1 << 7; return b }},
		{"dress count beyond 32 bits", func(b []byte) []byte {
			b = b[:len(b)-1] // the count 2, one byte
			b = append(b, 0x80, 0x80, 0x80, 0x80, 0x10)
			return b
		}},
		{"wheel bit cleared: the wheel is trailing", func(b []byte) []byte { b[maskAt] &^= hasSampleWheel; return b }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got mes.MachineEvent
			assert.Error(t, dec.decode(tt.edit(append([]byte(nil), good...)), &got))
		})
	}
}
