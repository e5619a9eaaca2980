package trace

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// OperationColumns is the column order of the bur × operation CSV, one row
// per operation record of each bur, burs in serial order:
//
//	batch                   batch id, also the UDI lot (10)
//	serial                  bur serial, UDI (21)
//	udi_pi                  UDI production identifier "(11)YYMMDD(10)lot(21)serial"
//	operation               operation number on the route (10, 20, …)
//	operation_name          operation name (English)
//	grinder                 machine id (G01…G25)
//	cycle_seq               the grinder's part counter for the job
//	program                 NC program name
//	program_version         NC program version
//	program_hash            NC program hash (as reported by the machine)
//	wheel_id                grinding wheel id
//	dress_count             dressings of that wheel so far
//	wheel_wear_um           radial wheel wear since the last dressing, µm
//	start                   job start, ISO 8601 UTC with milliseconds
//	end                     job end, ISO 8601 UTC with milliseconds
//	cycle_s                 cycle time, seconds
//	peak_spindle_load_pct   peak spindle load, % of rated
//	energy_kwh              energy used by the job, kWh
//	aborted                 true when the job ended by an alarm
//	disposition             the bur's final disposition (good, scrap, rework, in_process)
//
// RFC 4180, UTF-8 without BOM, CRLF line ends, a header row; numbers use a
// '.' decimal point and as many digits as needed to read back exactly.
var OperationColumns = []string{
	"batch", "serial", "udi_pi", "operation", "operation_name", "grinder", "cycle_seq",
	"program", "program_version", "program_hash", "wheel_id", "dress_count", "wheel_wear_um",
	"start", "end", "cycle_s", "peak_spindle_load_pct", "energy_kwh", "aborted", "disposition",
}

// MeasurementColumns is the column order of the measurements CSV, one row
// per characteristic result of each bur, burs in serial order:
//
//	batch             batch id
//	serial            bur serial
//	characteristic    head_diameter, working_length, overall_length, shank_diameter, radial_runout
//	value_mm          measured value, mm ("" when the station did not report it)
//	nominal_mm        nominal, mm
//	lsl_mm            lower specification limit, mm
//	usl_mm            upper specification limit, mm
//	pass              true or false
//	station           inspection station id
//	gauge_id          gauge id
//	calibration_due   the gauge's calibration due date, ISO 8601 UTC
//	measured_at       time of measurement, ISO 8601 UTC with milliseconds
//
// Same format rules as OperationColumns.
var MeasurementColumns = []string{
	"batch", "serial", "characteristic", "value_mm", "nominal_mm", "lsl_mm", "usl_mm", "pass",
	"station", "gauge_id", "calibration_due", "measured_at",
}

// checkEvery is how many burs pass between context checks.
const checkEvery = 256

// WriteOperationsCSV writes the bur × operation CSV (OperationColumns).
// An error from burs or ctx stops the export and is returned wrapped.
func WriteOperationsCSV(ctx context.Context, w io.Writer, rec *mes.TraceRecord, burs iter.Seq2[*mes.Bur, error]) error {
	return writeCSV(ctx, w, burs, newOpsCSV(rec))
}

// WriteMeasurementsCSV writes the measurements CSV (MeasurementColumns).
func WriteMeasurementsCSV(ctx context.Context, w io.Writer, rec *mes.TraceRecord, burs iter.Seq2[*mes.Bur, error]) error {
	return writeCSV(ctx, w, burs, newMeasCSV(rec))
}

// rowWriter turns one bur into CSV rows.
type rowWriter interface {
	header() []string
	rows(cw *csv.Writer, b *mes.Bur) error
}

func writeCSV(ctx context.Context, w io.Writer, burs iter.Seq2[*mes.Bur, error], rw rowWriter) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(rw.header()); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	n := 0
	for b, err := range burs {
		if err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		if n++; n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
		}
		if err := rw.rows(cw, b); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

type opsCSV struct {
	rec *mes.TraceRecord
	row []string
	buf []byte
}

func newOpsCSV(rec *mes.TraceRecord) *opsCSV {
	return &opsCSV{rec: rec, row: make([]string, len(OperationColumns))}
}

