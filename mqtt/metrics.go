package mqtt

import (
	"time"

	"github.com/pilotline/pilotline/mes"
	spb "github.com/pilotline/pilotline/mqtt/sparkplugb"
)

// Metric names. Devices carry "Kind" so a host knows a grinder from a
// robot without knowing the line's configuration.
const (
	MetricBdSeq       = "bdSeq"
	MetricRebirth     = "Node Control/Rebirth"
	MetricLineName    = "Properties/Line Name"
	MetricTwinURL     = "Properties/Twin URL"
	MetricTaktTarget  = "Line/Takt Target"
	MetricTakt        = "Line/Takt"
	MetricOEE         = "Line/OEE"
	MetricAvail       = "Line/Availability"
	MetricPerf        = "Line/Performance"
	MetricQuality     = "Line/Quality"
	MetricOutputToday = "Line/Output Today"
	MetricGoodToday   = "Line/Good Today"
	MetricEnergyGood  = "Line/Energy per Good Bur"

	MetricKind          = "Kind"
	MetricState         = "State"
	MetricMode          = "Mode"
	MetricCommOK        = "Comm OK"
	MetricCounter       = "Parts Counter"
	MetricSpindleSpeed  = "Spindle/Speed"
	MetricSpindleLoad   = "Spindle/Load"
	MetricCoolantTemp   = "Coolant/Temperature"
	MetricPower         = "Power"
	MetricEnergy        = "Energy"
	MetricWheelID       = "Wheel/ID"
	MetricWheelDiameter = "Wheel/Diameter"
	MetricWheelWear     = "Wheel/Wear"
	MetricDressCount    = "Wheel/Dress Count"
	MetricJobSerial     = "Job/Serial"
	MetricJobProgram    = "Job/Program"
	MetricJobProgress   = "Job/Progress"
	MetricAlarmActive   = "Alarm/Active"
	MetricAlarmCode     = "Alarm/Code"
	MetricAlarmText     = "Alarm/Text"
	MetricAlarmSeverity = "Alarm/Severity"
	MetricCycleSerial   = "Last Cycle/Serial"
	MetricCycleProgram  = "Last Cycle/Program"
	MetricCycleTime     = "Last Cycle/Time"
	MetricCycleEnergy   = "Last Cycle/Energy"
	MetricCycleAborted  = "Last Cycle/Aborted"
	MetricMeasSerial    = "Measurement/Serial"
	MetricRobotAt       = "Position"
	MetricRobotTarget   = "Target"
	MetricRobotBur      = "Bur"
	MetricCount         = "Count"
	MetricLastSerial    = "Last Serial"
)

// Device kinds (the "Kind" metric).
const (
	KindGrinder    = mes.KindGrinder
	KindInspection = mes.KindInspection
	KindRobot      = "robot"
	KindMagazine   = mes.KindMagazine
	KindOutput     = mes.KindOutput
)

// metricDef is one metric of a device or of the node: its alias is fixed by
// the line's configuration, so it is the same in every birth.
type metricDef struct {
	Name  string
	Alias uint64
	Type  spb.DataType
	Unit  string // engineering unit, the "engUnit" property; "" for none
}

var (
	tString = spb.DataType_String
	tBool   = spb.DataType_Boolean
	tDouble = spb.DataType_Double
	// Counts that fit 32 bits are UInt64 too: the specification puts a
	// UInt32 in int_value, Eclipse Tahu's JavaScript and Java payload
	// libraries read it from long_value, so no UInt32 decodes alike in both.
	tU64 = spb.DataType_UInt64
)

func nodeDefs() []metricDef {
	return []metricDef{
		{Name: MetricBdSeq, Type: tU64},
		{Name: MetricRebirth, Type: tBool},
		{Name: MetricLineName, Type: tString},
		{Name: MetricTwinURL, Type: tString},
		{Name: MetricTaktTarget, Type: tDouble, Unit: "s"},
		{Name: MetricTakt, Type: tDouble, Unit: "s"},
		{Name: MetricOEE, Type: tDouble, Unit: "ratio"},
		{Name: MetricAvail, Type: tDouble, Unit: "ratio"},
		{Name: MetricPerf, Type: tDouble, Unit: "ratio"},
		{Name: MetricQuality, Type: tDouble, Unit: "ratio"},
		{Name: MetricOutputToday, Type: tU64, Unit: "burs"},
		{Name: MetricGoodToday, Type: tU64, Unit: "burs"},
		{Name: MetricEnergyGood, Type: tDouble, Unit: "kWh"},
	}
}

