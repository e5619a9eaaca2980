package twin

import (
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// History sizes kept per grinder and station.
const (
	alarmHistoryLen = 20
	cyclesLen       = 30
	lastSerialsLen  = 8
	taktWindow      = 10 // output intervals in the rolling takt
)

// Model is the live state of the line, folded from machine events and MES
// updates. It is not safe for concurrent use: the Hub owns one.
type Model struct {
	line     *mes.LineConfig
	loc      *time.Location
	version  uint64 // bumped by every change, so an idle line costs nothing to flush
	now      time.Time
	src      time.Time
	grinders []*Grinder
	byID     map[string]*Grinder
	robots   []*Robot
	robotsBy map[string]*Robot
	insp     Inspection
	mag      Magazine
	out      Output
	prod     Production // as set by the MES
	info     LineInfo

	timeline map[string][]Span
	spans    []Span // spans opened since the views last took them

	day       int    // local day (YYYYDDD) of "today" while no MES period is set
	period    Period // what the day's counts count from
	mesPeriod bool   // the MES set period; it, not the calendar, resets the counts
	energyDay float64
	delivered int
	taktLast  []float64
	prevState map[string]mes.MachineState // state before comm loss
	lastData  map[string]time.Time        // source time of the latest data per grinder
	seen      map[string]time.Time        // local arrival time of the latest data per grinder
	batchOf   func(serial string) string
}

// NewModel returns the model of line with every machine offline.
func NewModel(line *mes.LineConfig) *Model {
	m := &Model{
		line: line, loc: time.Local, byID: map[string]*Grinder{}, robotsBy: map[string]*Robot{},
		timeline: map[string][]Span{}, prevState: map[string]mes.MachineState{},
		lastData: map[string]time.Time{}, seen: map[string]time.Time{},
		batchOf: batchParser(line.SerialPattern),
	}
	m.info = LineInfo{Name: line.Name, NameZH: line.NameZH, TaktS: line.TaktS, Groups: []GroupInfo{}, Stations: []Place{}}
	for _, g := range line.Groups {
		m.info.Groups = append(m.info.Groups, GroupInfo{ID: g.ID, Name: g.Name, NameZH: g.NameZH})
	}
	for _, mc := range line.Machines {
		switch mc.Kind {
		case mes.KindGrinder:
			g := &Grinder{ID: mc.ID, Row: mc.Row, Col: mc.Col, Group: mc.Group, Model: mc.Model,
				State: mes.StateOffline, Comm: CommNever, Alarms: []mes.Alarm{}, AlarmHistory: []mes.Alarm{}, Cycles: []CycleSummary{}}
			m.grinders = append(m.grinders, g)
			m.byID[g.ID] = g
		case mes.KindInspection:
			if m.insp.ID == "" {
				m.insp = Inspection{ID: mc.ID, State: mes.StateOffline, Comm: CommNever, Alarms: []mes.Alarm{}}
				m.info.Stations = append(m.info.Stations, Place{ID: mc.ID, Kind: mc.Kind, Row: mc.Row, Col: mc.Col})
			}
		}
	}
	for _, r := range line.Robots {
		rb := &Robot{ID: r.ID, Row: r.Row, Serves: slices.Clone(r.Serves), State: mes.StateOffline}
		if len(r.Serves) > 0 {
			rb.At = r.Serves[0]
		}
		m.robots = append(m.robots, rb)
		m.robotsBy[r.ID] = rb
	}
	rows := 0
	for _, g := range m.grinders {
		rows = max(rows, g.Row)
	}
	for _, s := range line.Stations {
		p := Place{ID: s.ID, Kind: s.Kind, Capacity: s.Capacity}
		switch s.Kind {
		case mes.KindMagazine:
			m.mag = Magazine{ID: s.ID, Capacity: s.Capacity}
			p.Row, p.Col = 1, 0
		case mes.KindOutput:
			m.out = Output{ID: s.ID, Capacity: s.Capacity, LastSerials: []string{}}
			p.Row, p.Col = rows+1, 5
		}
		m.info.Stations = append(m.info.Stations, p)
	}
	m.prod = Production{Batches: []BatchProgress{}}
	return m
}

// batchParser returns a function that extracts the batch id from a serial
// made by pattern (e.g. "{batch}-{seq:05}"), or "" when it cannot tell.
func batchParser(pattern string) func(string) string {
	i := strings.Index(pattern, "{batch}")
	if i < 0 {
		return func(string) string { return "" }
	}
	prefix := pattern[:i]
	rest := pattern[i+len("{batch}"):]
	sep := rest
	if j := strings.Index(rest, "{"); j >= 0 {
		sep = rest[:j]
	}
	return func(serial string) string {
		s, ok := strings.CutPrefix(serial, prefix)
		if !ok {
			return ""
		}
		if sep == "" {
			return s
		}
		if j := strings.LastIndex(s, sep); j > 0 {
			return s[:j]
		}
		return ""
	}
}

// Apply folds one machine event into the model. Unknown machines and
// malformed events are ignored: the twin shows what it understands.
func (m *Model) Apply(ev mes.MachineEvent) {
	if ev.SourceTime.After(m.now) {
		m.now = ev.SourceTime
	}
	m.rollDay(m.now)
	changed := false
	switch {
	case m.byID[ev.Machine] != nil:
		changed = m.applyGrinder(m.byID[ev.Machine], ev)
	case ev.Machine == m.insp.ID && m.insp.ID != "":
		changed = m.applyInspection(ev)
	case m.robotsBy[ev.Machine] != nil:
		changed = m.applyRobot(m.robotsBy[ev.Machine], ev)
	case ev.Machine == m.mag.ID && m.mag.ID != "" && ev.Station != nil:
		changed = m.mag.Count != ev.Station.Count
		m.mag.Count = ev.Station.Count
	case ev.Machine == m.out.ID && m.out.ID != "" && ev.Station != nil:
		changed = m.applyOutput(ev)
	}
	if changed || m.src.IsZero() {
		// Src is never zero once time runs, so deltas may omit it when equal.
		m.src = ev.SourceTime
	}
	if changed {
		m.version++
	}
}

// rollDay starts a new local day's counts at midnight, unless the MES set
// the period (then SetProduction starts new counts when the period changes).
func (m *Model) rollDay(t time.Time) {
	if t.IsZero() || m.mesPeriod {
		return
	}
	lt := t.In(m.loc)
	d := lt.Year()*1000 + lt.YearDay()
	if d == m.day {
		return
	}
	if m.day != 0 {
		m.resetCounts()
	}
	m.day = d
	m.period = Period{Kind: PeriodDay, From: time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, m.loc)}
}

