package mqtt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mqtt"
	"github.com/pilotline/pilotline/mqtt/mqtttest"
	spb "github.com/pilotline/pilotline/mqtt/sparkplugb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func testLine(tb testing.TB) *mes.LineConfig {
	tb.Helper()
	l, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(tb, err)
	return l
}

// runningPublisher is a publisher on its own store, running until stop.
type runningPublisher struct {
	*mqtt.Publisher
	cfg    mqtt.Config
	db     *bolt.DB
	outbox *bolt.OutboxService
	stop   func()
}

func startPublisher(tb testing.TB, line *mes.LineConfig, url, dir string, tweak func(*mqtt.Options)) *runningPublisher {
	tb.Helper()
	cfg, err := mqtt.NewConfig(line, url)
	require.NoError(tb, err)
	db, err := bolt.Open(filepath.Join(dir, "pilotline.db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(tb, err)
	ob := bolt.NewOutboxService(db, 0)
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("PILOTLINE_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	o := mqtt.Options{Config: cfg, Line: line, Outbox: ob, Logger: logger}
	if tweak != nil {
		tweak(&o)
	}
	p, err := mqtt.New(o)
	require.NoError(tb, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			db.Close()
		}
	}
	tb.Cleanup(stop)
	return &runningPublisher{Publisher: p, cfg: cfg, db: db, outbox: ob, stop: stop}
}

func count(ms []mqtttest.Message, pred func(mqtttest.Message) bool) int {
	n := 0
	for _, m := range ms {
		if pred(m) {
			n++
		}
	}
	return n
}

func topicHas(part string) func(mqtttest.Message) bool {
	return func(m mqtttest.Message) bool { return strings.Contains(m.Topic, part) }
}

// births waits for n NBIRTHs followed by all DBIRTHs of the line.
func waitBirths(tb testing.TB, r *mqtttest.Recorder, line *mes.LineConfig, n int) []mqtttest.Message {
	devices := len(line.Machines) + len(line.Robots) + len(line.Stations)
	return r.WaitFor(fmt.Sprintf("%d births", n), func(ms []mqtttest.Message) bool {
		return count(ms, topicHas("/NBIRTH/")) >= n && count(ms, topicHas("/DBIRTH/")) >= n*devices
	})
}

func TestPublisher_SparkplugDecodedByTahu(t *testing.T) {
	tahu := mqtttest.MustTahu(t)
	broker := mqtttest.MustMosquitto(t)
	rec := mqtttest.MustRecorder(t, broker.URL(), "spBv1.0/#")
	line := testLine(t)
	p := startPublisher(t, line, broker.URL(), t.TempDir(), nil)
	waitBirths(t, rec, line, 1)

	t0 := time.Now().UTC().Truncate(time.Millisecond)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	require.NoError(t, p.Publish(context.Background(),
		mes.MachineEvent{Machine: "G01", Kind: mes.EventState, SourceTime: at(1), State: mes.StateGrinding, Mode: "AUTOMATIC"},
		mes.MachineEvent{Machine: "G01", Kind: mes.EventSample, SourceTime: at(2), Sample: &mes.Sample{
			SpindleSpeed: 12000.5, SpindleLoad: 41.25, CoolantTemp: 21.5, PowerKW: 3.75, EnergyKWh: 101.125,
			WheelDiameter: 49.875, WheelWearUM: 3.5, Progress: 0.5, Serial: "B000001-00001", Program: "O1010_SHANK", WheelID: "W-7", DressCount: 3}},
		mes.MachineEvent{Machine: "G01", Kind: mes.EventCycle, SourceTime: at(3), Cycle: &mes.Cycle{
			Seq: 77, Serial: "B000001-00001", Program: "O1010_SHANK", Start: at(-40), End: at(3), EnergyKWh: 0.25}},
		mes.MachineEvent{Machine: "G01", Kind: mes.EventAlarmRaised, SourceTime: at(4), Alarm: &mes.Alarm{Seq: 5, Code: "E2103", Text: "Spindle overload", Severity: 700, Raised: at(4)}},
		mes.MachineEvent{Machine: "G01", Kind: mes.EventAlarmCleared, SourceTime: at(5), Alarm: &mes.Alarm{Seq: 5, Code: "E2103", Cleared: at(5)}},
		mes.MachineEvent{Machine: "QC1", Kind: mes.EventMeasurement, SourceTime: at(6), Measurement: &mes.Measurement{
			Seq: 9, Serial: "B000001-00001", Station: "QC1", Values: map[string]float64{mes.CharHeadDiameter: 1.4025}}},
		mes.MachineEvent{Machine: "R1", Kind: mes.EventRobot, SourceTime: at(7), Robot: &mes.RobotStatus{State: mes.StateMoving, At: "G01", Target: "QC1", Bur: "B000001-00001"}},
		mes.MachineEvent{Machine: "MAG", Kind: mes.EventStation, SourceTime: at(8), Station: &mes.StationStatus{Count: 480}},
	))
	oee := 0.625
	p.SetFigures(mqtt.Figures{TaktTargetS: 12, TaktS: 12.5, OEE: &oee, OutputToday: 40, GoodToday: 39, EnergyPerGoodBurKWh: 0.5})
	rec.WaitFor("the data", func(ms []mqtttest.Message) bool {
		return count(ms, topicHas("/DDATA/cnc-pilot-line-1/MAG")) >= 1 && count(ms, topicHas("/NDATA/")) >= 1
	})

	// A host asks for a rebirth; the node answers with a new NBIRTH (seq 0).
	cmd, err := proto.Marshal(&spb.Payload{Timestamp: proto.Uint64(uint64(time.Now().UnixMilli())), Metrics: []*spb.Payload_Metric{{
		Name: proto.String(mqtt.MetricRebirth), Datatype: proto.Uint32(uint32(spb.DataType_Boolean)), Value: &spb.Payload_Metric_BooleanValue{BooleanValue: true}}}})
	require.NoError(t, err)
	require.NoError(t, rec.Client().Publish(p.cfg.SparkplugTopic("NCMD", ""), 1, false, cmd).Error())
	waitBirths(t, rec, line, 2)
	p.stop() // a clean stop publishes the NDEATH
	msgs := rec.WaitFor("the NDEATH", func(ms []mqtttest.Message) bool { return count(ms, topicHas("/NDEATH/")) == 1 })

	var sp []mqtttest.Message
	for _, m := range msgs {
		if strings.HasPrefix(m.Topic, "spBv1.0/") && !strings.Contains(m.Topic, "/NCMD/") {
			sp = append(sp, m)
		}
	}
	msgs = sp
	decoded := tahu.Decode(t, msgs)
	kinds := map[string]int{}
	seq := -1
	aliases := map[string]map[string]string{} // device → alias → name
	last := map[string]map[string]mqtttest.DecodedMetric{}
	var birthBdSeq, deathBdSeq string
	for i, d := range decoded {
		parts := strings.Split(d.Topic, "/")
		require.Len(t, parts[:4], 4)
		kind := parts[2]
		device := ""
		if len(parts) == 5 {
			device = parts[4]
		}
		kinds[kind]++

		// Tahu reads exactly what our generated code reads.
		var ours spb.Payload
		require.NoError(t, proto.Unmarshal(msgs[i].Payload, &ours))
		require.Len(t, d.Payload.Metrics, len(ours.Metrics), d.Topic)
		for j, m := range ours.Metrics {
			tm := d.Payload.Metrics[j]
			assert.Equal(t, strconv.FormatUint(m.GetTimestamp(), 10), tm.Timestamp, d.Topic)
			assert.Equal(t, m.GetIsHistorical(), tm.IsHistorical, d.Topic)
			if m.Alias != nil {
				assert.Equal(t, strconv.FormatUint(m.GetAlias(), 10), tm.Alias, d.Topic)
			}
			assert.Equal(t, m.GetName(), tm.Name, d.Topic)
		}

		// seq: 0 at each NBIRTH, then +1 on every message of the session.
		switch kind {
		case "NDEATH":
			assert.Nil(t, d.Payload.Seq)
			deathBdSeq = fmt.Sprint(d.Payload.Metrics[0].Value)
			continue
		case "NBIRTH":
			require.NotNil(t, d.Payload.Seq)
			assert.Equal(t, "0", *d.Payload.Seq)
			seq = 0
		default:
			require.NotNil(t, d.Payload.Seq, d.Topic)
			seq = (seq + 1) % 256
			assert.Equal(t, strconv.Itoa(seq), *d.Payload.Seq, d.Topic)
		}
		if aliases[device] == nil {
			aliases[device], last[device] = map[string]string{}, map[string]mqtttest.DecodedMetric{}
		}
		for _, m := range d.Payload.Metrics {
			if kind == "NBIRTH" || kind == "DBIRTH" {
				require.NotEmpty(t, m.Name)
				require.NotEmpty(t, m.Type, m.Name)
				aliases[device][m.Alias] = m.Name
			} else {
				assert.Empty(t, m.Name, "data messages carry the alias alone")
				m.Name = aliases[device][m.Alias]
				require.NotEmpty(t, m.Name, "alias %s of %s is in the birth", m.Alias, d.Topic)
			}
			if kind == "NBIRTH" && m.Name == mqtt.MetricBdSeq {
				birthBdSeq = fmt.Sprint(m.Value)
			}
			if kind == "DBIRTH" && device == "G01" && m.Name == mqtt.MetricSpindleSpeed {
				assert.Equal(t, "Double", m.Type)
				assert.Equal(t, "rpm", m.Properties["engUnit"].Value)
			}
			if kind != "DBIRTH" && kind != "NBIRTH" || m.Value != nil {
				last[device][m.Name] = m
			}
		}
	}
	assert.Equal(t, map[string]int{"NBIRTH": 2, "DBIRTH": 2 * (len(line.Machines) + len(line.Robots) + len(line.Stations)), "DDATA": kinds["DDATA"], "NDATA": kinds["NDATA"], "NDEATH": 1}, kinds)
	assert.GreaterOrEqual(t, kinds["DDATA"], 7)
	assert.Equal(t, "0", birthBdSeq)
	assert.Equal(t, birthBdSeq, deathBdSeq, "the NDEATH names its NBIRTH's bdSeq")

	// The decoded values are what the line published.
	want := map[string]map[string]any{
		"G01": {mqtt.MetricState: "grinding", mqtt.MetricMode: "AUTOMATIC", mqtt.MetricSpindleSpeed: 12000.5, mqtt.MetricSpindleLoad: 41.25,
			mqtt.MetricEnergy: 101.125, mqtt.MetricWheelID: "W-7", mqtt.MetricDressCount: "3", mqtt.MetricCounter: "77",
			mqtt.MetricCycleSerial: "B000001-00001", mqtt.MetricCycleTime: 43.0, mqtt.MetricAlarmActive: false,
			mqtt.MetricAlarmCode: "E2103", mqtt.MetricAlarmSeverity: "700"},
		"QC1": {"Measurement/" + mes.CharHeadDiameter: 1.4025, mqtt.MetricMeasSerial: "B000001-00001"},
		"R1":  {mqtt.MetricState: "moving", mqtt.MetricRobotAt: "G01", mqtt.MetricRobotTarget: "QC1"},
		"MAG": {mqtt.MetricCount: "480"},
		"":    {mqtt.MetricOEE: 0.625, mqtt.MetricOutputToday: "40", mqtt.MetricLineName: line.Name, mqtt.MetricTaktTarget: 12.0},
	}
	for device, metrics := range want {
		for name, v := range metrics {
			assert.Equal(t, v, last[device][name].Value, "%s %s", device, name)
		}
	}
	assert.Equal(t, strconv.FormatInt(t0.Add(2*time.Second).UnixMilli(), 10), last["G01"][mqtt.MetricSpindleSpeed].Timestamp, "the machine's source time")
}

func TestPublisher_UnifiedNamespace(t *testing.T) {
	broker := mqtttest.MustMosquitto(t)
	line := testLine(t)
	cfg, err := mqtt.NewConfig(line, broker.URL())
	require.NoError(t, err)
	root := cfg.UNSRoot()
	assert.Equal(t, "pilotline/site/grinding/cnc-pilot-line-1", root)
	rec := mqtttest.MustRecorder(t, broker.URL(), root+"/#")
	p := startPublisher(t, line, broker.URL(), t.TempDir(), func(o *mqtt.Options) { o.KPIInterval = 20 * time.Millisecond })

	t0 := time.Now().UTC().Truncate(time.Millisecond)
	p.SetFigures(mqtt.Figures{TaktTargetS: 12, OutputToday: 1, Batches: []mqtt.Batch{{ID: "B000001", Product: "500314001001014", State: mes.BatchReleased}}})
	require.NoError(t, p.Publish(context.Background(),
		mes.MachineEvent{Machine: "G02", Kind: mes.EventState, SourceTime: t0, State: mes.StateGrinding},
		mes.MachineEvent{Machine: "G02", Kind: mes.EventCycle, SourceTime: t0.Add(time.Second), Cycle: &mes.Cycle{
			Seq: 12, Serial: "B000001-00002", Program: "O2020_HEAD_R", Start: t0.Add(-30 * time.Second), End: t0.Add(time.Second), EnergyKWh: 0.2}},
		mes.MachineEvent{Machine: "G02", Kind: mes.EventAlarmRaised, SourceTime: t0.Add(2 * time.Second), Alarm: &mes.Alarm{Seq: 1, Code: "E1", Text: "Door open", Severity: 500}},
	))
	rec.WaitFor("the first figures", func(ms []mqtttest.Message) bool {
		return count(ms, func(m mqtttest.Message) bool {
			return strings.HasSuffix(m.Topic, "/event/kpi") && strings.Contains(string(m.Payload), `"output_today":1`)
		}) > 0
	})
	p.SetFigures(mqtt.Figures{TaktTargetS: 12, OutputToday: 2, Batches: []mqtt.Batch{{ID: "B000001", Product: "500314001001014", State: mes.BatchRunning}}})

	msgs := rec.WaitFor("events, states and a KPI", func(ms []mqtttest.Message) bool {
		return count(ms, topicHas("/event/batch")) >= 1 && count(ms, topicHas("/event/kpi")) >= 1 &&
			count(ms, topicHas("/G02/event/alarm")) >= 1 && count(ms, topicHas("/G02/state")) >= 1
	})
	var bf mqtt.BurFinished
	var cell mqtt.CellState
	var bt mqtt.BatchTransition
	for _, m := range msgs {
		switch m.Topic {
		case root + "/G02/event/bur-finished":
			require.NoError(t, json.Unmarshal(m.Payload, &bf))
			assert.False(t, m.Retained)
		case root + "/G02/state":
			require.NoError(t, json.Unmarshal(m.Payload, &cell))
		case root + "/event/batch":
			require.NoError(t, json.Unmarshal(m.Payload, &bt))
		}
	}
	assert.Equal(t, "B000001-00002", bf.Serial)
	assert.Equal(t, 20, bf.Operation, "the program's route operation")
	assert.Equal(t, 31.0, bf.CycleS)
	assert.Equal(t, mqtt.CellState{Cell: "G02", Kind: "grinder", State: "grinding", CommOK: true, Counter: 12, Alarm: "E1", SourceTime: t0.Add(2 * time.Second)}, cell)
	assert.Equal(t, "released", bt.From)
	assert.Equal(t, "running", bt.To)

	// The line state is retained: a late subscriber gets it.
	rec.WaitFor("the line state with the latest figures", func(ms []mqtttest.Message) bool {
		return count(ms, func(m mqtttest.Message) bool {
			return m.Topic == root+"/state" && strings.Contains(string(m.Payload), `"output_today":2`)
		}) > 0
	})
	late := mqtttest.MustRecorder(t, broker.URL(), root+"/state", root+"/G02/state")
	ms := late.WaitFor("the retained states", func(ms []mqtttest.Message) bool { return len(ms) >= 3 })
	var ls mqtt.LineState
	for _, m := range ms {
		if strings.HasPrefix(m.Topic, root) {
			assert.True(t, m.Retained, m.Topic)
		}
		if m.Topic == root+"/state" {
			require.NoError(t, json.Unmarshal(m.Payload, &ls))
		}
	}
	assert.Equal(t, 1, ls.States["grinding"])
	assert.Equal(t, []string{"G02"}, ls.Alarms)
	assert.Equal(t, uint64(2), ls.Figures.OutputToday)
}
