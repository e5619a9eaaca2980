package bolt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/pilotline/pilotline/mes"
)

// Stored burs (bucket burs) use a compact binary encoding like the events
// (encoding.go): a trace export of a large batch spent nearly all its time
// in json.Unmarshal. JSON stays at the API edge, and values written before
// schema 5 still decode from JSON.
//
// Layout of bur encoding version 1, in field order, with the primitives of
// encoding.go ("sv" is a zigzag varint for Go ints):
//
//	byte   0x01 (encoding version; a JSON value starts with '{')
//	str    serial, batch, product
//	sv     seq
//	str    blank lot
//	sv     next op
//	str    machine
//	code   disposition (burDispositionCodes)
//	str    scrap reason
//	time   created, finished
//	uv     operations+1 (0: nil slice), then per operation:
//	       sv number, str name, machine, uv cycle seq, str program, program
//	       version, program hash, wheel id, f64 wheel wear, uv dress count,
//	       time start, end, f64 cycle s, peak load, energy, byte aborted
//	byte   0 no measurement, 1 a measurement follows:
//	       uv seq, str serial, station, gauge id, time calibration due, time,
//	       uv values+1 (0: nil map), then per value in key order: str key, f64 value
//	uv     results+1 (0: nil slice), then per result:
//	       str characteristic, f64 value, nominal, lower, upper, byte pass
//
// Nil and empty slices and maps stay apart, so a bur reads back exactly as
// it was written (JSON turned empty results into nil).
//
// IMPORTANT: like the event encoding, append-only by version; decoding
// rejects trailing bytes. The record hash (mes.BurRecordHash) is over the
// decoded value, never these bytes, so re-encoding a bur leaves its audit
// entry valid.
const burEncodingV1 = 0x01

// burDispositionCodes is the code table of bur encoding version 1.
// IMPORTANT: never change or extend it (see eventKindCodes).
var burDispositionCodes = []mes.BurDisposition{mes.BurInProcess, mes.BurGood, mes.BurScrap, mes.BurRework}

// appendBur appends the binary encoding of b to dst. Errors: errNotFinite
// for a NaN or infinite float, which JSON refused too.
func appendBur(dst []byte, b *mes.Bur) ([]byte, error) {
	w := eventEncoder{b: dst}
	w.b = append(w.b, burEncodingV1)
	w.str(b.Serial)
	w.str(b.Batch)
	w.str(b.Product)
	w.b = binary.AppendVarint(w.b, int64(b.Seq))
	w.str(b.BlankLot)
	w.b = binary.AppendVarint(w.b, int64(b.NextOp))
	w.str(b.Machine)
	w.b = appendCode(w.b, b.Disposition, burDispositionCodes)
	w.str(b.ScrapReason)
	w.time(b.Created)
	w.time(b.Finished)
	w.count(b.Operations == nil, len(b.Operations))
	for i := range b.Operations {
		op := &b.Operations[i]
		w.b = binary.AppendVarint(w.b, int64(op.Number))
		w.str(op.Name)
		w.str(op.Machine)
		w.uv(op.CycleSeq)
		w.str(op.Program)
		w.str(op.ProgramVersion)
		w.str(op.ProgramHash)
		w.str(op.WheelID)
		w.f64(op.WheelWearUM)
		w.uv(uint64(op.DressCount))
		w.time(op.Start)
		w.time(op.End)
		w.f64(op.CycleS)
		w.f64(op.PeakSpindleLoad)
		w.f64(op.EnergyKWh)
		w.b = append(w.b, boolByte(op.Aborted))
	}
	if m := b.Measurement; m == nil {
		w.b = append(w.b, 0)
	} else {
		w.b = append(w.b, 1)
		w.measurement(m)
	}
	w.count(b.Results == nil, len(b.Results))
	for _, r := range b.Results {
		w.str(r.Characteristic)
		w.f64(r.Value)
		w.f64(r.Nominal)
		w.f64(r.Lower)
		w.f64(r.Upper)
		w.b = append(w.b, boolByte(r.Pass))
	}
	if w.err != nil {
		return nil, fmt.Errorf("encode bur %q: %w", b.Serial, w.err)
	}
	return w.b, nil
}

// count writes n+1, or 0 for a nil slice or map.
func (w *eventEncoder) count(isNil bool, n int) {
	if isNil {
		w.uv(0)
		return
	}
	w.uv(uint64(n) + 1)
}