// resetCounts zeroes every count of the period.
func (m *Model) resetCounts() {
	for _, g := range m.grinders {
		g.Today = 0
	}
	m.insp.Passed, m.insp.Failed = 0, 0
	m.energyDay, m.delivered = 0, 0
	m.version++
}

// setGrinderState records a state change and opens a timeline span for it.
func (m *Model) setGrinderState(g *Grinder, s mes.MachineState, at time.Time) bool {
	if g.State == s {
		return false
	}
	g.State, g.Since = s, at
	sp := Span{ID: g.ID, State: s, From: at}
	m.timeline[g.ID] = trimTimeline(appendSpan(m.timeline[g.ID], sp), m.now)
	if len(m.spans) >= maxPendingSpans {
		m.spans = m.spans[1:] // nobody is flushing: keep memory bounded
	}
	m.spans = append(m.spans, sp)
	return true
}

// maxPendingSpans bounds the spans kept between two flushes.
const maxPendingSpans = 1 << 14

// takeSpans returns the spans opened since the last call and forgets them.
func (m *Model) takeSpans() []Span {
	s := m.spans
	m.spans = nil
	return s
}

// appendSpan adds sp to a timeline. A span that does not start after the
// last one (same-instant or out-of-order changes) replaces it: the newest
// state wins the instant. Viewers apply the same rule to delta spans.
func appendSpan(tl []Span, sp Span) []Span {
	sp.ID = ""
	if n := len(tl); n > 0 && !sp.From.After(tl[n-1].From) {
		sp.From = tl[n-1].From
		tl[n-1] = sp
		return tl
	}
	return append(tl, sp)
}

