package opcua

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	opua "github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

// endpoint is one OPC UA server of the line and the objects it serves. One
// goroutine (run) owns the connection and the objects' event state.
type endpoint struct {
	a        *Acquisition
	cfg      mes.Endpoint
	sec      security
	mode     string
	interval time.Duration // poll interval and heartbeat period
	publish  time.Duration // subscription publishing interval
	objects  []*object
	log      *slog.Logger

	mu   sync.Mutex // guards live
	live *session

	// clock follows the server's clock, for the events acquisition stamps
	// itself (see machineClock)
	clock machineClock

	// machine is the browse name of the machine tool an endpoint of one
	// machine answered with first; a later answer with another one is a
	// different machine at the address, and is not read as this one.
	machine string

	// noTranslate remembers that the server lacks TranslateBrowsePathsToNodeIds.
	// IMPORTANT: it is never probed twice, because gopcua's client treats the
	// ServiceFault as a broken channel and stops its subscription loop.
	noTranslate bool
}

func newEndpoint(a *Acquisition, acq mes.Acquisition, e mes.Endpoint) *endpoint {
	mode := acq.Mode
	if e.Mode != "" {
		mode = e.Mode
	}
	iv := time.Duration(acq.PollIntervalMS) * time.Millisecond
	if iv <= 0 {
		iv = 500 * time.Millisecond
	}
	pub := time.Duration(acq.PublishIntervalMS) * time.Millisecond
	if pub <= 0 {
		pub = iv
	}
	return &endpoint{a: a, cfg: e, sec: endpointSecurity(acq, e), mode: mode, interval: iv, publish: pub,
		log: a.log.With("endpoint", e.ID, "url", e.URL)}
}

// requestTimeout bounds every request of a cycle: a server that does not
// answer within one interval is treated as gone, so a dead connection is
// noticed within two intervals instead of at the TCP timeout.
func (e *endpoint) requestTimeout() time.Duration {
	return min(max(e.interval, 250*time.Millisecond), 10*time.Second)
}

func (e *endpoint) connectTimeout() time.Duration {
	return min(max(4*e.interval, 2*time.Second), 15*time.Second)
}

func (e *endpoint) current() *session {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.live
}

func (e *endpoint) setLive(s *session) {
	e.mu.Lock()
	e.live = s
	e.mu.Unlock()
}

// run connects, reads until the connection fails, marks the objects lost and
// reconnects with backoff, until ctx is done.
func (e *endpoint) run(ctx context.Context) {
	bo := backoff{base: min(max(e.interval/2, 100*time.Millisecond), time.Second), max: min(max(10*e.interval, 2*time.Second), 30*time.Second)}
	for ctx.Err() == nil {
		s, err := e.connect(ctx)
		if err == nil {
			e.setLive(s)
			e.markMissing(ctx, s)
			if e.mode == mes.ModeSubscribe {
				err = e.subscribe(ctx, s)
			} else {
				err = e.poll(ctx, s)
			}
			e.setLive(nil)
			bo.reset()
			if ctx.Err() == nil {
				e.down(ctx, err)
			}
			// a stalled server can take its time over CloseSession: do not wait for it
			go s.close()
		} else if ctx.Err() == nil {
			e.down(ctx, err)
		}
		if ctx.Err() != nil {
			return
		}
		if !sleepCtx(ctx, bo.next()) {
			return
		}
	}
}

// down reports every object of the endpoint lost.
func (e *endpoint) down(ctx context.Context, err error) {
	now := time.Now()
	reason := errText(err)
	e.log.Warn("endpoint down", "err", reason)
	lost := false
	for _, o := range e.objects {
		lost = lost || !o.commLostSet
		e.a.setStatus(o.id, func(st *MachineStatus) {
			st.CommOK, st.State, st.LastError = false, mes.StateCommLost, reason
		})
	}
	if !lost {
		return // reported at the start of this outage
	}
	at := e.machineTime(ctx, now)
	var ev []mes.MachineEvent
	for _, o := range e.objects {
		ev = append(ev, receivedAt(o.lost(at, reason), now)...)
	}
	e.a.publish(ctx, ev)
}

// clockWait bounds how long an endpoint that was never read waits for
// another endpoint's clock to stamp its loss with.
const clockWait = 10 * time.Second

