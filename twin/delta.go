package twin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// Fields is one entity's changed fields in a delta, by JSON name; grinders
// and robots always carry "id" as well.
type Fields map[string]json.RawMessage

// Delta is what changed since the previous message of the same stream.
// Applying it to the snapshot of sequence Seq−1 gives the snapshot of Seq.
type Delta struct {
	Type       string    `json:"type"` // "delta"
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Src        time.Time `json:"src,omitzero"` // omitted when equal to Time
	Grinders   []Fields  `json:"grinders,omitempty"`
	Robots     []Fields  `json:"robots,omitempty"`
	Inspection Fields    `json:"inspection,omitempty"`
	Magazine   Fields    `json:"magazine,omitempty"`
	Output     Fields    `json:"output,omitempty"`
	Production Fields    `json:"production,omitempty"`
	Spans      []Span    `json:"spans,omitempty"` // timeline spans opened, in order
}

// Filter narrows what a viewer sees: one batch (burs of other batches are
// shown without serials) and/or a set of grinders. The zero Filter shows all.
type Filter struct {
	Batch    string   `json:"batch,omitempty"`
	Grinders []string `json:"grinders,omitempty"`
}

// key identifies viewers that can share one encoded stream.
func (f Filter) key() string {
	return f.Batch + "|" + strings.Join(f.Grinders, ",")
}

func (f Filter) zero() bool { return f.Batch == "" && len(f.Grinders) == 0 }

func (f Filter) grinder(id string) bool {
	return len(f.Grinders) == 0 || slices.Contains(f.Grinders, id)
}

func (f Filter) serial(s string, batchOf func(string) string) string {
	if f.Batch == "" || s == "" || batchOf(s) == f.Batch {
		return s
	}
	return ""
}

// Apply returns what a viewer with filter f may see of s. s is not changed.
func (f Filter) Apply(s Snapshot, batchOf func(string) string) Snapshot {
	if f.zero() {
		return s
	}
	fc := f
	s.Filter = &fc
	gs := make([]Grinder, 0, len(s.Grinders))
	tl := make(map[string][]Span, len(s.Timeline))
	for _, g := range s.Grinders {
		if !f.grinder(g.ID) {
			continue
		}
		if f.Batch != "" {
			if g.Batch != f.Batch {
				g.Serial, g.Batch = "", ""
			}
			cs := make([]CycleSummary, 0, len(g.Cycles))
			for _, c := range g.Cycles {
				c.Serial = f.serial(c.Serial, batchOf)
				cs = append(cs, c)
			}
			g.Cycles = cs
		}
		gs = append(gs, g)
		tl[g.ID] = s.Timeline[g.ID]
	}
	s.Grinders, s.Timeline = gs, tl
	if f.Batch == "" {
		return s
	}
	rs := make([]Robot, 0, len(s.Robots))
	for _, r := range s.Robots {
		r.Bur = f.serial(r.Bur, batchOf)
		rs = append(rs, r)
	}
	s.Robots = rs
	if s.Inspection.Last != nil && f.serial(s.Inspection.Last.Serial, batchOf) == "" {
		s.Inspection.Last = nil
	}
	ls := []string{}
	for _, x := range s.Output.LastSerials {
		if f.serial(x, batchOf) != "" {
			ls = append(ls, x)
		}
	}
	s.Output.LastSerials = ls
	bs := []BatchProgress{}
	for _, b := range s.Production.Batches {
		if b.ID == f.Batch {
			bs = append(bs, b)
		}
	}
	s.Production.Batches = bs
	return s
}

// entity is the last encoding of one entity a stream has sent.
type entity struct {
	raw    []byte
	fields Fields
}

// differ remembers what one stream last sent and computes deltas against it.
type differ struct {
	filter Filter
	seq    uint64
	time   time.Time
	last   map[string]*entity
}

func newDiffer(f Filter, seq uint64, s Snapshot) *differ {
	d := &differ{filter: f, last: map[string]*entity{}}
	_, _, _ = d.diff(s, nil) // prime: everything is "changed" once, then forgotten
	d.seq = seq
	return d
}