func (m *Model) applyGrinder(g *Grinder, ev mes.MachineEvent) bool {
	if ev.Kind == mes.EventCommLost || (ev.Kind == mes.EventState && ev.State == mes.StateCommLost) {
		return m.commLost(g, ev)
	}
	// Anything else is data from the machine, so it is reachable again.
	touched := false
	if ev.SourceTime.After(m.lastData[g.ID]) {
		m.lastData[g.ID] = ev.SourceTime
	}
	if g.Comm != CommOK {
		if g.State == mes.StateCommLost {
			p, ok := m.prevState[g.ID]
			if !ok {
				p = mes.StateIdle
			}
			m.setGrinderState(g, p, ev.SourceTime)
		}
		delete(m.prevState, g.ID)
		g.Comm, g.CommReason, g.LastData = CommOK, "", time.Time{}
		touched = true
	}
	switch ev.Kind {
	case mes.EventState:
		if ev.State.Valid() {
			touched = m.setGrinderState(g, ev.State, ev.SourceTime) || touched
		}
		if ev.Mode != "" && ev.Mode != g.Mode {
			g.Mode = ev.Mode
			touched = true
		}
	case mes.EventCounter:
		if ev.Counter != g.Counter {
			g.Counter = ev.Counter
			touched = true
		}
	case mes.EventCycle:
		if c := ev.Cycle; c != nil {
			touched = m.foldCycle(g, c) || touched
		}
	case mes.EventAlarmRaised:
		if a := ev.Alarm; a != nil {
			g.Alarms, g.AlarmHistory = raiseAlarm(g.Alarms, g.AlarmHistory, *a)
			g.Acks = keepAcks(g.Acks, g.Alarms, g.AlarmHistory)
			touched = true
		}
	case mes.EventAlarmCleared:
		if a := ev.Alarm; a != nil {
			g.Alarms, g.AlarmHistory = clearAlarm(g.Alarms, g.AlarmHistory, *a, ev.SourceTime)
			g.Acks = keepAcks(g.Acks, g.Alarms, g.AlarmHistory)
			touched = true
		}
	case mes.EventSample:
		if s := ev.Sample; s != nil {
			touched = m.foldSample(g, s) || touched
		}
	}
	return touched
}

// commLost greys a grinder out: its state becomes comm_lost (remembering
// the last real one) and LastData tells since when nothing came.
func (m *Model) commLost(g *Grinder, ev mes.MachineEvent) bool {
	if g.Comm == CommLost {
		return false
	}
	if g.State != mes.StateCommLost {
		m.prevState[g.ID] = g.State
	}
	g.Comm, g.CommReason, g.LastData = CommLost, ev.Reason, m.lastData[g.ID]
	m.setGrinderState(g, mes.StateCommLost, ev.SourceTime)
	return true
}

// MarkStale marks grinders from which nothing arrived since before cutoff
// as stale, and reports whether any changed. Times are those passed to
// Touch (the hub's clock), not source times.
func (m *Model) MarkStale(cutoff time.Time) bool {
	changed := false
	for _, g := range m.grinders {
		seen, ok := m.seen[g.ID]
		if ok && g.Comm == CommOK && seen.Before(cutoff) {
			g.Comm, g.LastData = CommStale, m.lastData[g.ID]
			changed = true
		}
	}
	if changed {
		m.version++
	}
	return changed
}

// Touch records that data from machine arrived at local time at, for MarkStale.
func (m *Model) Touch(machine string, at time.Time) {
	if _, ok := m.byID[machine]; ok {
		m.seen[machine] = at
	}
}