// burDecoders lends decoders to bur reads, so the operation names,
// machines, programs and characteristics that every bur repeats are
// interned across calls instead of allocated for each bur.
var burDecoders = sync.Pool{New: func() any { return newEventDecoder() }}

// decodeBurValue decodes a stored bur: binary, or JSON as written before
// schema 5. The result never points into v.
func decodeBurValue(v []byte) (*mes.Bur, error) {
	if len(v) > 0 && v[0] == '{' {
		var b mes.Bur
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, err
		}
		return &b, nil
	}
	if len(v) == 0 || v[0] != burEncodingV1 {
		return nil, fmt.Errorf("unknown bur encoding %#x", v[:min(len(v), 1)])
	}
	d := burDecoders.Get().(*eventDecoder)
	defer burDecoders.Put(d)
	return d.bur(v[1:])
}

// burAlloc holds a bur and its measurement in one allocation.
type burAlloc struct {
	bur mes.Bur
	m   mes.Measurement
}

func (d *eventDecoder) bur(v []byte) (*mes.Bur, error) {
	r := eventReader{b: v, d: d}
	a := &burAlloc{}
	b := &a.bur
	b.Serial = r.str()
	b.Batch = r.istr()
	b.Product = r.istr()
	b.Seq = int(r.sv())
	b.BlankLot = r.istr()
	b.NextOp = int(r.sv())
	b.Machine = r.istr()
	b.Disposition = readCode(&r, burDispositionCodes, d)
	b.ScrapReason = r.str()
	b.Created = r.time()
	b.Finished = r.time()
	if n, ok := r.count(16); ok {
		b.Operations = make([]mes.OperationRecord, n)
		for i := range b.Operations {
			op := &b.Operations[i]
			op.Number = int(r.sv())
			op.Name = r.istr()
			op.Machine = r.istr()
			op.CycleSeq = r.uv()
			op.Program = r.istr()
			op.ProgramVersion = r.istr()
			op.ProgramHash = r.istr()
			op.WheelID = r.istr()
			op.WheelWearUM = r.f64()
			op.DressCount = uint32(r.uv())
			op.Start = r.time()
			op.End = r.time()
			op.CycleS = r.f64()
			op.PeakSpindleLoad = r.f64()
			op.EnergyKWh = r.f64()
			op.Aborted = r.byte() != 0
		}
	}
	switch r.byte() {
	case 0:
	case 1:
		m := &a.m
		m.Seq = r.uv()
		m.Serial = r.str()
		m.Station = r.istr()
		m.GaugeID = r.istr()
		m.CalibrationDue = r.time()
		m.Time = r.time()
		if n, ok := r.count(9); ok {
			m.Values = make(map[string]float64, n)
			for range n {
				k := r.istr()
				m.Values[k] = r.f64()
			}
		}
		b.Measurement = m
	default:
		r.fail(fmt.Errorf("decode bur: bad measurement flag"))
	}
	if n, ok := r.count(34); ok {
		b.Results = make([]mes.CharResult, n)
		for i := range b.Results {
			res := &b.Results[i]
			res.Characteristic = r.istr()
			res.Value = r.f64()
			res.Nominal = r.f64()
			res.Lower = r.f64()
			res.Upper = r.f64()
			res.Pass = r.byte() != 0
		}
	}
	if r.err == nil && len(r.b) != 0 {
		return nil, fmt.Errorf("decode bur: %d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode bur: %w", r.err)
	}
	return b, nil
}

// count reads a count written by eventEncoder.count: ok is false for nil.
// minSize is the fewest bytes one element takes, so a corrupt count fails
// here instead of allocating a huge slice.
func (r *eventReader) count(minSize int) (int, bool) {
	n := r.uv()
	if n == 0 || r.err != nil {
		return 0, false
	}
	n--
	if n > uint64(len(r.b)/minSize) {
		r.fail(errShort)
		return 0, false
	}
	return int(n), true
}

// EncodeBur returns b in the stored encoding of the burs bucket. It is
// for tools that read or edit a store file directly (forensic checks,
// tamper tests); services never need it. Errors: as appendBur.
func EncodeBur(b *mes.Bur) ([]byte, error) { return appendBur(nil, b) }

// DecodeBur decodes a value of the burs bucket, binary or the JSON of
// schema 4 and earlier; the result never points into v.
func DecodeBur(v []byte) (*mes.Bur, error) { return decodeBurValue(v) }
