package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// Stored machine events (buckets events and samples) use a compact binary
// encoding instead of JSON: reading a month of events for the KPIs spent
// nearly all its time in json.Unmarshal. JSON stays at the API edge.
//
// Layout of encoding version 1, in field order ("str" is a uvarint length
// and the bytes, "uv"/"sv" an unsigned/zigzag varint, "f64" 8 bytes of
// IEEE 754 bits little-endian, "time" see appendTime):
//
//	byte   0x01 (encoding version; a JSON value starts with '{')
//	str    machine
//	code   kind (eventKindCodes)
//	time   source time, received
//	code   state (machineStateCodes)
//	str    mode
//	uv     counter
//	str    reason
//	byte   which of alarm, cycle, measurement, sample, robot, station follow (bits 0…5),
//	       and whether the sample names its wheel (bit 6)
//	alarm        uv seq, str code, text, text_zh, sv severity, time raised, cleared
//	cycle        uv seq, str serial, program, program version, program hash, wheel id,
//	             f64 wheel wear, uv dress count, time start, end, f64 peak load, energy, byte aborted
//	measurement  uv seq, str serial, station, gauge id, time calibration due, time,
//	             uv values+1 (0: nil map), then per value in key order: str key, f64 value
//	sample       f64 spindle speed, load, coolant, power, energy, wheel diameter, wheel wear,
//	             progress, str serial, program, f64 ×6 axes, uv parts counter
//	sample wheel str wheel id, uv dress count (only with bit 6; added later)
//	robot        code state, str at, target, bur
//	station      uv count, str last serial
//
// A "code" is one byte for the kinds and states every event carries: 0 for
// the empty string, i+1 for entry i of its table, codeLiteral followed by a
// str for anything else.
//
// IMPORTANT: the encoding is append-only by version: a new field means a new
// version byte, a decoder for it, and a migration if old values must change,
// or, for an optional field, a new bit of the parts byte that old values do
// not set (the sample's wheel, bit 6), so they still decode unchanged with
// the field's zero value and need no migration. Decoding rejects unknown
// bits and trailing bytes so a value from a newer encoding is never
// half-read: a Pilotline from before bit 6 refuses samples that name their
// wheel rather than drop the wheel silently.
const eventEncodingV1 = 0x01

// The code tables of version 1. IMPORTANT: never change or extend them: a
// new kind or state is stored as a literal until a new encoding version.
var (
	eventKindCodes = []mes.EventKind{mes.EventState, mes.EventCounter, mes.EventCycle, mes.EventAlarmRaised, mes.EventAlarmCleared,
		mes.EventMeasurement, mes.EventSample, mes.EventCommLost, mes.EventCommRestored, mes.EventRobot, mes.EventStation}
	machineStateCodes = []mes.MachineState{mes.StateIdle, mes.StateLoading, mes.StateGrinding, mes.StateUnloading, mes.StateDressing,
		mes.StateToolChange, mes.StateAlarm, mes.StateStarved, mes.StateBlocked, mes.StateMaintenance, mes.StateMeasuring,
		mes.StateMoving, mes.StateCommLost, mes.StateOffline}
)

const codeLiteral = 0xff

const (
	hasAlarm = 1 << iota
	hasCycle
	hasMeasurement
	hasSample
	hasRobot
	hasStation
	hasSampleWheel // set only when the sample names a wheel or counts dressings
)

// Time encodings: a header uvarint, then for non-zero times the zigzag Unix
// seconds and the nanoseconds, and for non-UTC times the zigzag zone offset
// in seconds. Like JSON, only the offset survives, not the zone's name.
const (
	timeZero = iota
	timeUTC
	timeOffset
)

// errNotFinite is what JSON refused too: NaN and ±Inf are not measurements.
var errNotFinite = errors.New("float value is NaN or infinite")

// appendEvent appends the binary encoding of e to b.
func appendEvent(b []byte, e *mes.MachineEvent) ([]byte, error) {
	enc := eventEncoder{b: b}
	enc.event(e)
	if enc.err != nil {
		return nil, enc.err
	}
	return enc.b, nil
}

