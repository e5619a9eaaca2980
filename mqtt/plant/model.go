package plant

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pilotline/pilotline/mqtt"
	spb "github.com/pilotline/pilotline/mqtt/sparkplugb"
	"google.golang.org/protobuf/proto"
)

// Card is what the plant view shows of one line.
type Card struct {
	Key                 string         `json:"key"` // group/node
	Group               string         `json:"group"`
	Node                string         `json:"node"`
	Name                string         `json:"name"`
	TwinURL             string         `json:"twin_url,omitempty"`
	Stale               bool           `json:"stale"`
	StaleReason         string         `json:"stale_reason,omitempty"`
	BdSeq               uint64         `json:"bd_seq"`
	Born                time.Time      `json:"born"`     // when the view saw the line's NBIRTH
	States              map[string]int `json:"states"`   // grinder state → how many grinders
	Grinders            int            `json:"grinders"` // grinders in the line's birth
	TaktS               *float64       `json:"takt_s"`   // rolling mean
	TaktTargetS         *float64       `json:"takt_target_s"`
	OEE                 *float64       `json:"oee"`
	OutputToday         *uint64        `json:"output_today"`
	GoodToday           *uint64        `json:"good_today"`
	EnergyPerGoodBurKWh *float64       `json:"energy_per_good_bur_kwh"`
	Alarms              []Alarm        `json:"alarms"`
	LastSource          time.Time      `json:"last_source_time"` // newest metric timestamp applied
	LastSeen            time.Time      `json:"last_seen"`        // when the view last heard from the line
}

// Alarm is one device's active alarm.
type Alarm struct {
	Device string `json:"device"`
	Code   string `json:"code"`
	Text   string `json:"text"`
}

// Rebirth asks the edge node Group/Node to publish its births again.
type Rebirth struct{ Group, Node string }

// Topic is the NCMD topic of the request.
func (r Rebirth) Topic() string { return mqtt.Namespace + "/" + r.Group + "/NCMD/" + r.Node }

// Payload is the NCMD payload: "Node Control/Rebirth" = true.
func (r Rebirth) Payload(now time.Time) []byte {
	ts := uint64(now.UnixMilli())
	b, _ := proto.Marshal(&spb.Payload{Timestamp: &ts, Metrics: []*spb.Payload_Metric{{
		Name: proto.String(mqtt.MetricRebirth), Timestamp: &ts, Datatype: proto.Uint32(uint32(spb.DataType_Boolean)),
		Value: &spb.Payload_Metric_BooleanValue{BooleanValue: true}}}})
	return b
}

// rebirthEvery bounds how often one line is asked for a rebirth.
const rebirthEvery = 5 * time.Second

type metric struct {
	name  string
	dtype spb.DataType
	value any // string, bool, float64, uint64; nil when null
}

type device struct {
	kind    string
	metrics map[uint64]*metric // alias → metric
	byName  map[string]*metric
}

type line struct {
	card        Card
	node        *device
	devices     map[string]*device
	nextSeq     uint64
	born        bool // a NBIRTH seen in this connection of the view
	lastRebirth time.Time
}

// Model holds the cards of every line seen. It is safe for concurrent use.
type Model struct {
	// Observe, when set before the first Apply, is called with each data
	// message's newest source timestamp and the time the view applied it:
	// the end-to-end latency from the machine to the plant view.
	Observe func(source, applied time.Time)

	mu      sync.Mutex
	lines   map[string]*line
	version uint64
}

// NewModel returns an empty model.
func NewModel() *Model { return &Model{lines: map[string]*line{}} }

// Version grows with every change; Cards returns the cards of a version.
func (m *Model) Version() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version
}

