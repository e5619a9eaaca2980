package bolt

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"
)

// dedupCases are the encoding cases without samples (which have no dedup
// key), plus variants that Key treats as the same fact or as another one.
func dedupCases() map[string]mes.MachineEvent {
	cases := encodingCases()
	for name, e := range cases {
		if e.Kind == mes.EventSample {
			delete(cases, name)
		}
	}
	later := encT0.Add(time.Hour)
	add := func(name string, e mes.MachineEvent) { cases[name] = e }
	add("counter, other time", mes.MachineEvent{Machine: "G03", Kind: mes.EventCounter, Counter: 1<<64 - 1, SourceTime: later})
	add("counter, other value", mes.MachineEvent{Machine: "G03", Kind: mes.EventCounter, Counter: 5, SourceTime: encT0})
	add("counter, other machine", mes.MachineEvent{Machine: "G13", Kind: mes.EventCounter, Counter: 1<<64 - 1, SourceTime: encT0})
	add("state, other state", mes.MachineEvent{Machine: "G01", Kind: mes.EventState, State: mes.StateAlarm, SourceTime: encT0})
	add("state, 1 ns later", mes.MachineEvent{Machine: "G01", Kind: mes.EventState, State: mes.StateGrinding, SourceTime: encT0.Add(1)})
	add("state, same instant elsewhere", mes.MachineEvent{Machine: "G01", Kind: mes.EventState, State: mes.StateGrinding, SourceTime: encT0.In(time.FixedZone("", 3600))})
	add("state, other mode", mes.MachineEvent{Machine: "G01", Kind: mes.EventState, State: mes.StateGrinding, Mode: "MANUAL", SourceTime: encT0})
	add("cycle, other time", mes.MachineEvent{Machine: "G06", Kind: mes.EventCycle, SourceTime: later, Cycle: &mes.Cycle{Seq: 12}})
	add("cycle without record", mes.MachineEvent{Machine: "G06", Kind: mes.EventCycle, SourceTime: encT0})
	add("alarm cleared, other seq", mes.MachineEvent{Machine: "G05", Kind: mes.EventAlarmCleared, SourceTime: encT0, Alarm: &mes.Alarm{Seq: 8}})
	add("measurement, other time", mes.MachineEvent{Machine: "QC1", Kind: mes.EventMeasurement, SourceTime: later, Measurement: &mes.Measurement{Seq: 99}})
	add("robot, later", mes.MachineEvent{Machine: "R1", Kind: mes.EventRobot, SourceTime: later, Robot: &mes.RobotStatus{}})
	add("comm lost, other reason", mes.MachineEvent{Machine: "G04", Kind: mes.EventCommLost, Reason: "timeout", SourceTime: encT0})
	add("comm restored", mes.MachineEvent{Machine: "G04", Kind: mes.EventCommRestored, SourceTime: encT0})
	return cases
}

func TestDedupKey_EqualExactlyWhenKeyIs(t *testing.T) {
	cases := dedupCases()
	names := slices.Sorted(maps.Keys(cases))
	for _, a := range names {
		for _, b := range names {
			ea, eb := cases[a], cases[b]
			same := bytes.Equal(appendDedupKey(nil, &ea), appendDedupKey(nil, &eb))
			assert.Equal(t, ea.Key() == eb.Key(), same, "%q (%s) vs %q (%s)", a, ea.Key(), b, eb.Key())
		}
	}
}

func TestDedupKey_TimeKindsAppendInTimeOrder(t *testing.T) {
	// Machines and kinds in every order, times increasing: the keys of a
	// commit must follow time, not machine, so they land on the last page.
	var prev []byte
	for i := range 200 {
		e := mes.MachineEvent{Machine: []string{"G25", "G01", "R3", "QC1"}[i%4], Kind: []mes.EventKind{mes.EventState, mes.EventRobot, mes.EventCommLost}[i%3],
			State: mes.StateIdle, SourceTime: time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC).Add(time.Duration(i) * 7 * time.Second)}
		k := appendDedupKey(nil, &e)
		assert.Positive(t, bytes.Compare(k, prev), "event %d", i)
		prev = k
	}
	seq := mes.MachineEvent{Machine: "ZZZ", Kind: mes.EventCounter, Counter: 1<<64 - 1}
	first := mes.MachineEvent{Machine: "A", Kind: mes.EventState, SourceTime: time.Unix(0, -1<<63)}
	assert.Negative(t, bytes.Compare(appendDedupKey(nil, &seq), appendDedupKey(nil, &first)), "sequence keys sort before every time key")
}

// writeSchema3Store writes events the way schema 3 did: binary values and
// event_keys keyed by Key's text, holding the events key.
func writeSchema3Store(t *testing.T, path string, events []mes.MachineEvent) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		evs, keys, samples := tx.Bucket(bucketEvents), tx.Bucket(bucketEventKeys), tx.Bucket(bucketSamples)
		for _, e := range events {
			val, err := appendEvent(nil, &e)
			if err != nil {
				return err
			}
			if e.Kind == mes.EventSample {
				if err := samples.Put(sampleKey(e.SourceTime, e.Machine), val); err != nil {
					return err
				}
				continue
			}
			if keys.Get([]byte(e.Key())) != nil {
				continue
			}
			seq, _ := evs.NextSequence()
			ek := eventKey(e.SourceTime, seq)
			if err := evs.Put(ek, val); err != nil {
				return err
			}
			if err := keys.Put([]byte(e.Key()), ek); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(3))
	}))
}

func TestMigrate_Schema3RekeysEventKeys(t *testing.T) {
	ctx := context.Background()
	old := slices.Collect(maps.Values(encodingCases()))
	for n := range 3000 { // several leaf pages of keys
		old = append(old, mes.MachineEvent{Machine: "G09", Kind: mes.EventState, State: mes.StateGrinding, SourceTime: encT0.Add(time.Duration(n) * time.Second)},
			mes.MachineEvent{Machine: "G10", Kind: mes.EventCounter, Counter: uint64(n), SourceTime: encT0.Add(time.Duration(n) * time.Second)})
	}
	path := filepath.Join(t.TempDir(), "v3.db")
	writeSchema3Store(t, path, old)

	db, err := Open(path, Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Check(ctx))

	want := map[string]bool{}
	for _, e := range old {
		if e.Kind != mes.EventSample {
			want[string(appendDedupKey(nil, &e))] = true
		}
	}
	got := map[string]bool{}
	require.NoError(t, db.bolt.View(func(tx *bbolt.Tx) error {
		assert.EqualValues(t, SchemaVersion, getU64(tx.Bucket(bucketMeta).Get(keySchema)))
		return tx.Bucket(bucketEventKeys).ForEach(func(k, _ []byte) error { got[string(k)] = true; return nil })
	}))
	assert.Equal(t, want, got, "one new key for each stored event, and no old one left")

	count := func() int {
		n := 0
		for _, err := range NewEventStore(db).Events(ctx, mes.EventFilter{}) {
			require.NoError(t, err)
			n++
		}
		return n
	}
	before := count()
	require.NoError(t, NewEventStore(db).Publish(ctx, old...))
	assert.Equal(t, before, count(), "replays of migrated events store nothing")
	require.NoError(t, NewEventStore(db).Publish(ctx, mes.MachineEvent{Machine: "G10", Kind: mes.EventCounter, Counter: 3000, SourceTime: encT0}))
	assert.Equal(t, before+1, count(), "a new fact is stored")
}