func deviceDefs(kind string) []metricDef {
	common := []metricDef{{Name: MetricKind, Type: tString}, {Name: MetricCommOK, Type: tBool}}
	alarm := []metricDef{
		{Name: MetricAlarmActive, Type: tBool}, {Name: MetricAlarmCode, Type: tString},
		{Name: MetricAlarmText, Type: tString}, {Name: MetricAlarmSeverity, Type: tU64},
	}
	switch kind {
	case KindGrinder:
		d := append(common,
			metricDef{Name: MetricState, Type: tString}, metricDef{Name: MetricMode, Type: tString},
			metricDef{Name: MetricCounter, Type: tU64, Unit: "parts"},
			metricDef{Name: MetricSpindleSpeed, Type: tDouble, Unit: "rpm"},
			metricDef{Name: MetricSpindleLoad, Type: tDouble, Unit: "%"},
			metricDef{Name: MetricCoolantTemp, Type: tDouble, Unit: "°C"},
			metricDef{Name: MetricPower, Type: tDouble, Unit: "kW"},
			metricDef{Name: MetricEnergy, Type: tDouble, Unit: "kWh"},
			metricDef{Name: MetricWheelID, Type: tString},
			metricDef{Name: MetricWheelDiameter, Type: tDouble, Unit: "mm"},
			metricDef{Name: MetricWheelWear, Type: tDouble, Unit: "µm"},
			metricDef{Name: MetricDressCount, Type: tU64},
			metricDef{Name: MetricJobSerial, Type: tString},
			metricDef{Name: MetricJobProgram, Type: tString},
			metricDef{Name: MetricJobProgress, Type: tDouble, Unit: "ratio"},
			metricDef{Name: MetricCycleSerial, Type: tString},
			metricDef{Name: MetricCycleProgram, Type: tString},
			metricDef{Name: MetricCycleTime, Type: tDouble, Unit: "s"},
			metricDef{Name: MetricCycleEnergy, Type: tDouble, Unit: "kWh"},
			metricDef{Name: MetricCycleAborted, Type: tBool},
		)
		return append(d, alarm...)
	case KindInspection:
		d := append(common,
			metricDef{Name: MetricState, Type: tString}, metricDef{Name: MetricMode, Type: tString},
			metricDef{Name: MetricCounter, Type: tU64, Unit: "parts"},
			metricDef{Name: MetricMeasSerial, Type: tString},
		)
		for _, ch := range mes.Characteristics {
			d = append(d, metricDef{Name: "Measurement/" + ch, Type: tDouble, Unit: "mm"})
		}
		return append(d, alarm...)
	case KindRobot:
		return append(common,
			metricDef{Name: MetricState, Type: tString}, metricDef{Name: MetricRobotAt, Type: tString},
			metricDef{Name: MetricRobotTarget, Type: tString}, metricDef{Name: MetricRobotBur, Type: tString},
		)
	default: // magazine, output tray
		return append(common,
			metricDef{Name: MetricCount, Type: tU64, Unit: "parts"}, metricDef{Name: MetricLastSerial, Type: tString},
		)
	}
}

// metricSet is the current value of each metric of one device (or of the
// node) and which changed since they were last published.
type metricSet struct {
	ID     string // device id; "" for the node
	Kind   string
	Defs   []metricDef
	index  map[string]int
	values []any // string, bool, float64 or uint64; nil until known
	times  []time.Time
	dirty  []bool
}

func newMetricSet(id, kind string, defs []metricDef, aliasBase uint64) *metricSet {
	s := &metricSet{ID: id, Kind: kind, Defs: defs, index: map[string]int{},
		values: make([]any, len(defs)), times: make([]time.Time, len(defs)), dirty: make([]bool, len(defs))}
	for i := range s.Defs {
		s.Defs[i].Alias = aliasBase + uint64(i)
		s.index[s.Defs[i].Name] = i
	}
	return s
}

// set records v as name's value at t; it marks the metric changed only
// when the value differs (report by exception).
func (s *metricSet) set(name string, v any, t time.Time) {
	i, ok := s.index[name]
	if !ok {
		return
	}
	if s.values[i] == v {
		return
	}
	s.values[i], s.times[i], s.dirty[i] = v, t, true
}

func (s *metricSet) get(name string) any {
	if i, ok := s.index[name]; ok {
		return s.values[i]
	}
	return nil
}

// changed returns the metrics changed since the last call, by alias only,
// and clears them.
func (s *metricSet) changed() []*spb.Payload_Metric {
	var out []*spb.Payload_Metric
	for i, d := range s.dirty {
		if !d {
			continue
		}
		s.dirty[i] = false
		out = append(out, metricPB(s.Defs[i], s.values[i], s.times[i], false))
	}
	return out
}

// birth returns every metric with its name, alias, type, unit and current
// value (null when not yet known).
func (s *metricSet) birth(now time.Time) []*spb.Payload_Metric {
	out := make([]*spb.Payload_Metric, len(s.Defs))
	for i, d := range s.Defs {
		t := s.times[i]
		if t.IsZero() {
			t = now
		}
		out[i] = metricPB(d, s.values[i], t, true)
		s.dirty[i] = false
	}
	return out
}