func (m *Model) foldCycle(g *Grinder, c *mes.Cycle) bool {
	for _, old := range g.Cycles {
		if old.End.Equal(c.End) && old.Serial == c.Serial {
			return false // the same job delivered twice
		}
	}
	g.Cycles = append(g.Cycles, CycleSummary{Serial: c.Serial, CycleS: round(c.CycleTime().Seconds(), 0.1), End: c.End, Aborted: c.Aborted})
	if len(g.Cycles) > cyclesLen {
		g.Cycles = slices.Clone(g.Cycles[len(g.Cycles)-cyclesLen:])
	}
	if !c.Aborted && m.sameDay(c.End) {
		g.Today++
	}
	if m.sameDay(c.End) {
		m.energyDay += c.EnergyKWh
	}
	if c.Program != "" {
		g.Program, g.ProgramVersion = c.Program, c.ProgramVersion
	}
	if c.WheelID != "" {
		g.WheelID = c.WheelID
	}
	g.DressCount = c.DressCount
	if c.Seq > g.Counter {
		g.Counter = c.Seq
	}
	return true
}

// sameDay reports whether line time t falls in the period the counts count.
func (m *Model) sameDay(t time.Time) bool {
	if m.mesPeriod {
		return !t.Before(m.period.From)
	}
	lt := t.In(m.loc)
	return lt.Year()*1000+lt.YearDay() == m.day
}

// Quantisation steps: finer than a viewer can see, coarse enough that noise
// in the last digit does not cost a delta.
const (
	stepRPM      = 100
	stepLoad     = 0.5
	stepCoolant  = 0.1
	stepProgress = 0.005
	stepWear     = 0.1
	stepDiameter = 0.001
)

func round(v, step float64) float64 {
	return math.Round(v/step) * step
}

func (m *Model) foldSample(g *Grinder, s *mes.Sample) bool {
	before := *g
	g.SpindleRPM = round(s.SpindleSpeed, stepRPM)
	g.SpindleLoad = round(s.SpindleLoad, stepLoad)
	g.CoolantC = round(s.CoolantTemp, stepCoolant)
	g.Progress = min(1, max(0, round(s.Progress, stepProgress)))
	g.WheelWearUM = round(s.WheelWearUM, stepWear)
	g.WheelDiameter = round(s.WheelDiameter, stepDiameter)
	if g.Serial != s.Serial {
		g.Serial = s.Serial
		g.Batch = m.batchOf(s.Serial)
	}
	if s.Program != "" {
		g.Program = s.Program
	}
	if s.PartsCounter > g.Counter {
		g.Counter = s.PartsCounter
	}
	// A dressing or a wheel change shows now, not with the next finished
	// job. A sample that names no wheel (a machine without the node, or one
	// stored before samples carried it) leaves what the cycles told.
	if s.WheelID != "" {
		g.WheelID, g.DressCount = s.WheelID, s.DressCount
	}
	return g.SpindleRPM != before.SpindleRPM || g.SpindleLoad != before.SpindleLoad || g.CoolantC != before.CoolantC ||
		g.Progress != before.Progress || g.WheelWearUM != before.WheelWearUM ||
		g.WheelDiameter != before.WheelDiameter || g.Serial != before.Serial || g.Program != before.Program || g.Counter != before.Counter ||
		g.WheelID != before.WheelID || g.DressCount != before.DressCount
}

func raiseAlarm(active, hist []mes.Alarm, a mes.Alarm) ([]mes.Alarm, []mes.Alarm) {
	if !slices.ContainsFunc(active, func(x mes.Alarm) bool { return x.Seq == a.Seq }) && a.Cleared.IsZero() {
		active = append(slices.Clone(active), a)
	}
	if !slices.ContainsFunc(hist, func(x mes.Alarm) bool { return x.Seq == a.Seq }) {
		hist = append([]mes.Alarm{a}, hist...)
		if len(hist) > alarmHistoryLen {
			hist = hist[:alarmHistoryLen]
		}
	}
	return active, hist
}

