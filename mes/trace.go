package mes

import (
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
)

// TraceRecordSchema names the layout of TraceRecord in exports.
const TraceRecordSchema = "pilotline.trace-record/v1"

// TraceQuantities are the batch's counts for the record of production
// (21 CFR 820.184(b)(c), ISO 13485 §7.5.1).
type TraceQuantities struct {
	Ordered   int `json:"ordered"`
	Started   int `json:"started"`    // blanks taken
	Made      int `json:"made"`       // finished production, whatever the verdict: good + scrap + rework
	Good      int `json:"good"`       // passed inspection
	Scrap     int `json:"scrap"`      // scrapped
	Rework    int `json:"rework"`     // sent to rework
	InProcess int `json:"in_process"` // started but not finished
	Released  int `json:"released"`   // released for distribution: the good burs of a QA-released batch
}

// TraceDates are the dates of manufacture and release.
type TraceDates struct {
	Created         time.Time `json:"created"`
	ProductionStart time.Time `json:"production_start,omitzero"` // first move to running
	ProductionEnd   time.Time `json:"production_end,omitzero"`   // last move to completed
	Released        time.Time `json:"released,omitzero"`         // move to qa_released
	Rejected        time.Time `json:"rejected,omitzero"`         // move to rejected
}

// TraceRecord is a batch's record of production as exported for auditors
// and customers: everything but the burs, which are streamed beside it so
// a batch of any size exports in constant memory.
type TraceRecord struct {
	Schema          string           `json:"schema"`
	GeneratedAt     time.Time        `json:"generated_at"`
	TimeZone        string           `json:"time_zone"` // zone of the UDI manufacturing dates
	Batch           Batch            `json:"batch"`
	Product         Product          `json:"product"` // with its ISO 6360 number, GTIN and route
	UDIDI           string           `json:"udi_di"`  // GTIN-14, GS1 AI (01); "" when the product has no GTIN
	LotPI           string           `json:"lot_pi"`  // the lot's production identifier: (11) date of manufacture (10) lot
	Quantities      TraceQuantities  `json:"quantities"`
	Dates           TraceDates       `json:"dates"`
	RecordHash      string           `json:"record_hash,omitempty"` // BatchRecordHash, what signatures bind to
	Nonconformances []Nonconformance `json:"nonconformances"`
	Signatures      []Signature      `json:"signatures"`
	Audit           []AuditEntry     `json:"audit"`      // entries of this batch, in seq order (see AuditEntries)
	AuditHead       ChainHead        `json:"audit_head"` // head of the whole chain when exported

	// AuditEntries, when set, yields the batch's audit entries in seq order
	// in place of Audit, which stays empty: a batch has one entry per
	// finished bur, so a record assembled from the store streams them
	// rather than holding them (TraceSource.TraceRecord). It may be ranged
	// over more than once.
	AuditEntries iter.Seq2[AuditEntry, error] `json:"-"`

	// Location is the plant's time zone for UDI dates; nil means UTC.
	Location *time.Location `json:"-"`
}

// NewTraceRecord assembles the record of batch b of product p. Quantities
// come from the batch's counts, dates from its transitions. loc is the
// plant's zone for UDI manufacturing dates (nil: UTC).
func NewTraceRecord(b *Batch, p *Product, ncs []Nonconformance, sigs []Signature, audit []AuditEntry, head ChainHead, loc *time.Location, now time.Time) *TraceRecord {
	if loc == nil {
		loc = time.UTC
	}
	r := &TraceRecord{
		Schema: TraceRecordSchema, GeneratedAt: now, TimeZone: loc.String(), Location: loc,
		Batch: *b, Product: *p, Nonconformances: traceNonNil(ncs), Signatures: traceNonNil(sigs), Audit: traceNonNil(audit), AuditHead: head,
	}
	q := &r.Quantities
	q.Ordered, q.Started, q.Good, q.Scrap, q.Rework = b.Quantity, b.Started, b.Completed, b.Scrap, b.Rework
	q.Made = q.Good + q.Scrap + q.Rework
	q.InProcess = max(q.Started-q.Made, 0)
	if b.State == BatchQAReleased {
		q.Released = q.Good
	}
	d := &r.Dates
	d.Created = b.Created
	for _, t := range b.Transitions {
		switch t.To {
		case BatchRunning:
			if d.ProductionStart.IsZero() {
				d.ProductionStart = t.At
			}
		case BatchCompleted:
			d.ProductionEnd = t.At
		case BatchQAReleased:
			d.Released = t.At
		case BatchRejected:
			d.Rejected = t.At
		}
	}
	if p.GTIN != "" && ValidateGTIN(p.GTIN) == nil {
		r.UDIDI = GTIN14(p.GTIN)
	}
	made := d.ProductionEnd
	if made.IsZero() {
		made = d.ProductionStart
	}
	if made.IsZero() {
		made = d.Created
	}
	r.LotPI = "(11)" + made.In(loc).Format("060102") + "(10)" + b.ID
	return r
}

func traceNonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Loc is the record's time zone for UDI dates.
func (r *TraceRecord) Loc() *time.Location {
	if r.Location == nil {
		return time.UTC
	}
	return r.Location
}

// UDI returns the unique device identification of bur b of this record.
func (r *TraceRecord) UDI(b *Bur) UDI { return BurUDI(&r.Product, b, r.Loc()) }

// AuditSeq yields the batch's audit entries in seq order: from
// AuditEntries when set, else from Audit.
func (r *TraceRecord) AuditSeq() iter.Seq2[AuditEntry, error] {
	if r.AuditEntries != nil {
		return r.AuditEntries
	}
	return func(yield func(AuditEntry, error) bool) {
		for _, e := range r.Audit {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// ComputeRecordHash sets RecordHash from the record and its burs (one pass).
func (r *TraceRecord) ComputeRecordHash(burs iter.Seq2[*Bur, error]) error {
	h, err := BatchRecordHash(&r.Batch, &r.Product, r.Nonconformances, burs)
	if err != nil {
		return err
	}
	r.RecordHash = h
	return nil
}

// UDI is a bur's unique device identification in GS1 element strings: the
// device identifier (01) GTIN and the production identifier (11) date of
// manufacture, (10) lot and (21) serial.
type UDI struct {
	GTIN         string    // any GTIN length; written as GTIN-14
	Manufactured time.Time // formatted as YYMMDD in its own location
	Lot          string
	Serial       string
}

// BurUDI returns bur b's UDI: the product's GTIN, the bur's finishing date
// in loc (its last operation's end, or its creation, when not finished), its
// batch as the lot and its serial.
func BurUDI(p *Product, b *Bur, loc *time.Location) UDI {
	if loc == nil {
		loc = time.UTC
	}
	t := b.Finished
	if t.IsZero() && len(b.Operations) > 0 {
		t = b.Operations[len(b.Operations)-1].End
	}
	if t.IsZero() {
		t = b.Created
	}
	return UDI{GTIN: p.GTIN, Manufactured: t.In(loc), Lot: b.Batch, Serial: b.Serial}
}

// DI is the device identifier element string "(01)" + GTIN-14.
func (u UDI) DI() string { return "(01)" + GTIN14(u.GTIN) }

// PI is the production identifier element string "(11)YYMMDD(10)lot(21)serial".
func (u UDI) PI() string {
	return "(11)" + u.Manufactured.Format("060102") + "(10)" + u.Lot + "(21)" + u.Serial
}

// ElementString is the human-readable GS1 element string
// "(01)…(11)…(10)…(21)…" printed under a UDI carrier.
func (u UDI) ElementString() string { return u.DI() + u.PI() }

// GS1Data is the element string as a GS1 DataMatrix carries it after the
// leading FNC1: no parentheses, and the variable-length lot ended by the
// group separator (ASCII 29).
func (u UDI) GS1Data() string {
	return "01" + GTIN14(u.GTIN) + "11" + u.Manufactured.Format("060102") + "10" + u.Lot + "\x1d21" + u.Serial
}

// Validate checks the UDI: a valid GTIN, a date, and lot and serial of 1..20
// characters from the GS1 AI encodable character set 82. Errors: EINVALID.
func (u UDI) Validate() error {
	if err := ValidateGTIN(u.GTIN); err != nil {
		return err
	}
	if u.Manufactured.IsZero() {
		return Errorf(EINVALID, "udi: date of manufacture (11) required")
	}
	for _, f := range []struct{ ai, v string }{{"10", u.Lot}, {"21", u.Serial}} {
		if len(f.v) == 0 || len(f.v) > 20 {
			return Errorf(EINVALID, "udi: (%s) %q: want 1..20 characters", f.ai, f.v)
		}
		if i := strings.IndexFunc(f.v, func(r rune) bool { return !strings.ContainsRune(gs1CSet82, r) }); i >= 0 {
			return Errorf(EINVALID, "udi: (%s) %q: character %q is not in GS1 character set 82", f.ai, f.v, f.v[i])
		}
	}
	return nil
}

// gs1CSet82 is the GS1 AI encodable character set 82.
const gs1CSet82 = `!"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz`

// ValidateGTIN checks a GTIN-8, -12, -13 or -14: digits only, with a correct
// GS1 mod-10 check digit. Errors: EINVALID.
func ValidateGTIN(g string) error {
	switch len(g) {
	case 8, 12, 13, 14:
	default:
		return Errorf(EINVALID, "gtin %q: want 8, 12, 13 or 14 digits", g)
	}
	if strings.Trim(g, "0123456789") != "" {
		return Errorf(EINVALID, "gtin %q: digits only", g)
	}
	if want := GTINCheckDigit(g[:len(g)-1]); g[len(g)-1] != want {
		return Errorf(EINVALID, "gtin %q: check digit %c, want %c", g, g[len(g)-1], want)
	}
	return nil
}

// GTINCheckDigit returns the GS1 mod-10 check digit for the digits of a
// GTIN without its check digit: weights 3 and 1 alternate from the right.
func GTINCheckDigit(body string) byte {
	sum := 0
	for i := range len(body) {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// GTIN14 left-pads a GTIN with zeros to the 14 digits AI (01) carries.
func GTIN14(g string) string {
	if len(g) >= 14 {
		return g
	}
	return strings.Repeat("0", 14-len(g)) + g
}

// CharSummary summarises one characteristic over a batch.
type CharSummary struct {
	Characteristic string            `json:"characteristic"`
	Tolerance      Tolerance         `json:"tolerance"`
	N              int               `json:"n"`
	Pass           int               `json:"pass"`
	Fail           int               `json:"fail"`
	Min            float64           `json:"min_mm"`
	Max            float64           `json:"max_mm"`
	Capability     ProcessCapability `json:"capability"`
}

// MeasurementSummary accumulates per-characteristic statistics bur by bur,
// in production order (the order moving ranges need).
type MeasurementSummary struct {
	p      *Product
	values map[string][]float64
	pass   map[string]int
}

// NewMeasurementSummary starts a summary against p's tolerances.
func NewMeasurementSummary(p *Product) *MeasurementSummary {
	return &MeasurementSummary{p: p, values: map[string][]float64{}, pass: map[string]int{}}
}

// Add adds bur b's measured values of the toleranced characteristics.
func (s *MeasurementSummary) Add(b *Bur) {
	if b.Measurement == nil {
		return
	}
	for ch, t := range s.p.Tolerances {
		v, ok := b.Measurement.Values[ch]
		if !ok {
			continue
		}
		s.values[ch] = append(s.values[ch], v)
		if t.Contains(v) {
			s.pass[ch]++
		}
	}
}

// Result returns one summary per toleranced characteristic in Characteristics
// order (unknown ones after, by name).
func (s *MeasurementSummary) Result() []CharSummary {
	chars := make([]string, 0, len(s.p.Tolerances))
	for ch := range s.p.Tolerances {
		chars = append(chars, ch)
	}
	rank := func(ch string) int {
		if i := slices.Index(Characteristics, ch); i >= 0 {
			return i
		}
		return len(Characteristics)
	}
	slices.SortFunc(chars, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	out := make([]CharSummary, 0, len(chars))
	for _, ch := range chars {
		vals := s.values[ch]
		cs := CharSummary{Characteristic: ch, Tolerance: s.p.Tolerances[ch], N: len(vals), Pass: s.pass[ch], Fail: len(vals) - s.pass[ch]}
		if len(vals) > 0 {
			cs.Min, cs.Max = slices.Min(vals), slices.Max(vals)
		}
		cs.Capability = Capability(vals, cs.Tolerance)
		out = append(out, cs)
	}
	return out
}

// String describes a summary line for logs.
func (c CharSummary) String() string {
	return fmt.Sprintf("%s n=%d pass=%d cpk=%.3f", c.Characteristic, c.N, c.Pass, c.Capability.Cpk)
}