// machineTime is the machine's time at local time local: from its own clock,
// or, when it was never read since acquisition started (the endpoint was
// already down, say when the MES restarted during an outage), from the
// clock of the line's most recently read endpoint, waiting up to clockWait
// for one; the local time if none answers. A line's machines share one
// time base in practice (NTP, or the simulator's clock); the MES's own clock
// may be far from it.
func (e *endpoint) machineTime(ctx context.Context, local time.Time) time.Time {
	if e.clock.known() {
		return e.clock.at(local)
	}
	wait := time.NewTimer(clockWait)
	defer wait.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if c := e.a.newestClock(); c != nil {
			return c.at(local)
		}
		select {
		case <-ctx.Done():
			return local
		case <-wait.C:
			return local
		case <-tick.C:
		}
	}
}

// markMissing reports the objects the server does not have as lost.
func (e *endpoint) markMissing(ctx context.Context, s *session) {
	if len(s.notFound) == 0 {
		return
	}
	if !e.clock.known() {
		_ = e.heartbeat(ctx, s) // the server's clock, to stamp the loss with
	}
	now := time.Now()
	at := e.machineTime(ctx, now)
	var ev []mes.MachineEvent
	for _, o := range s.notFound {
		e.log.Warn("object not found on the server", "object", o.id, "browse_name", o.node)
		ev = append(ev, receivedAt(o.lost(at, "not found on the server"), now)...)
		e.a.setStatus(o.id, func(st *MachineStatus) {
			st.CommOK, st.State, st.LastError = false, mes.StateCommLost, "not found on the server"
		})
	}
	e.a.publish(ctx, ev)
}

// session is one live connection with every node id resolved for it.
type session struct {
	c        *gopcua.Client
	lim      limits
	ids      map[*object][]*opua.NodeID
	snap     map[*object]snapshot
	items    []readRef // every resolved node, objects kept contiguous
	chunks   [][]readRef
	hot      []readRef                        // the nodes read every cycle
	hotCh    [][]readRef                      // hot, split into requests
	warmCh   [][]readRef                      // hot and slow, split into requests: every slowEvery-th cycle
	hotReq   [][]*opua.ReadValueID            // hotCh as request bodies (heartbeat first), built once
	warmReq  [][]*opua.ReadValueID            // warmCh likewise
	allReq   [][]*opua.ReadValueID            // chunks likewise
	cold     map[*object]map[string][]readRef // record fields, by record, read when their trigger changes
	slots    []alarmRing                      // objects whose ring is followed through PL:Alarms/Latest
	cycle    int                              // poll cycles since connecting
	found    []*object
	notFound []*object
}

// readRef is one resolved node of an object.
type readRef struct {
	o    *object
	i    int
	n    *opua.NodeID
	trig trigger // what a change of this node means
	rec  string  // the record it triggers (trigRecord)
}

// trigger tells what a change of a node read every cycle implies.
type trigger uint8

const (
	trigNone   trigger = iota
	trigRecord         // the record rec changed: read its fields
	trigLatest         // PL:Alarms/Latest: new alarms in the ring, read their slots
)

// alarmRing is one object's alarm slots when its ring is followed through
// PL:Alarms/Latest: only the Cleared of raised, uncleared alarms is read
// every cycle, instead of every slot's Seq and Cleared.
type alarmRing struct {
	o       *object
	seq     [AlarmSlots]int     // signal index of each slot's Seq
	cleared [AlarmSlots]readRef // each slot's Cleared (n nil when unresolved)
}

func (s *session) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.c.Close(ctx)
}

// connect opens a session and resolves every object's nodes by browse path.
// IMPORTANT: called after every reconnect; node ids are never reused across
// sessions, because a restarted server may number its nodes differently.
func (e *endpoint) connect(ctx context.Context) (*session, error) {
	// resolving a gateway of a thousand machines takes a while: a millisecond a node
	signals := 0
	for _, o := range e.objects {
		signals += len(o.signals)
	}
	budget := e.connectTimeout() + time.Duration(signals)*time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, e.connectTimeout())
		c, err := dial(cctx, e.cfg.URL, e.sec, e.a.ident, e.connectTimeout())
		cancel()
		if err != nil {
			return nil, err
		}
		s := &session{c: c, ids: map[*object][]*opua.NodeID{}, snap: map[*object]snapshot{}}
		probed := !e.noTranslate
		rctx, rcancel := context.WithTimeout(ctx, budget)
		err = e.resolve(rctx, s)
		rcancel()
		if err != nil {
			s.close()
			return nil, err
		}
		if probed && e.noTranslate && e.mode == mes.ModeSubscribe {
			// the failed probe stopped this client's publish loop: start afresh
			s.close()
			continue
		}
		return s, nil
	}
}