func clearAlarm(active, hist []mes.Alarm, a mes.Alarm, at time.Time) ([]mes.Alarm, []mes.Alarm) {
	active = slices.DeleteFunc(slices.Clone(active), func(x mes.Alarm) bool { return x.Seq == a.Seq })
	if a.Cleared.IsZero() {
		a.Cleared = at
	}
	hist = slices.Clone(hist)
	found := false
	for i := range hist {
		if hist[i].Seq == a.Seq {
			hist[i].Cleared = a.Cleared
			found = true
		}
	}
	if !found {
		hist = append([]mes.Alarm{a}, hist...)
		if len(hist) > alarmHistoryLen {
			hist = hist[:alarmHistoryLen]
		}
	}
	return active, hist
}

func (m *Model) applyInspection(ev mes.MachineEvent) bool {
	in := &m.insp
	if ev.Kind != mes.EventCommLost && ev.SourceTime.After(in.LastData) {
		in.LastData = ev.SourceTime
	}
	switch ev.Kind {
	case mes.EventState:
		if ev.State.Valid() && ev.State != in.State {
			in.State, in.Since = ev.State, ev.SourceTime
		}
		if in.State != mes.StateCommLost {
			in.Comm = CommOK
		}
	case mes.EventCommLost:
		in.Comm, in.State, in.Since = CommLost, mes.StateCommLost, ev.SourceTime
	case mes.EventCommRestored:
		in.Comm = CommOK
	case mes.EventAlarmRaised:
		if ev.Alarm != nil {
			in.Alarms, _ = raiseAlarm(in.Alarms, nil, *ev.Alarm)
		}
	case mes.EventAlarmCleared:
		if ev.Alarm != nil {
			in.Alarms, _ = clearAlarm(in.Alarms, nil, *ev.Alarm, ev.SourceTime)
			in.Acks = keepAcks(in.Acks, in.Alarms, nil)
		}
	case mes.EventMeasurement:
		me := ev.Measurement
		if me == nil || (in.Last != nil && in.Last.Serial == me.Serial && in.Last.Time.Equal(me.Time)) {
			return true
		}
		r := &Result{Serial: me.Serial, Time: me.Time, Values: maps.Clone(me.Values), Pass: true, Failed: []string{}}
		if p := m.productOf(me.Serial); p != nil {
			for _, ch := range mes.Characteristics {
				tol, ok := p.Tolerances[ch]
				v, have := me.Values[ch]
				if ok && have && !tol.Contains(v) {
					r.Pass = false
					r.Failed = append(r.Failed, ch)
				}
			}
		}
		in.Last = r
		if m.sameDay(me.Time) {
			if r.Pass {
				in.Passed++
			} else {
				in.Failed++
			}
		}
	default:
		if in.Comm == CommNever {
			in.Comm = CommOK
		}
	}
	return true
}

// productOf finds the product of a bur through its batch, or the line's
// only product.
func (m *Model) productOf(serial string) *mes.Product {
	b := m.batchOf(serial)
	for _, bp := range m.prod.Batches {
		if bp.ID == b {
			if p, ok := m.line.Product(bp.Product); ok {
				return &p
			}
		}
	}
	if len(m.line.Products) > 0 {
		return &m.line.Products[0]
	}
	return nil
}

func (m *Model) applyRobot(r *Robot, ev mes.MachineEvent) bool {
	switch {
	case ev.Robot != nil:
		s := ev.Robot
		if r.State == s.State && r.At == s.At && r.Target == s.Target && r.Bur == s.Bur {
			return false
		}
		r.State, r.At, r.Target, r.Bur = s.State, s.At, s.Target, s.Bur
		return true
	case ev.Kind == mes.EventState && ev.State.Valid() && ev.State != r.State:
		r.State = ev.State
		return true
	case ev.Kind == mes.EventCommLost && r.State != mes.StateCommLost:
		r.State = mes.StateCommLost
		return true
	}
	return false
}

