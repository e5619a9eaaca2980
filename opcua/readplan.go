package opcua

import (
	"cmp"
	"slices"
	"strings"

	"github.com/gopcua/opcua/ua"
)

// slowEvery is how many poll cycles apart the slow values (umati channel,
// job and tool nodes, program version and hash, dispatch) are
// read: they feed no event, so at the default 500 ms interval they are at
// most 5 s old in the snapshot. Identification is read once per connection.
const slowEvery = 10

// classify splits the resolved nodes into what a poll cycle reads: hot
// nodes every cycle, slow nodes every slowEvery-th cycle, record fields
// only when their trigger changes. With tiered false every node is read
// every cycle (Options.WholeReads).
func (s *session) classify(tiered bool) {
	s.cold = map[*object]map[string][]readRef{}
	s.hot, s.slots = nil, nil
	var warm []readRef
	latest := map[*object]bool{}
	lastCycle := map[*object]bool{}
	for _, it := range s.items {
		switch it.o.signals[it.i].Key {
		case KeyAlarmLatest:
			latest[it.o] = latest[it.o] || tiered
		case "cycle.Seq":
			lastCycle[it.o] = true
		}
	}
	for k := range s.items {
		it := &s.items[k]
		key := it.o.signals[it.i].Key
		rec := recordOf(key)
		switch {
		case rec == "" && key == KeyAlarmLatest && tiered:
			it.trig = trigLatest
		case rec == "" && (it.o.kind == objRobot || it.o.kind == objStation || fastKeys[key] || !tiered):
		case rec == "" && umatiCycleKeys[key] && !lastCycle[it.o]:
			// a machine without PL:LastCycle: cycles come from these
		case rec == "":
			warm = append(warm, *it)
			continue
		case rec != "ident" && !(latest[it.o] && strings.HasPrefix(rec, "alarm.")) && isHot(key):
			it.trig, it.rec = trigRecord, rec
		default:
			if s.cold[it.o] == nil {
				s.cold[it.o] = map[string][]readRef{}
			}
			s.cold[it.o][rec] = append(s.cold[it.o][rec], *it)
			continue
		}
		s.hot = append(s.hot, *it)
	}
	for _, o := range s.found {
		if !latest[o] {
			continue
		}
		r := alarmRing{o: o}
		for i := range AlarmSlots {
			r.seq[i] = o.idx[alarmKeys[i].seq]
			ci := o.idx[alarmKeys[i].cleared]
			r.cleared[i] = readRef{o: o, i: ci, n: s.ids[o][ci], trig: trigRecord, rec: alarmKeys[i].rec}
		}
		s.slots = append(s.slots, r)
	}
	// warm keeps each object's slow nodes after its hot ones, objects contiguous
	ord := make(map[*object]int, len(s.found))
	for i, o := range s.found {
		ord[o] = i
	}
	warm = append(slices.Clone(s.hot), warm...)
	slices.SortStableFunc(warm, func(a, b readRef) int { return cmp.Compare(ord[a.o], ord[b.o]) })
	s.rechunk(warm)
}

// rechunk splits the read lists into requests for the current read limit
// and encodes their node lists once.
func (s *session) rechunk(warm []readRef) {
	if warm == nil {
		for _, ch := range s.warmCh {
			warm = append(warm, ch...)
		}
	}
	s.chunks = chunkReads(s.items, s.lim.read)
	s.hotCh = chunkReads(s.hot, s.lim.read)
	s.warmCh = chunkReads(warm, s.lim.read)
	s.allReq, s.hotReq, s.warmReq = readBodies(s.chunks), readBodies(s.hotCh), readBodies(s.warmCh)
}

// readBodies builds the node list of each request once per connection;
// the first request also carries the heartbeat.
func readBodies(chunks [][]readRef) [][]*ua.ReadValueID {
	out := make([][]*ua.ReadValueID, len(chunks))
	for k, ch := range chunks {
		b := make([]*ua.ReadValueID, 0, len(ch)+1)
		if k == 0 {
			b = append(b, &ua.ReadValueID{NodeID: heartbeatNode, AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}})
		}
		for _, it := range ch {
			b = append(b, &ua.ReadValueID{NodeID: it.n, AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}})
		}
		out[k] = b
	}
	return out
}

// fastKeys are the plain values events are derived from: read every cycle.
var fastKeys = func() map[string]bool {
	m := map[string]bool{KeyState: true, KeyOperationMode: true, KeyProgramState: true}
	for _, k := range sampleKeys {
		m[k] = true
	}
	return m
}()