// diff compares s (already filtered) with what was last sent and returns the
// delta, or ok=false when nothing a viewer can see changed.
func (d *differ) diff(s Snapshot, spans []Span) (Delta, bool, error) {
	out := Delta{Type: "delta", Time: s.Time, Src: s.Src}
	if s.Src.Equal(s.Time) {
		out.Src = time.Time{}
	}
	changed := !s.Time.Equal(d.time)
	for _, g := range s.Grinders {
		f, err := d.entity("g/"+g.ID, g)
		if err != nil {
			return out, false, err
		}
		if f != nil {
			f["id"], _ = json.Marshal(g.ID)
			out.Grinders = append(out.Grinders, f)
		}
	}
	for _, r := range s.Robots {
		f, err := d.entity("r/"+r.ID, r)
		if err != nil {
			return out, false, err
		}
		if f != nil {
			f["id"], _ = json.Marshal(r.ID)
			out.Robots = append(out.Robots, f)
		}
	}
	var err error
	if out.Inspection, err = d.entity("inspection", s.Inspection); err != nil {
		return out, false, err
	}
	if out.Magazine, err = d.entity("magazine", s.Magazine); err != nil {
		return out, false, err
	}
	if out.Output, err = d.entity("output", s.Output); err != nil {
		return out, false, err
	}
	if out.Production, err = d.entity("production", s.Production); err != nil {
		return out, false, err
	}
	for _, sp := range spans {
		if _, ok := s.Timeline[sp.ID]; ok {
			out.Spans = append(out.Spans, sp)
		}
	}
	changed = changed || len(out.Grinders) > 0 || len(out.Robots) > 0 || out.Inspection != nil ||
		out.Magazine != nil || out.Output != nil || out.Production != nil || len(out.Spans) > 0
	if !changed {
		return out, false, nil
	}
	d.seq++
	d.time = s.Time
	out.Seq = d.seq
	return out, true, nil
}

// entity returns the fields of v that differ from the last sent encoding
// under key, or nil when none do.
func (d *differ) entity(key string, v any) (Fields, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	old := d.last[key]
	if old != nil && bytes.Equal(old.raw, raw) {
		return nil, nil
	}
	var cur Fields
	if err := json.Unmarshal(raw, &cur); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	d.last[key] = &entity{raw: raw, fields: cur}
	out := Fields{}
	for k, v := range cur {
		if old == nil || !bytes.Equal(old.fields[k], v) {
			out[k] = v
		}
	}
	if old != nil {
		for k := range old.fields {
			if _, ok := cur[k]; !ok {
				out[k] = json.RawMessage("null")
			}
		}
	}
	return out, nil
}

// ApplyDelta folds a delta into a snapshot, as a viewer does. It fails with
// EINVALID when d does not follow s (a gap) or names an unknown entity.
func (s *Snapshot) ApplyDelta(d Delta) error {
	if d.Seq != s.Seq+1 {
		return mes.Errorf(mes.EINVALID, "delta %d does not follow snapshot %d", d.Seq, s.Seq)
	}
	for _, f := range d.Grinders {
		i := slices.IndexFunc(s.Grinders, func(g Grinder) bool { return jsonString(f["id"]) == g.ID })
		if i < 0 {
			return mes.Errorf(mes.EINVALID, "delta names unknown grinder %s", f["id"])
		}
		if err := merge(&s.Grinders[i], f); err != nil {
			return err
		}
	}
	for _, f := range d.Robots {
		i := slices.IndexFunc(s.Robots, func(r Robot) bool { return jsonString(f["id"]) == r.ID })
		if i < 0 {
			return mes.Errorf(mes.EINVALID, "delta names unknown robot %s", f["id"])
		}
		if err := merge(&s.Robots[i], f); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		f Fields
		v any
	}{{d.Inspection, &s.Inspection}, {d.Magazine, &s.Magazine}, {d.Output, &s.Output}, {d.Production, &s.Production}} {
		if p.f != nil {
			if err := merge(p.v, p.f); err != nil {
				return err
			}
		}
	}
	for _, sp := range d.Spans {
		if tl, ok := s.Timeline[sp.ID]; ok {
			s.Timeline[sp.ID] = appendSpan(tl, sp)
		}
	}
	for id, tl := range s.Timeline {
		s.Timeline[id] = trimTimeline(tl, d.Time)
	}
	s.Seq, s.Time, s.Src = d.Seq, d.Time, d.Src
	if d.Src.IsZero() {
		s.Src = d.Time
	}
	return nil
}

func jsonString(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// merge overwrites the fields of v named in f.
func merge(v any, f Fields) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var cur Fields
	if err := json.Unmarshal(raw, &cur); err != nil {
		return err
	}
	for k, x := range f {
		cur[k] = x
	}
	if raw, err = json.Marshal(cur); err != nil {
		return err
	}
	// Decode into a fresh value so fields the delta sets to null or empty
	// replace, rather than merge into, what was there.
	rv := reflect.ValueOf(v).Elem()
	rv.SetZero()
	return json.Unmarshal(raw, v)
}