func (o *opsCSV) header() []string { return OperationColumns }

func (o *opsCSV) rows(cw *csv.Writer, b *mes.Bur) error {
	pi := o.rec.UDI(b).PI()
	for _, op := range b.Operations {
		r := o.row
		r[0], r[1], r[2] = text(b.Batch), text(b.Serial), text(pi)
		r[3], r[4], r[5] = strconv.Itoa(op.Number), text(op.Name), text(op.Machine)
		r[6], r[7], r[8], r[9] = strconv.FormatUint(op.CycleSeq, 10), text(op.Program), text(op.ProgramVersion), text(op.ProgramHash)
		r[10], r[11], r[12] = text(op.WheelID), strconv.FormatUint(uint64(op.DressCount), 10), fmtFloat(op.WheelWearUM)
		r[13], r[14] = o.time(op.Start), o.time(op.End)
		r[15], r[16], r[17] = fmtFloat(op.CycleS), fmtFloat(op.PeakSpindleLoad), fmtFloat(op.EnergyKWh)
		r[18], r[19] = strconv.FormatBool(op.Aborted), text(string(b.Disposition))
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	return nil
}

// time formats t as ISO 8601 UTC with milliseconds; "" for the zero time.
func (o *opsCSV) time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	o.buf = appendISOMillis(o.buf[:0], t)
	return string(o.buf)
}

// appendISOMillis appends t as isoMillis in UTC, by hand: time.AppendFormat
// was a quarter of the CSV export's time.
func appendISOMillis(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, isoMillis)
	}
	h, mi, s := t.Clock()
	ms := t.Nanosecond() / 1e6
	dig := func(v, n int) {
		b = append(b, "0000"[:n]...)
		for i := len(b) - 1; n > 0; i, n = i-1, n-1 {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	dig(y, 4)
	b = append(b, '-')
	dig(int(mo), 2)
	b = append(b, '-')
	dig(d, 2)
	b = append(b, 'T')
	dig(h, 2)
	b = append(b, ':')
	dig(mi, 2)
	b = append(b, ':')
	dig(s, 2)
	b = append(b, '.')
	dig(ms, 3)
	return append(b, 'Z')
}

const isoMillis = "2006-01-02T15:04:05.000Z07:00"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return string(appendISOMillis(nil, t))
}

// text is a text cell as a spreadsheet may safely open it: a cell that
// starts with '=', '+', '-', '@', tab or carriage return would be run as a
// formula, so it gets a leading apostrophe (OWASP's CSV injection rule).
// Number and time cells are written by this package and never need it.
func text(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

type measCSV struct {
	rec *mes.TraceRecord
	row []string
}

func newMeasCSV(rec *mes.TraceRecord) *measCSV {
	return &measCSV{rec: rec, row: make([]string, len(MeasurementColumns))}
}

func (m *measCSV) header() []string { return MeasurementColumns }

// rows writes the bur's evaluated results; a bur measured but not yet
// evaluated gets rows judged against the record's product tolerances.
func (m *measCSV) rows(cw *csv.Writer, b *mes.Bur) error {
	results := b.Results
	if len(results) == 0 && b.Measurement != nil {
		results, _, _ = mes.Evaluate(&m.rec.Product, *b.Measurement)
	}
	var station, gauge, due, at string
	var values map[string]float64
	if me := b.Measurement; me != nil {
		station, gauge, due, at, values = me.Station, me.GaugeID, fmtTime(me.CalibrationDue), fmtTime(me.Time), me.Values
	}
	for _, res := range results {
		r := m.row
		value := ""
		if _, ok := values[res.Characteristic]; ok {
			value = fmtFloat(res.Value)
		}
		r[0], r[1], r[2], r[3] = text(b.Batch), text(b.Serial), text(res.Characteristic), value
		r[4], r[5], r[6], r[7] = fmtFloat(res.Nominal), fmtFloat(res.Lower), fmtFloat(res.Upper), strconv.FormatBool(res.Pass)
		r[8], r[9], r[10], r[11] = text(station), text(gauge), due, at
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	return nil
}