func (e *endpoint) resolve(ctx context.Context, s *session) error {
	s.lim = readLimits(ctx, s.c)
	ns := loadNamespaces(s.c)
	r := &resolver{c: s.c, ns: ns, lim: s.lim, noTrans: e.noTranslate}
	defer func() { e.noTranslate = r.noTrans }()

	objs := opua.NewNumericNodeID(0, id.ObjectsFolder)
	top, err := r.browse(ctx, []*opua.NodeID{objs})
	if err != nil {
		return err
	}
	var machinesFolder, cellFolder *opua.NodeID
	for _, k := range top[0] {
		if k.name.Name == "Machines" && nsURI(s.c, k.name.NamespaceIndex) == NsMA {
			machinesFolder = k.id
		}
		if k.name.Name == "Cell" && nsURI(s.c, k.name.NamespaceIndex) == NsPL {
			cellFolder = k.id
		}
	}
	var folders []*opua.NodeID
	if machinesFolder != nil {
		folders = append(folders, machinesFolder)
	}
	if cellFolder != nil {
		folders = append(folders, cellFolder)
	}
	kids := map[string][]child{}
	if len(folders) > 0 {
		res, err := r.browse(ctx, folders)
		if err != nil {
			return err
		}
		if machinesFolder != nil {
			kids["machines"] = res[0]
		}
		if cellFolder != nil {
			kids["cell"] = res[len(res)-1]
		}
	}
	var machines []*object
	for _, o := range e.objects {
		if o.isMachine() {
			machines = append(machines, o)
		}
	}
	roots := map[*object]*opua.NodeID{}
	for _, o := range e.objects {
		list := kids["cell"]
		if o.isMachine() {
			list = kids["machines"]
		}
		for _, k := range list {
			if !k.isTypeDf && k.name.Name == o.node {
				roots[o] = k.id
				break
			}
		}
	}
	// A server that names its only machine differently is still read: the
	// machine tool is recognised by its type definition, as long as it is
	// the one the endpoint answered with before.
	if len(machines) == 1 {
		m := machines[0]
		switch {
		case roots[m] != nil:
			e.machine = m.node
		default:
			var typed []child
			for _, k := range kids["machines"] {
				if !k.isTypeDf && isMachineToolType(s.c, k.typeDef) {
					typed = append(typed, k)
				}
			}
			if len(typed) != 1 {
				break
			}
			if name := typed[0].name.Name; e.machine == "" || e.machine == name {
				roots[m], e.machine = typed[0].id, name
				e.log.Info("machine found by type definition", "machine", m.id, "browse_name", name)
			} else {
				e.log.Error("the endpoint answers with another machine than before: not read", "machine", m.id, "expected", e.machine, "found", name)
			}
		}
	}
	if len(roots) == 0 {
		return fmt.Errorf("none of the %d configured objects found under Objects/MA:Machines or Objects/PL:Cell", len(e.objects))
	}

	var reqs []pathReq
	var owners []readRef
	for _, o := range e.objects {
		root := roots[o]
		if root == nil {
			s.notFound = append(s.notFound, o)
			continue
		}
		s.found = append(s.found, o)
		for i, sg := range o.signals {
			reqs = append(reqs, pathReq{start: root, path: sg.Path})
			owners = append(owners, readRef{o: o, i: i})
		}
	}
	nodes, err := r.resolve(ctx, reqs)
	if err != nil {
		return err
	}
	missing := 0
	for j, n := range nodes {
		ref := owners[j]
		if s.ids[ref.o] == nil {
			s.ids[ref.o] = make([]*opua.NodeID, len(ref.o.signals))
			s.snap[ref.o] = make(snapshot, len(ref.o.signals))
		}
		if n == nil {
			missing++
			continue
		}
		s.ids[ref.o][ref.i] = n
		ref.n = n
		s.items = append(s.items, ref)
	}
	e.log.Info("endpoint connected", "objects", len(s.found), "nodes", len(s.items), "unresolved", missing,
		"browse_walk", r.noTrans, "max_read", s.lim.read)
	s.classify()
	return nil
}

