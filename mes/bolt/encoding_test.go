package bolt

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"
)

var encT0 = time.Date(2026, 3, 2, 8, 0, 0, 123456789, time.UTC)

// encodingCases covers every event kind, every optional part, nil and zero
// fields, and times in other zones and before 1970.
func encodingCases() map[string]mes.MachineEvent {
	cst := time.FixedZone("CST", 8*3600)
	return map[string]mes.MachineEvent{
		"bare":              {Machine: "G01", Kind: mes.EventCommRestored},
		"state":             {Machine: "G01", Kind: mes.EventState, State: mes.StateGrinding, Mode: "AUTOMATIC", SourceTime: encT0, Received: encT0.Add(50 * time.Millisecond)},
		"state in +08:00":   {Machine: "G02", Kind: mes.EventState, State: mes.StateIdle, SourceTime: encT0.In(cst), Received: encT0.In(time.FixedZone("", -5*3600-1800))},
		"state before 1970": {Machine: "G02", Kind: mes.EventState, State: mes.StateOffline, SourceTime: time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC)},
		"counter":           {Machine: "G03", Kind: mes.EventCounter, Counter: math.MaxUint64, SourceTime: encT0},
		"comm lost":         {Machine: "G04", Kind: mes.EventCommLost, Reason: "connection reset by peer", SourceTime: encT0},
		"alarm raised": {Machine: "G05", Kind: mes.EventAlarmRaised, SourceTime: encT0,
			Alarm: &mes.Alarm{Seq: 7, Code: "E2103", Text: "spindle overload", TextZH: "主轴过载", Severity: 700, Raised: encT0}},
		"alarm cleared": {Machine: "G05", Kind: mes.EventAlarmCleared, SourceTime: encT0,
			Alarm: &mes.Alarm{Seq: 7, Code: "E2103", Severity: -1, Raised: encT0, Cleared: encT0.Add(time.Minute)}},
		"alarm zero": {Machine: "G05", Kind: mes.EventAlarmRaised, Alarm: &mes.Alarm{}},
		"cycle": {Machine: "G06", Kind: mes.EventCycle, SourceTime: encT0, Cycle: &mes.Cycle{Seq: 12, Serial: "B000001-00012",
			Program: "O1010", ProgramVersion: "3.1", ProgramHash: "9f2c1e7a", WheelID: "W-4471", WheelWearUM: 3.25, DressCount: math.MaxUint32,
			Start: encT0.Add(-13 * time.Minute), End: encT0, PeakSpindleLoad: 61.5, EnergyKWh: 0.21, Aborted: true}},
		"cycle zero": {Machine: "G06", Kind: mes.EventCycle, Cycle: &mes.Cycle{WheelWearUM: math.Copysign(0, -1)}},
		"measurement": {Machine: "QC1", Kind: mes.EventMeasurement, SourceTime: encT0, Measurement: &mes.Measurement{Seq: 99,
			Serial: "B000001-00012", Station: "QC1", GaugeID: "GA-7", CalibrationDue: encT0.Add(90 * 24 * time.Hour), Time: encT0,
			Values: map[string]float64{mes.CharHeadDiameter: 1.401, mes.CharWorkingLength: 1.3, mes.CharOverallLength: 19,
				mes.CharShankDiameter: 1.595, mes.CharRadialRunout: 0.006}}},
		"measurement nil values":   {Machine: "QC1", Kind: mes.EventMeasurement, Measurement: &mes.Measurement{Seq: 1}},
		"measurement empty values": {Machine: "QC1", Kind: mes.EventMeasurement, Measurement: &mes.Measurement{Seq: 2, Values: map[string]float64{}}},
		"sample": {Machine: "G07", Kind: mes.EventSample, SourceTime: encT0, Sample: &mes.Sample{SpindleSpeed: 12000, SpindleLoad: 40.5,
			CoolantTemp: 21.3, PowerKW: 7.5, EnergyKWh: 1234.5678, WheelDiameter: 99.8, WheelWearUM: 2.5, Progress: 0.5,
			Serial: "B000001-00013", Program: "O2020", Axes: [6]float64{1, -2, 3.5, 90, -45, 1e-9}, PartsCounter: 4711}},
		"sample zero": {Machine: "G07", Kind: mes.EventSample, Sample: &mes.Sample{}},
		"sample with wheel": {Machine: "G07", Kind: mes.EventSample, SourceTime: encT0, Sample: &mes.Sample{SpindleSpeed: 12000,
			Serial: "B000001-00014", WheelID: "G07-W0003", DressCount: math.MaxUint32, PartsCounter: 4712}},
		"sample dress count only": {Machine: "G07", Kind: mes.EventSample, Sample: &mes.Sample{DressCount: 2}},
		"robot": {Machine: "R1", Kind: mes.EventRobot, SourceTime: encT0,
			Robot: &mes.RobotStatus{State: mes.StateMoving, At: "G01", Target: "G06", Bur: "B000001-00012"}},
		"robot zero":   {Machine: "R1", Kind: mes.EventRobot, Robot: &mes.RobotStatus{}},
		"station":      {Machine: "OUT", Kind: mes.EventStation, SourceTime: encT0, Station: &mes.StationStatus{Count: 250, LastSerial: "B000001-00250"}},
		"station zero": {Machine: "MAG", Kind: mes.EventStation, Station: &mes.StationStatus{}},
		"unknown kind with every part": {Machine: "X", Kind: "vendor_specific", Alarm: &mes.Alarm{Seq: 1}, Cycle: &mes.Cycle{Seq: 2},
			Measurement: &mes.Measurement{Seq: 3}, Sample: &mes.Sample{PartsCounter: 4, WheelID: "W1", DressCount: 1}, Robot: &mes.RobotStatus{At: "G01"},
			Station: &mes.StationStatus{Count: 5}, Reason: "r", State: "odd", Counter: 6},
	}
}