func (m *Model) applyOutput(ev mes.MachineEvent) bool {
	s := ev.Station
	o := &m.out
	if s.Count == o.Count && (s.LastSerial == "" || (len(o.LastSerials) > 0 && o.LastSerials[0] == s.LastSerial)) {
		return false
	}
	if s.Count > o.Count && o.Count > 0 {
		n := int(s.Count - o.Count)
		if !o.LastTime.IsZero() && ev.SourceTime.After(o.LastTime) {
			iv := ev.SourceTime.Sub(o.LastTime).Seconds() / float64(n)
			m.taktLast = append(m.taktLast, iv)
			if len(m.taktLast) > taktWindow {
				m.taktLast = m.taktLast[len(m.taktLast)-taktWindow:]
			}
		}
		if m.sameDay(ev.SourceTime) {
			m.delivered += n
		}
	}
	if s.Count != o.Count {
		o.LastTime = ev.SourceTime
	}
	o.Count = s.Count
	if s.LastSerial != "" && (len(o.LastSerials) == 0 || o.LastSerials[0] != s.LastSerial) {
		o.LastSerials = append([]string{s.LastSerial}, o.LastSerials...)
		if len(o.LastSerials) > lastSerialsLen {
			o.LastSerials = o.LastSerials[:lastSerialsLen]
		}
	}
	return true
}

// SetProduction replaces the MES side of the model: batches, takt, OEE,
// burs today, energy per bur. Zero fields are filled from the twin's own
// observations in snapshots.
func (m *Model) SetProduction(p Production) {
	p.Batches = slices.Clone(p.Batches)
	if p.Batches == nil {
		p.Batches = []BatchProgress{}
	}
	p.Grinders = maps.Clone(p.Grinders)
	if p.OEE != nil {
		o := *p.OEE
		p.OEE = &o
	}
	if !p.Period.From.IsZero() && (!m.mesPeriod || !p.Period.From.Equal(m.period.From)) {
		// A new shift (or the first word from the MES): the counts start again,
		// so the tiles count the same period as the header.
		m.mesPeriod, m.period = true, p.Period
		m.resetCounts()
	}
	m.prod = p
	m.version++
}

// Version counts the changes folded so far; equal versions mean equal state.
func (m *Model) Version() uint64 { return m.version }

// production is the effective Production: the MES's, with the twin's own
// observations in its zero fields.
func (m *Model) production() Production {
	p := m.prod
	p.Grinders = nil
	p.Period = m.period
	if p.Takt.TargetS == 0 && p.Takt.Source != "no_demand" && p.Takt.Source != "overdue" {
		p.Takt.TargetS, p.Takt.Source = m.line.TaktS, "config"
	}
	if p.Takt.LastS == 0 && len(m.taktLast) > 0 {
		p.Takt.LastS = round(m.taktLast[len(m.taktLast)-1], 0.1)
	}
	if p.Takt.RollingS == 0 && len(m.taktLast) > 0 {
		sum := 0.0
		for _, v := range m.taktLast {
			sum += v
		}
		p.Takt.RollingS = round(sum/float64(len(m.taktLast)), 0.1)
	}
	if p.BursToday == 0 {
		p.BursToday = m.delivered
	}
	if p.EnergyPerBurKWh == 0 && p.BursToday > 0 {
		p.EnergyPerBurKWh = round(m.energyDay/float64(p.BursToday), 0.001)
	}
	if p.OEE != nil {
		o := *p.OEE
		p.OEE = &o
	}
	p.Batches = slices.Clone(p.Batches)
	return p
}