type eventEncoder struct {
	b   []byte
	err error
}

func (w *eventEncoder) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

func appendCode[S ~string](b []byte, s S, table []S) []byte {
	if s == "" {
		return append(b, 0)
	}
	if i := slices.Index(table, s); i >= 0 {
		return append(b, byte(i+1))
	}
	b = append(b, codeLiteral)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (w *eventEncoder) uv(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

func (w *eventEncoder) f64(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		w.err = errNotFinite
	}
	w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v))
}

func (w *eventEncoder) time(t time.Time) {
	if t.IsZero() {
		w.uv(timeZero)
		return
	}
	_, off := t.Zone()
	if off == 0 {
		w.uv(timeUTC)
	} else {
		w.uv(timeOffset)
		w.b = binary.AppendVarint(w.b, int64(off))
	}
	w.b = binary.AppendVarint(w.b, t.Unix())
	w.uv(uint64(t.Nanosecond()))
}

func (w *eventEncoder) event(e *mes.MachineEvent) {
	w.b = append(w.b, eventEncodingV1)
	w.str(e.Machine)
	w.b = appendCode(w.b, e.Kind, eventKindCodes)
	w.time(e.SourceTime)
	w.time(e.Received)
	w.b = appendCode(w.b, e.State, machineStateCodes)
	w.str(e.Mode)
	w.uv(e.Counter)
	w.str(e.Reason)
	var mask byte
	for bit, present := range []bool{e.Alarm != nil, e.Cycle != nil, e.Measurement != nil, e.Sample != nil, e.Robot != nil, e.Station != nil} {
		if present {
			mask |= 1 << bit
		}
	}
	// A sample without wheel data keeps the bytes it had before bit 6.
	wheel := e.Sample != nil && (e.Sample.WheelID != "" || e.Sample.DressCount != 0)
	if wheel {
		mask |= hasSampleWheel
	}
	w.b = append(w.b, mask)
	if a := e.Alarm; a != nil {
		w.uv(a.Seq)
		w.str(a.Code)
		w.str(a.Text)
		w.str(a.TextZH)
		w.b = binary.AppendVarint(w.b, int64(a.Severity))
		w.time(a.Raised)
		w.time(a.Cleared)
	}
	if c := e.Cycle; c != nil {
		w.uv(c.Seq)
		w.str(c.Serial)
		w.str(c.Program)
		w.str(c.ProgramVersion)
		w.str(c.ProgramHash)
		w.str(c.WheelID)
		w.f64(c.WheelWearUM)
		w.uv(uint64(c.DressCount))
		w.time(c.Start)
		w.time(c.End)
		w.f64(c.PeakSpindleLoad)
		w.f64(c.EnergyKWh)
		w.b = append(w.b, boolByte(c.Aborted))
	}
	if m := e.Measurement; m != nil {
		w.measurement(m)
	}
	if s := e.Sample; s != nil {
		for _, v := range [...]float64{s.SpindleSpeed, s.SpindleLoad, s.CoolantTemp, s.PowerKW, s.EnergyKWh, s.WheelDiameter, s.WheelWearUM, s.Progress} {
			w.f64(v)
		}
		w.str(s.Serial)
		w.str(s.Program)
		for _, v := range s.Axes {
			w.f64(v)
		}
		w.uv(s.PartsCounter)
		if wheel {
			w.str(s.WheelID)
			w.uv(uint64(s.DressCount))
		}
	}
	if r := e.Robot; r != nil {
		w.b = appendCode(w.b, r.State, machineStateCodes)
		w.str(r.At)
		w.str(r.Target)
		w.str(r.Bur)
	}
	if s := e.Station; s != nil {
		w.uv(s.Count)
		w.str(s.LastSerial)
	}
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// eventDecoder decodes stored events. It interns the short strings that
// repeat across events (machine ids, kinds, states, programs, alarm codes),
// so a month of events does not allocate each of them half a million times.
// One decoder serves one goroutine.
type eventDecoder struct {
	intern map[string]string
	local  map[int]*time.Location
}

// internMax bounds the interned strings; past it, strings are allocated as
// usual, so a stream of unique values cannot grow the table without limit.
const internMax = 4096

func newEventDecoder() *eventDecoder {
	return &eventDecoder{intern: make(map[string]string, 64)}
}

// eventHeader returns the machine and kind of an encoded event without
// decoding the rest, so readers can skip events they do not want. The
// slices point into v.
func eventHeader(v []byte) (machine []byte, kind mes.EventKind, err error) {
	if len(v) == 0 || v[0] != eventEncodingV1 {
		return nil, "", errNotBinary
	}
	r := eventReader{b: v[1:]}
	machine = r.bytes()
	kind = readCode(&r, eventKindCodes, nil)
	return machine, kind, r.err
}

// errNotBinary marks a value in the JSON encoding of schema 1.
var errNotBinary = errors.New("not a binary event")

// decode decodes v (binary, or JSON as written by schema 1) into e.
func (d *eventDecoder) decode(v []byte, e *mes.MachineEvent) error {
	if len(v) > 0 && v[0] == '{' {
		*e = mes.MachineEvent{}
		return json.Unmarshal(v, e)
	}
	if len(v) == 0 || v[0] != eventEncodingV1 {
		return fmt.Errorf("unknown event encoding %#x", v[:min(len(v), 1)])
	}
	r := eventReader{b: v[1:], d: d}
	*e = mes.MachineEvent{
		Machine:    r.istr(),
		Kind:       readCode(&r, eventKindCodes, d),
		SourceTime: r.time(),
		Received:   r.time(),
		State:      readCode(&r, machineStateCodes, d),
		Mode:       r.istr(),
		Counter:    r.uv(),
		Reason:     r.str(),
	}
	mask := r.byte()
	if mask&hasAlarm != 0 {
		e.Alarm = &mes.Alarm{Seq: r.uv(), Code: r.istr(), Text: r.istr(), TextZH: r.istr(), Severity: int(r.sv()), Raised: r.time(), Cleared: r.time()}
	}
	if mask&hasCycle != 0 {
		e.Cycle = &mes.Cycle{Seq: r.uv(), Serial: r.str(), Program: r.istr(), ProgramVersion: r.istr(), ProgramHash: r.istr(),
			WheelID: r.istr(), WheelWearUM: r.f64(), DressCount: uint32(r.uv()), Start: r.time(), End: r.time(),
			PeakSpindleLoad: r.f64(), EnergyKWh: r.f64(), Aborted: r.byte() != 0}
	}
	if mask&hasMeasurement != 0 {
		m := &mes.Measurement{Seq: r.uv(), Serial: r.str(), Station: r.istr(), GaugeID: r.istr(), CalibrationDue: r.time(), Time: r.time()}
		if n := r.uv(); n > 0 && r.err == nil {
			if n-1 > uint64(len(r.b)) { // each value takes at least one byte
				return fmt.Errorf("decode event: %d measurement values in %d bytes", n-1, len(r.b))
			}
			m.Values = make(map[string]float64, n-1)
			for range n - 1 {
				k := r.istr()
				m.Values[k] = r.f64()
			}
		}
		e.Measurement = m
	}
	if mask&hasSample != 0 {
		s := &mes.Sample{SpindleSpeed: r.f64(), SpindleLoad: r.f64(), CoolantTemp: r.f64(), PowerKW: r.f64(), EnergyKWh: r.f64(),
			WheelDiameter: r.f64(), WheelWearUM: r.f64(), Progress: r.f64(), Serial: r.str(), Program: r.istr()}
		for i := range s.Axes {
			s.Axes[i] = r.f64()
		}
		s.PartsCounter = r.uv()
		if mask&hasSampleWheel != 0 {
			s.WheelID, s.DressCount = r.istr(), r.u32()
		}
		e.Sample = s
	}
	if mask&hasRobot != 0 {
		e.Robot = &mes.RobotStatus{State: readCode(&r, machineStateCodes, d), At: r.istr(), Target: r.istr(), Bur: r.str()}
	}
	if mask&hasStation != 0 {
		e.Station = &mes.StationStatus{Count: r.uv(), LastSerial: r.str()}
	}
	if mask >= 1<<7 || (mask&hasSampleWheel != 0 && mask&hasSample == 0) {
		return fmt.Errorf("decode event: unknown parts %#x", mask)
	}
	if r.err == nil && len(r.b) != 0 {
		return fmt.Errorf("decode event: %d trailing bytes", len(r.b))
	}
	return r.err
}

// eventReader consumes an encoded event; the first error sticks and makes
// every later read return zero.
type eventReader struct {
	b   []byte
	d   *eventDecoder
	err error
}

var errShort = errors.New("decode event: value too short")

func (r *eventReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *eventReader) uv() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// u32 reads a uvarint that must fit 32 bits, so that a damaged value is an
// error rather than a silently truncated count.
func (r *eventReader) u32() uint32 {
	v := r.uv()
	if v > math.MaxUint32 {
		r.fail(fmt.Errorf("decode event: %d does not fit 32 bits", v))
		return 0
	}
	return uint32(v)
}

func (r *eventReader) sv() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *eventReader) byte() byte {
	if len(r.b) == 0 {
		r.fail(errShort)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *eventReader) f64() float64 {
	if len(r.b) < 8 {
		r.fail(errShort)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *eventReader) bytes() []byte {
	n := r.uv()
	if n > uint64(len(r.b)) {
		r.fail(errShort)
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// str returns a new string: for values that rarely repeat (serials, texts).
func (r *eventReader) str() string {
	b := r.bytes()
	if len(b) == 0 {
		return ""
	}
	return string(b)
}

// istr returns an interned string: for values that repeat.
func (r *eventReader) istr() string {
	b := r.bytes()
	if len(b) == 0 {
		return ""
	}
	if s, ok := r.d.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(r.d.intern) < internMax {
		r.d.intern[s] = s
	}
	return s
}

// readCode reads a code of table; literals are interned when d is set.
func readCode[S ~string](r *eventReader, table []S, d *eventDecoder) S {
	c := r.byte()
	switch {
	case c == 0:
		return ""
	case int(c) <= len(table):
		return table[c-1]
	case c != codeLiteral:
		r.fail(fmt.Errorf("decode event: unknown code %d", c))
		return ""
	case d == nil:
		return S(r.str())
	}
	return S(r.istr())
}

func (r *eventReader) time() time.Time {
	var off int64
	switch r.uv() {
	case timeZero:
		return time.Time{}
	case timeUTC:
	case timeOffset:
		off = r.sv()
	default:
		r.fail(fmt.Errorf("decode event: unknown time encoding"))
		return time.Time{}
	}
	sec, nsec := r.sv(), r.uv()
	if r.err != nil || nsec >= 1e9 {
		r.fail(errShort)
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	if off == 0 {
		return t.UTC()
	}
	return t.In(r.d.zone(t, int(off)))
}

// zone returns the location JSON decoding would give a time with this
// offset: Local when Local has that offset at t, else a fixed zone.
func (d *eventDecoder) zone(t time.Time, off int) *time.Location {
	if _, lo := t.In(time.Local).Zone(); lo == off {
		return time.Local
	}
	if d.local == nil {
		d.local = map[int]*time.Location{}
	}
	loc, ok := d.local[off]
	if !ok {
		loc = time.FixedZone("", off)
		d.local[off] = loc
	}
	return loc
}

// measurement encodes an inspection result, the same way inside an event
// and inside a bur. Values are sorted by characteristic so that equal
// values encode to equal bytes.
func (w *eventEncoder) measurement(m *mes.Measurement) {
	w.uv(m.Seq)
	w.str(m.Serial)
	w.str(m.Station)
	w.str(m.GaugeID)
	w.time(m.CalibrationDue)
	w.time(m.Time)
	w.count(m.Values == nil, len(m.Values))
	var stack [8]string
	keys := stack[:0]
	for k := range m.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w.str(k)
		w.f64(m.Values[k])
	}
}