// jsonRoundTrip is what schema 1 gave back for e: the reference the binary
// encoding must match.
func jsonRoundTrip(t *testing.T, e mes.MachineEvent) mes.MachineEvent {
	t.Helper()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	var got mes.MachineEvent
	require.NoError(t, json.Unmarshal(b, &got))
	return got
}

func TestEventEncoding_RoundTrip(t *testing.T) {
	dec := newEventDecoder()
	for name, e := range encodingCases() {
		t.Run(name, func(t *testing.T) {
			b, err := appendEvent(nil, &e)
			require.NoError(t, err)
			var got mes.MachineEvent
			require.NoError(t, dec.decode(b, &got))
			assert.Equal(t, jsonRoundTrip(t, e), got, "decodes as the JSON of schema 1 did")
			assert.Equal(t, e.Key(), got.Key())

			machine, kind, err := eventHeader(b)
			require.NoError(t, err)
			assert.Equal(t, e.Machine, string(machine))
			assert.Equal(t, e.Kind, kind)

			again, err := appendEvent(nil, &got)
			require.NoError(t, err)
			assert.Equal(t, b, again, "equal events encode to equal bytes")

			js, err := json.Marshal(e)
			require.NoError(t, err)
			var fromJSON mes.MachineEvent
			require.NoError(t, dec.decode(js, &fromJSON), "a schema 1 value still decodes")
			assert.Equal(t, jsonRoundTrip(t, e), fromJSON)
		})
	}
}

func TestEventEncoding_RejectsBadValues(t *testing.T) {
	for name, e := range map[string]mes.MachineEvent{
		"NaN sample":          {Machine: "G01", Kind: mes.EventSample, Sample: &mes.Sample{PowerKW: math.NaN()}},
		"Inf axis":            {Machine: "G01", Kind: mes.EventSample, Sample: &mes.Sample{Axes: [6]float64{0, math.Inf(1)}}},
		"NaN cycle energy":    {Machine: "G01", Kind: mes.EventCycle, Cycle: &mes.Cycle{EnergyKWh: math.NaN()}},
		"-Inf measured value": {Machine: "QC1", Kind: mes.EventMeasurement, Measurement: &mes.Measurement{Values: map[string]float64{"x": math.Inf(-1)}}},
	} {
		_, err := appendEvent(nil, &e)
		assert.ErrorIs(t, err, errNotFinite, name)
	}

	// Every truncation of a valid value, and trailing bytes, fail cleanly.
	dec := newEventDecoder()
	for name, e := range encodingCases() {
		b, err := appendEvent(nil, &e)
		require.NoError(t, err)
		for n := range len(b) {
			var got mes.MachineEvent
			assert.Error(t, dec.decode(b[:n], &got), "%s cut at %d of %d bytes", name, n, len(b))
		}
		var got mes.MachineEvent
		assert.Error(t, dec.decode(append(b, 0), &got), "%s with a trailing byte", name)
	}
	var got mes.MachineEvent
	assert.Error(t, dec.decode([]byte{0x02, 0, 0}, &got), "an unknown encoding version")
}