// Cards returns every line's card, ordered by group and node.
func (m *Model) Cards() []Card {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Card, 0, len(m.lines))
	for _, l := range m.lines {
		c := l.card
		c.States = map[string]int{}
		c.Alarms = []Alarm{}
		for id, d := range l.devices {
			if d.kind == mqtt.KindGrinder {
				c.Grinders++
				st, _ := d.value(mqtt.MetricState).(string)
				if st == "" {
					st = "offline"
				}
				c.States[st]++
			}
			if active, _ := d.value(mqtt.MetricAlarmActive).(bool); active {
				code, _ := d.value(mqtt.MetricAlarmCode).(string)
				text, _ := d.value(mqtt.MetricAlarmText).(string)
				c.Alarms = append(c.Alarms, Alarm{Device: id, Code: code, Text: text})
			}
		}
		slices.SortFunc(c.Alarms, func(a, b Alarm) int { return strings.Compare(a.Device, b.Device) })
		if n := l.node; n != nil {
			c.Name, _ = n.value(mqtt.MetricLineName).(string)
			c.TwinURL, _ = n.value(mqtt.MetricTwinURL).(string)
			c.TaktS = f64(n.value(mqtt.MetricTakt))
			c.TaktTargetS = f64(n.value(mqtt.MetricTaktTarget))
			c.OEE = f64(n.value(mqtt.MetricOEE))
			c.EnergyPerGoodBurKWh = f64(n.value(mqtt.MetricEnergyGood))
			c.OutputToday = u64(n.value(mqtt.MetricOutputToday))
			c.GoodToday = u64(n.value(mqtt.MetricGoodToday))
		}
		if c.Name == "" {
			c.Name = c.Node
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Card) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func f64(v any) *float64 {
	if x, ok := v.(float64); ok {
		return &x
	}
	return nil
}

func u64(v any) *uint64 {
	if x, ok := v.(uint64); ok {
		return &x
	}
	return nil
}

func (d *device) value(name string) any {
	if d == nil {
		return nil
	}
	if m := d.byName[name]; m != nil {
		return m.value
	}
	return nil
}

// Known returns a rebirth request for every line seen, for a view that
// connects again: a line may have been born while the view was away.
func (m *Model) Known() []Rebirth {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Rebirth
	for _, l := range m.lines {
		out = append(out, Rebirth{Group: l.card.Group, Node: l.card.Node})
	}
	return out
}

// Disconnected marks every line stale: the view lost the broker and
// cannot tell whether the lines are alive. Each must be born again.
func (m *Model) Disconnected(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.lines {
		l.card.Stale, l.card.StaleReason, l.born = true, reason, false
	}
	m.version++
}

// Apply folds one Sparkplug message received at now into the model. It
// returns a rebirth request when the line must be asked to publish its
// births again (data without a birth, a gap in seq); nil otherwise.
// Messages outside the spBv1.0 namespace and undecodable payloads are
// ignored.
func (m *Model) Apply(topic string, payload []byte, now time.Time) *Rebirth {
	parts := strings.Split(topic, "/")
	if len(parts) < 4 || len(parts) > 5 || parts[0] != mqtt.Namespace {
		return nil
	}
	group, kind, node := parts[1], parts[2], parts[3]
	devID := ""
	if len(parts) == 5 {
		devID = parts[4]
	}
	switch kind {
	case "NBIRTH", "DBIRTH", "NDATA", "DDATA", "NDEATH", "DDEATH":
	default:
		return nil // commands and STATE
	}
	var pl spb.Payload
	if proto.Unmarshal(payload, &pl) != nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key := group + "/" + node
	l := m.lines[key]
	if l == nil {
		if kind == "NDEATH" {
			return nil
		}
		l = &line{card: Card{Key: key, Group: group, Node: node, Stale: true, StaleReason: "no birth seen yet"}, devices: map[string]*device{}}
		m.lines[key] = l
		m.version++
	}
	l.card.LastSeen = now
	switch kind {
	case "NBIRTH":
		l.node = newDevice(&pl)
		l.devices = map[string]*device{}
		l.card.BdSeq, _ = l.node.value(mqtt.MetricBdSeq).(uint64)
		l.card.Stale, l.card.StaleReason, l.card.Born = false, "", now
		l.born = true
		l.nextSeq = (pl.GetSeq() + 1) % 256
		m.noteSource(l, &pl)
		m.version++
		return nil
	case "NDEATH":
		var bd uint64
		for _, mt := range pl.Metrics {
			if mt.GetName() == mqtt.MetricBdSeq {
				bd = mt.GetLongValue()
			}
		}
		if l.born && bd == l.card.BdSeq {
			l.card.Stale, l.card.StaleReason, l.born = true, "NDEATH", false
			m.version++
		}
		return nil
	}
	if !l.born {
		return m.rebirth(l, group, node, now)
	}
	if pl.Seq != nil {
		if pl.GetSeq() != l.nextSeq {
			l.born = false
			l.card.Stale, l.card.StaleReason = true, "messages lost (seq gap)"
			m.version++
			return m.rebirth(l, group, node, now)
		}
		l.nextSeq = (pl.GetSeq() + 1) % 256
	}
	switch kind {
	case "DBIRTH":
		l.devices[devID] = newDevice(&pl)
	case "NDATA":
		l.node.apply(&pl)
	case "DDATA":
		d := l.devices[devID]
		if d == nil {
			return m.rebirth(l, group, node, now)
		}
		d.apply(&pl)
	case "DDEATH":
		delete(l.devices, devID)
	}
	m.noteSource(l, &pl)
	m.version++
	if m.Observe != nil && (kind == "DDATA" || kind == "NDATA") {
		var newest uint64
		for _, mt := range pl.Metrics {
			if !mt.GetIsHistorical() {
				newest = max(newest, mt.GetTimestamp())
			}
		}
		if newest > 0 {
			m.Observe(time.UnixMilli(int64(newest)), now)
		}
	}
	return nil
}

func (m *Model) noteSource(l *line, pl *spb.Payload) {
	for _, mt := range pl.Metrics {
		if mt.GetIsHistorical() || mt.Timestamp == nil {
			continue
		}
		if t := time.UnixMilli(int64(mt.GetTimestamp())); t.After(l.card.LastSource) {
			l.card.LastSource = t
		}
	}
}

func (m *Model) rebirth(l *line, group, node string, now time.Time) *Rebirth {
	if now.Sub(l.lastRebirth) < rebirthEvery {
		return nil
	}
	l.lastRebirth = now
	return &Rebirth{Group: group, Node: node}
}

func newDevice(pl *spb.Payload) *device {
	d := &device{metrics: map[uint64]*metric{}, byName: map[string]*metric{}}
	for _, mt := range pl.Metrics {
		x := &metric{name: mt.GetName(), dtype: spb.DataType(mt.GetDatatype())}
		x.value = valueOf(mt, x.dtype)
		if mt.Alias != nil {
			d.metrics[mt.GetAlias()] = x
		}
		d.byName[x.name] = x
	}
	d.kind, _ = d.value(mqtt.MetricKind).(string)
	return d
}

// apply sets the current values of data metrics; historical ones leave
// the current values alone.
func (d *device) apply(pl *spb.Payload) {
	for _, mt := range pl.Metrics {
		if mt.GetIsHistorical() {
			continue
		}
		var x *metric
		if mt.Name != nil {
			x = d.byName[mt.GetName()]
		} else if mt.Alias != nil {
			x = d.metrics[mt.GetAlias()]
		}
		if x == nil {
			continue
		}
		x.value = valueOf(mt, x.dtype)
	}
}

func valueOf(mt *spb.Payload_Metric, t spb.DataType) any {
	if mt.GetIsNull() {
		return nil
	}
	switch t {
	case spb.DataType_String, spb.DataType_Text, spb.DataType_UUID:
		return mt.GetStringValue()
	case spb.DataType_Boolean:
		return mt.GetBooleanValue()
	case spb.DataType_Double:
		return mt.GetDoubleValue()
	case spb.DataType_Float:
		return float64(mt.GetFloatValue())
	case spb.DataType_UInt64, spb.DataType_Int64, spb.DataType_DateTime:
		return mt.GetLongValue()
	case spb.DataType_UInt32, spb.DataType_UInt16, spb.DataType_UInt8, spb.DataType_Int8, spb.DataType_Int16, spb.DataType_Int32:
		if v, ok := mt.GetValue().(*spb.Payload_Metric_LongValue); ok {
			return v.LongValue
		}
		return uint64(mt.GetIntValue())
	}
	return nil
}