// umatiCycleKeys are what a machine without PL:LastCycle derives its cycles
// and counter from: read every cycle on such a machine only.
var umatiCycleKeys = func() map[string]bool {
	m := map[string]bool{KeyPartsLifetime: true}
	for k := range JobSlots {
		m[JobKey(k, "id")], m[JobKey(k, "runs_completed")] = true, true
	}
	return m
}()

// alarmKey names the fields of one alarm slot.
type alarmKey struct {
	rec, seq, code, text, textZH, severity, raised, cleared string
}

// alarmKeys are the keys of every alarm slot, built once so that diffing a
// snapshot allocates nothing.
var alarmKeys = func() (k [AlarmSlots]alarmKey) {
	for i := range k {
		p := "alarm." + string(rune('0'+i))
		k[i] = alarmKey{rec: p, seq: p + ".Seq", code: p + ".Code", text: p + ".Text", textZH: p + ".TextZH",
			severity: p + ".Severity", raised: p + ".Raised", cleared: p + ".Cleared"}
	}
	return k
}()

// recordOf names the record a signal belongs to ("" for plain process
// values): the identification, the last cycle, the last measurement or one
// alarm slot.
func recordOf(key string) string {
	switch {
	case strings.HasPrefix(key, "ident."):
		return "ident"
	case strings.HasPrefix(key, "cycle."):
		return "cycle"
	case strings.HasPrefix(key, "measure."):
		return "measure"
	case strings.HasPrefix(key, "alarm.") && len(key) > len("alarm.0."):
		return key[:len("alarm.0")]
	}
	return ""
}

// isHot tells whether a record field is its record's trigger (its Seq, or
// an alarm slot's Cleared). The other fields are read only when the trigger
// changes; identification is read once per connection.
func isHot(key string) bool {
	switch recordOf(key) {
	case "":
		return true
	case "ident":
		return false
	}
	return strings.HasSuffix(key, ".Seq") || (strings.HasPrefix(key, "alarm.") && strings.HasSuffix(key, ".Cleared"))
}

// responseBudget keeps every Read response well below 64 KiB: some servers
// cannot split a response into chunks (gopcua's v0.8.0 among them: gap
// gopcua/opcua#860, fixed by #861 after v0.8.0).
const responseBudget = 40 << 10

// valueSize estimates the encoded size of one DataValue of the given type,
// with its timestamps and a status code (a margin: polls ask for the source
// timestamp only).
func valueSize(typ string) int {
	const overhead = 1 + 1 + 8 + 8 + 4
	switch typ {
	case TString:
		return overhead + 4 + 44
	case TLocalizedText:
		return overhead + 1 + 4 + 5 + 4 + 44
	case TBoolean:
		return overhead + 1
	case TUInt16:
		return overhead + 2
	case TInt32, TUInt32:
		return overhead + 4
	}
	return overhead + 8
}

// chunkReads splits the read list into requests of at most limit nodes and
// responseBudget bytes, keeping an object's nodes in one request where they
// fit so that its values are read at one instant. The first request also
// carries the heartbeat.
func chunkReads(items []readRef, limit int) [][]readRef {
	limit = max(1, min(limit, maxOpsPerRequest)) - 1 // room for the heartbeat in the first
	var chunks [][]readRef
	var cur []readRef
	size := 0
	flush := func() {
		if len(cur) > 0 {
			chunks = append(chunks, cur)
			cur, size = nil, 0
		}
	}
	for lo := 0; lo < len(items); {
		hi := lo
		osize := 0
		for hi < len(items) && items[hi].o == items[lo].o {
			osize += valueSize(items[hi].o.signals[items[hi].i].Type)
			hi++
		}
		if len(cur)+(hi-lo) > limit || size+osize > responseBudget {
			flush()
		}
		for _, it := range items[lo:hi] {
			vs := valueSize(it.o.signals[it.i].Type)
			if len(cur) >= limit || size+vs > responseBudget {
				flush()
			}
			cur = append(cur, it)
			size += vs
		}
		lo = hi
	}
	flush()
	if len(chunks) == 0 {
		chunks = [][]readRef{nil}
	}
	return chunks
}

// readSet selects the request lists of a read.
type readSet int

const (
	readEvery readSet = iota // every resolved node
	readHot                  // the nodes read every cycle
	readWarm                 // hot and slow
)

func (s *session) lists(which readSet) ([][]readRef, [][]*ua.ReadValueID) {
	switch which {
	case readHot:
		return s.hotCh, s.hotReq
	case readWarm:
		return s.warmCh, s.warmReq
	}
	return s.chunks, s.allReq
}