// writeSchema1Store writes events the way schema 1 did: JSON values,
// keyed and indexed as in keys.go, and the schema version 1.
func writeSchema1Store(t *testing.T, path string, events []mes.MachineEvent) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketProducts, bucketBatches, bucketBurs, bucketBursByBatch, bucketWaiting,
			bucketCycles, bucketMeasurements, bucketEvents, bucketEventsByMachine, bucketEventKeys, bucketSamples} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		evs, byMachine, keys, samples := tx.Bucket(bucketEvents), tx.Bucket(bucketEventsByMachine), tx.Bucket(bucketEventKeys), tx.Bucket(bucketSamples)
		for _, e := range events {
			val, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if e.Kind == mes.EventSample {
				if err := samples.Put(sampleKey(e.SourceTime, e.Machine), val); err != nil {
					return err
				}
				continue
			}
			seq, _ := evs.NextSequence()
			ek := eventKey(e.SourceTime, seq)
			if err := evs.Put(ek, val); err != nil {
				return err
			}
			if err := byMachine.Put(cat(machinePrefix(e.Machine), ek), nil); err != nil {
				return err
			}
			if err := keys.Put([]byte(e.Key()), ek); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(1))
	}))
}

func TestMigrate_Schema1ToCurrent(t *testing.T) {
	ctx := context.Background()
	var old []mes.MachineEvent
	i := 0
	for _, e := range encodingCases() {
		i++
		e.SourceTime = encT0.Add(time.Duration(i) * time.Second) // distinct facts, known order
		old = append(old, e)
	}
	// Enough events to take several migration chunks.
	for n := range 10_000 {
		old = append(old, mes.MachineEvent{Machine: "G09", Kind: mes.EventCounter, Counter: uint64(n), SourceTime: encT0.Add(time.Hour + time.Duration(n)*time.Second)})
	}
	path := filepath.Join(t.TempDir(), "v1.db")
	writeSchema1Store(t, path, old)

	db, err := Open(path, Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Check(ctx))

	var version uint64
	stored := 0
	require.NoError(t, db.bolt.View(func(tx *bbolt.Tx) error {
		version = getU64(tx.Bucket(bucketMeta).Get(keySchema))
		assert.Nil(t, tx.Bucket(bucketEventsByMachine), "the per-machine index of schema 2 is dropped")
		for _, name := range [][]byte{bucketEvents, bucketSamples} {
			err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				stored++
				assert.Equal(t, byte(eventEncodingV1), v[0], "%s %x rewritten", name, k)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}))
	assert.EqualValues(t, SchemaVersion, version)
	assert.Equal(t, len(old), stored)

	store := NewEventStore(db)
	var got []mes.MachineEvent
	for e, err := range store.Events(ctx, mes.EventFilter{}) {
		require.NoError(t, err)
		got = append(got, e)
	}
	want := make([]mes.MachineEvent, len(old))
	for i, e := range old {
		want[i] = jsonRoundTrip(t, e)
	}
	// Samples sort after other events of the same time; these times are distinct.
	require.Len(t, got, len(want))
	assert.Equal(t, want, got, "every event reads back as schema 1 gave it")

	// Idempotency survives: replays of migrated events store nothing.
	require.NoError(t, store.Publish(ctx, old...))
	n := 0
	for _, err := range store.Events(ctx, mes.EventFilter{}) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, len(old), n)

	// Filters work on the migrated data, by machine index and by kind.
	n = 0
	for e, err := range store.Events(ctx, mes.EventFilter{Machine: "G05", Kinds: []mes.EventKind{mes.EventAlarmCleared}}) {
		require.NoError(t, err)
		assert.Equal(t, mes.EventAlarmCleared, e.Kind)
		n++
	}
	assert.Equal(t, 1, n)
}