// fold applies one machine event to the device's metrics.
func (s *metricSet) fold(e mes.MachineEvent) {
	t := e.SourceTime
	switch e.Kind {
	case mes.EventState:
		s.set(MetricState, string(e.State), t)
		if e.Mode != "" {
			s.set(MetricMode, e.Mode, t)
		}
		s.set(MetricCommOK, true, t)
	case mes.EventCounter:
		s.set(MetricCounter, e.Counter, t)
	case mes.EventCycle:
		if c := e.Cycle; c != nil {
			s.set(MetricCycleSerial, c.Serial, t)
			s.set(MetricCycleProgram, c.Program, t)
			s.set(MetricCycleTime, c.CycleTime().Seconds(), t)
			s.set(MetricCycleEnergy, c.EnergyKWh, t)
			s.set(MetricCycleAborted, c.Aborted, t)
			s.set(MetricCounter, c.Seq, t)
		}
	case mes.EventAlarmRaised:
		if a := e.Alarm; a != nil {
			s.set(MetricAlarmActive, true, t)
			s.set(MetricAlarmCode, a.Code, t)
			s.set(MetricAlarmText, a.Text, t)
			s.set(MetricAlarmSeverity, uint64(max(a.Severity, 0)), t)
		}
	case mes.EventAlarmCleared:
		s.set(MetricAlarmActive, false, t)
	case mes.EventMeasurement:
		if m := e.Measurement; m != nil {
			s.set(MetricMeasSerial, m.Serial, t)
			for ch, v := range m.Values {
				s.set("Measurement/"+ch, v, t)
			}
			s.set(MetricCounter, m.Seq, t)
		}
	case mes.EventSample:
		if p := e.Sample; p != nil {
			s.set(MetricSpindleSpeed, p.SpindleSpeed, t)
			s.set(MetricSpindleLoad, p.SpindleLoad, t)
			s.set(MetricCoolantTemp, p.CoolantTemp, t)
			s.set(MetricPower, p.PowerKW, t)
			s.set(MetricEnergy, p.EnergyKWh, t)
			s.set(MetricWheelDiameter, p.WheelDiameter, t)
			s.set(MetricWheelWear, p.WheelWearUM, t)
			s.set(MetricJobProgress, p.Progress, t)
			s.set(MetricJobSerial, p.Serial, t)
			s.set(MetricJobProgram, p.Program, t)
			if p.WheelID != "" {
				s.set(MetricWheelID, p.WheelID, t)
				s.set(MetricDressCount, uint64(p.DressCount), t)
			}
			s.set(MetricCommOK, true, t)
		}
	case mes.EventCommLost:
		s.set(MetricCommOK, false, t)
	case mes.EventCommRestored:
		s.set(MetricCommOK, true, t)
	case mes.EventRobot:
		if r := e.Robot; r != nil {
			s.set(MetricState, string(r.State), t)
			s.set(MetricRobotAt, r.At, t)
			s.set(MetricRobotTarget, r.Target, t)
			s.set(MetricRobotBur, r.Bur, t)
			s.set(MetricCommOK, true, t)
		}
	case mes.EventStation:
		if st := e.Station; st != nil {
			s.set(MetricCount, st.Count, t)
			s.set(MetricLastSerial, st.LastSerial, t)
			s.set(MetricCommOK, true, t)
		}
	}
}

// metricPB is one Sparkplug metric; births carry the name, the datatype
// and the unit, data messages the alias alone.
func metricPB(d metricDef, v any, t time.Time, birth bool) *spb.Payload_Metric {
	m := &spb.Payload_Metric{Alias: ptr(d.Alias), Timestamp: ptr(uint64(t.UnixMilli()))}
	if birth {
		m.Name = ptr(d.Name)
		m.Datatype = ptr(uint32(d.Type))
		if d.Unit != "" {
			m.Properties = &spb.Payload_PropertySet{
				Keys:   []string{"engUnit"},
				Values: []*spb.Payload_PropertyValue{{Type: ptr(uint32(spb.DataType_String)), Value: &spb.Payload_PropertyValue_StringValue{StringValue: d.Unit}}},
			}
		}
	}
	switch x := v.(type) {
	case nil:
		m.IsNull = ptr(true)
	case string:
		m.Value = &spb.Payload_Metric_StringValue{StringValue: x}
	case bool:
		m.Value = &spb.Payload_Metric_BooleanValue{BooleanValue: x}
	case float64:
		m.Value = &spb.Payload_Metric_DoubleValue{DoubleValue: x}
	case uint64:
		m.Value = &spb.Payload_Metric_LongValue{LongValue: x}
	}
	return m
}

func ptr[T any](v T) *T { return &v }