// Snapshot returns a deep copy of the whole line state. Its Seq is the
// model's version.
func (m *Model) Snapshot() Snapshot {
	s := Snapshot{
		Type: "snapshot", Seq: m.version, Time: m.now, Src: m.src, Line: m.info,
		Inspection: m.insp, Magazine: m.mag, Output: m.out, Production: m.production(),
		Timeline: make(map[string][]Span, len(m.grinders)),
	}
	s.Line.Groups = slices.Clone(m.info.Groups)
	s.Line.Stations = slices.Clone(m.info.Stations)
	s.Inspection.Alarms = slices.Clone(m.insp.Alarms)
	s.Inspection.Acks = slices.Clone(m.insp.Acks)
	if m.insp.Last != nil {
		r := *m.insp.Last
		r.Values = maps.Clone(r.Values)
		r.Failed = slices.Clone(r.Failed)
		s.Inspection.Last = &r
	}
	s.Output.LastSerials = slices.Clone(m.out.LastSerials)
	for _, g := range m.grinders {
		c := *g
		c.Alarms = slices.Clone(g.Alarms)
		c.AlarmHistory = slices.Clone(g.AlarmHistory)
		c.Acks = slices.Clone(g.Acks)
		c.Cycles = slices.Clone(g.Cycles)
		c.OEE = nil
		if o, ok := m.prod.Grinders[g.ID]; ok {
			c.OEE = &o
		}
		s.Grinders = append(s.Grinders, c)
		s.Timeline[g.ID] = trimTimeline(slices.Clone(m.timeline[g.ID]), m.now)
	}
	for _, r := range m.robots {
		c := *r
		c.Serves = slices.Clone(r.Serves)
		s.Robots = append(s.Robots, c)
	}
	return s
}

// trimTimeline drops spans that ended before now − TimelineWindow. Viewers
// apply the same rule to the spans deltas append, so both stay equal.
func trimTimeline(tl []Span, now time.Time) []Span {
	cut := now.Add(-TimelineWindow)
	i := 0
	for i+1 < len(tl) && !tl[i+1].From.After(cut) {
		i++
	}
	if tl == nil {
		return []Span{}
	}
	return tl[i:]
}

// Acknowledge records ack of the active alarm ack.Seq of machine (a
// grinder or the inspection station). It reports whether the alarm was
// active and not yet acknowledged; an acknowledged alarm keeps its first
// acknowledgement.
func (m *Model) Acknowledge(machine string, ack AlarmAck) bool {
	var active []mes.Alarm
	var acks *[]AlarmAck
	switch {
	case m.byID[machine] != nil:
		active, acks = m.byID[machine].Alarms, &m.byID[machine].Acks
	case machine != "" && machine == m.insp.ID:
		active, acks = m.insp.Alarms, &m.insp.Acks
	default:
		return false
	}
	if !slices.ContainsFunc(active, func(a mes.Alarm) bool { return a.Seq == ack.Seq }) ||
		slices.ContainsFunc(*acks, func(a AlarmAck) bool { return a.Seq == ack.Seq }) {
		return false
	}
	*acks = append(slices.Clone(*acks), ack)
	m.version++
	return true
}

// FindAlarm returns the active alarm seq of machine and its
// acknowledgement, if any.
func (m *Model) FindAlarm(machine string, seq uint64) (mes.Alarm, *AlarmAck, bool) {
	var active []mes.Alarm
	var acks []AlarmAck
	switch {
	case m.byID[machine] != nil:
		active, acks = m.byID[machine].Alarms, m.byID[machine].Acks
	case machine != "" && machine == m.insp.ID:
		active, acks = m.insp.Alarms, m.insp.Acks
	}
	i := slices.IndexFunc(active, func(a mes.Alarm) bool { return a.Seq == seq })
	if i < 0 {
		return mes.Alarm{}, nil, false
	}
	if j := slices.IndexFunc(acks, func(a AlarmAck) bool { return a.Seq == seq }); j >= 0 {
		a := acks[j]
		return active[i], &a, true
	}
	return active[i], nil, true
}

// keepAcks drops the acknowledgements of alarms no longer shown.
func keepAcks(acks []AlarmAck, active, hist []mes.Alarm) []AlarmAck {
	shown := func(a AlarmAck) bool {
		has := func(x mes.Alarm) bool { return x.Seq == a.Seq }
		return slices.ContainsFunc(active, has) || slices.ContainsFunc(hist, has)
	}
	if !slices.ContainsFunc(acks, func(a AlarmAck) bool { return !shown(a) }) {
		return acks
	}
	return slices.DeleteFunc(slices.Clone(acks), func(a AlarmAck) bool { return !shown(a) })
}