// slowEvery is how many poll cycles apart the slow values (umati channel,
// job and tool nodes, program version and hash, dispatch) are
// read: they feed no event, so at the default 500 ms interval they are at
// most 5 s old in the snapshot. Identification is read once per connection.
const slowEvery = 10

// tieredReads switches the fast/slow split and the alarm ring's Latest
// trigger on; the benchmarks switch it off to measure the line read whole
// every cycle in the same run.
var tieredReads = true

// classify splits the resolved nodes into what a poll cycle reads: hot
// nodes every cycle, slow nodes every slowEvery-th cycle, record fields
// only when their trigger changes.
func (s *session) classify() {
	s.cold = map[*object]map[string][]readRef{}
	s.hot, s.slots = nil, nil
	var warm []readRef
	latest := map[*object]bool{}
	for _, it := range s.items {
		if it.o.signals[it.i].Key == KeyAlarmLatest && tieredReads {
			latest[it.o] = true
		}
	}
	for k := range s.items {
		it := &s.items[k]
		key := it.o.signals[it.i].Key
		rec := recordOf(key)
		switch {
		case rec == "" && key == KeyAlarmLatest && tieredReads:
			it.trig = trigLatest
		case rec == "" && (it.o.kind == objRobot || it.o.kind == objStation || fastKeys[key] || !tieredReads):
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
func readBodies(chunks [][]readRef) [][]*opua.ReadValueID {
	out := make([][]*opua.ReadValueID, len(chunks))
	for k, ch := range chunks {
		b := make([]*opua.ReadValueID, 0, len(ch)+1)
		if k == 0 {
			b = append(b, &opua.ReadValueID{NodeID: heartbeatNode, AttributeID: opua.AttributeIDValue, DataEncoding: &opua.QualifiedName{}})
		}
		for _, it := range ch {
			b = append(b, &opua.ReadValueID{NodeID: it.n, AttributeID: opua.AttributeIDValue, DataEncoding: &opua.QualifiedName{}})
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

// sameValue compares two read values.
func sameValue(a, b *opua.DataValue) bool {
	if a == nil || b == nil || a.Value == nil || b.Value == nil {
		return a == b
	}
	if a.Status != b.Status {
		return false
	}
	switch x := a.Value.Value().(type) {
	case time.Time:
		y, ok := b.Value.Value().(time.Time)
		return ok && x.Equal(y)
	case *opua.LocalizedText:
		y, ok := b.Value.Value().(*opua.LocalizedText)
		return ok && x != nil && y != nil && x.Text == y.Text
	case string, float64, float32, int32, uint32, int16, uint16, bool, int64, uint64, byte, int8:
		return x == b.Value.Value()
	}
	return false
}

func nsURI(c *gopcua.Client, i uint16) string {
	ns := c.Namespaces()
	if int(i) < len(ns) {
		return ns[i]
	}
	return ""
}

func isMachineToolType(c *gopcua.Client, td *opua.ExpandedNodeID) bool {
	if td == nil || td.NodeID == nil || td.NodeID.IntID() != MachineToolTypeID {
		return false
	}
	if td.NamespaceURI != "" {
		return td.NamespaceURI == NsMT
	}
	return nsURI(c, td.NodeID.Namespace()) == NsMT
}

// responseBudget keeps every Read response well below 64 KiB: some servers
// (gopcua's among them) cannot split a response into chunks.
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

var heartbeatNode = opua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime)

// readAll reads every resolved node plus the heartbeat into the snapshots.
func (e *endpoint) readAll(ctx context.Context, s *session) error {
	return e.readChunks(ctx, s, readEvery, nil, nil)
}

// readCycle is one poll: the hot nodes (every slowEvery-th cycle the slow
// ones too), the Cleared of each raised alarm and the heartbeat in one
// batched Read (chunked), then, in a second Read, the fields of every record
// whose trigger changed, so that a record is always read whole.
func (e *endpoint) readCycle(ctx context.Context, s *session) error {
	s.cycle++
	which := readHot
	if s.cycle%slowEvery == 0 {
		which = readWarm
	}
	var extra []readRef
	for k := range s.slots {
		r := &s.slots[k]
		snap := s.snap[r.o]
		for i := range AlarmSlots {
			if c := r.cleared[i]; c.n != nil && r.seq[i] < len(snap) && good(snap[r.seq[i]]) && valueUint(snap[r.seq[i]]) != 0 && alarmOpen(snap[c.i]) {
				extra = append(extra, c)
			}
		}
	}
	var records []readRef
	err := e.readChunks(ctx, s, which, extra, func(it readRef, old, cur *opua.DataValue) {
		if it.trig == trigNone || sameValue(old, cur) {
			return
		}
		if it.trig == trigRecord {
			records = append(records, it)
			records = append(records, s.cold[it.o][it.rec]...)
			return
		}
		// new alarms since the last read: their slots, the whole ring when
		// the count jumped by a ring or more, or went back
		from, to := valueUint(old), valueUint(cur)
		if !good(old) || to < from || to-from >= AlarmSlots {
			from = to - min(to, AlarmSlots)
		}
		for seq := from + 1; seq <= to; seq++ {
			records = append(records, s.cold[it.o][alarmKeys[seq%AlarmSlots].rec]...)
		}
	})
	if err != nil {
		return err
	}
	return e.rereadRecords(ctx, s, records)
}

// alarmOpen tells whether a slot's Cleared says the alarm is still active.
func alarmOpen(dv *opua.DataValue) bool {
	if !good(dv) {
		return true
	}
	t, _ := dv.Value.Value().(time.Time)
	return !t.After(opcEpoch)
}

func valueUint(dv *opua.DataValue) uint64 {
	if dv == nil || dv.Value == nil {
		return 0
	}
	switch v := dv.Value.Value().(type) {
	case uint32:
		return uint64(v)
	case int32:
		return uint64(max(v, 0))
	case uint64:
		return v
	case int64:
		return uint64(max(v, 0))
	case uint16:
		return uint64(v)
	case float64:
		return uint64(max(v, 0))
	}
	return 0
}

// readSet selects the request lists of a read.
type readSet int

const (
	readEvery readSet = iota // every resolved node
	readHot                  // the nodes read every cycle
	readWarm                 // hot and slow
)

func (s *session) lists(which readSet) ([][]readRef, [][]*opua.ReadValueID) {
	switch which {
	case readHot:
		return s.hotCh, s.hotReq
	case readWarm:
		return s.warmCh, s.warmReq
	}
	return s.chunks, s.allReq
}

// readChunks reads the chosen lists, extra nodes riding in the first
// request (or one of their own when it is full).
func (e *endpoint) readChunks(ctx context.Context, s *session, which readSet, extra []readRef, changed func(it readRef, old, cur *opua.DataValue)) error {
	chunks, bodies := s.lists(which)
	for k := 0; k < len(chunks)+1; k++ {
		var ch []readRef
		var body []*opua.ReadValueID
		off := 0
		switch {
		case k < len(chunks):
			ch, body = chunks[k], bodies[k]
			if k == 0 {
				off = 1
			}
			if k == 0 && len(extra) > 0 && len(body)+len(extra) <= max(1, min(s.lim.read, maxOpsPerRequest)) {
				body = slices.Clip(body)
				ch = append(slices.Clip(ch), extra...)
				for _, it := range extra {
					body = append(body, &opua.ReadValueID{NodeID: it.n, AttributeID: opua.AttributeIDValue, DataEncoding: &opua.QualifiedName{}})
				}
				extra = nil
			}
		case len(extra) > 0:
			ch = extra
			for _, it := range extra {
				body = append(body, &opua.ReadValueID{NodeID: it.n, AttributeID: opua.AttributeIDValue, DataEncoding: &opua.QualifiedName{}})
			}
		default:
			continue
		}
		if len(body) == 0 {
			continue
		}
		req := &opua.ReadRequest{TimestampsToReturn: opua.TimestampsToReturnSource, NodesToRead: body}
		rctx, cancel := context.WithTimeout(ctx, e.requestTimeout())
		res, err := s.c.Read(rctx, req)
		cancel()
		if err == nil && res.ResponseHeader.ServiceResult == opua.StatusBadTooManyOperations {
			err = opua.StatusBadTooManyOperations
		}
		if errors.Is(err, opua.StatusBadTooManyOperations) && s.lim.readProbe && s.lim.read != s.lim.readAdvertised {
			e.log.Info("server enforces its advertised read limit", "max_read", s.lim.readAdvertised)
			s.lim.read = s.lim.readAdvertised
			s.rechunk(nil)
			return e.readChunks(ctx, s, which, extra, changed)
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if sr := res.ResponseHeader.ServiceResult; sr != opua.StatusOK {
			return fmt.Errorf("read: %w", sr)
		}
		if len(res.Results) != len(req.NodesToRead) {
			return fmt.Errorf("read: %d results for %d nodes", len(res.Results), len(req.NodesToRead))
		}
		if off == 1 {
			e.clock.observeValue(res.Results[0], time.Now())
		}
		for j, it := range ch {
			cur := res.Results[j+off]
			if changed != nil {
				changed(it, s.snap[it.o][it.i], cur)
			}
			s.snap[it.o][it.i] = cur
		}
	}
	return nil
}

// heartbeat reads the server's current time: an answer within one interval
// proves the connection and the server alive.
func (e *endpoint) heartbeat(ctx context.Context, s *session) error {
	rctx, cancel := context.WithTimeout(ctx, e.requestTimeout())
	defer cancel()
	res, err := s.c.Read(rctx, &opua.ReadRequest{TimestampsToReturn: opua.TimestampsToReturnNeither,
		NodesToRead: []*opua.ReadValueID{{NodeID: heartbeatNode, AttributeID: opua.AttributeIDValue}}})
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if len(res.Results) == 1 {
		e.clock.observeValue(res.Results[0], time.Now())
	}
	return nil
}

// receivedAt sets the local receive time of events acquisition stamped
// itself on the machine's clock.
func receivedAt(ev []mes.MachineEvent, local time.Time) []mes.MachineEvent {
	for i := range ev {
		ev[i].Received = local
	}
	return ev
}

// emit derives events for the given objects from their snapshots, updates
// their status and hands the events to the sink.
func (e *endpoint) emit(ctx context.Context, s *session, objs []*object) {
	now := time.Now()
	at := e.clock.at(now)
	var ev []mes.MachineEvent
	for _, o := range objs {
		snap := s.snap[o]
		ev = append(ev, receivedAt(o.restored(at), now)...)
		ev = append(ev, o.derive(snap, now, e.log)...)
		var newest time.Time
		for _, dv := range snap {
			if t := srcTime(dv); good(dv) && t.After(newest) {
				newest = t
			}
		}
		state, mode := o.state, o.mode
		if o.kind == objRobot {
			state = o.lastRobot.State
		}
		e.a.setStatus(o.id, func(st *MachineStatus) {
			st.CommOK, st.LastLocal, st.LastError = true, now, ""
			if state != "" {
				st.State = state
			} else if st.State == mes.StateOffline || st.State == mes.StateCommLost {
				st.State = mes.StateIdle
			}
			st.Mode = mode
			if newest.After(st.LastSource) {
				st.LastSource = newest
			}
		})
	}
	e.a.publish(ctx, ev)
}

// poll reads the endpoint once per interval until a read fails; the first
// read after connecting is a full one.
func (e *endpoint) poll(ctx context.Context, s *session) error {
	t := time.NewTimer(untilTick(time.Now(), e.interval))
	defer t.Stop()
	read := e.readAll
	for {
		if err := read(ctx, s); err != nil {
			return err
		}
		read = e.readCycle
		e.emit(ctx, s, s.found)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			t.Reset(untilTick(time.Now(), e.interval))
		}
	}
}

// untilTick is the time from now to the next whole multiple of interval
// since the Unix epoch. Every endpoint polling at the same interval reads
// at the same instants: the line is sampled together, and the process
// wakes once per cycle rather than once per endpoint, which is most of
// what an idle poll costs.
func untilTick(now time.Time, interval time.Duration) time.Duration {
	d := interval - time.Duration(now.UnixNano()%int64(interval))
	if d < interval/10 {
		d += interval // just missed one: never read twice in a row
	}
	return d
}
