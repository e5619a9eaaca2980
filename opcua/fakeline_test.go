package opcua

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"
	"github.com/stretchr/testify/require"
)

// fakeLine is a small gopcua server serving model.go's tree for a few
// machines, for tests that need to control values exactly and inject faults.
// Values live outside the server, so a restart keeps them while node ids change.
type fakeLine struct {
	tb       testing.TB
	machines []string
	inspect  map[string]bool
	port     int

	mu      sync.Mutex
	vals    map[string]map[string]any // machine → key → value
	srcTime map[string]map[string]time.Time
	srv     *server.Server
	nodes   map[string]map[string]*ua.NodeID // machine → key → node (current server)
	byNode  map[string][2]string             // node id → machine, key
	starts  int
	jobs    []fakeJob
	busy    map[string]bool
}

type fakeJob struct{ Machine, Serial, Program, Version string }

func startFakeLine(tb testing.TB, machines []string, inspection ...string) *fakeLine {
	tb.Helper()
	f := &fakeLine{tb: tb, machines: machines, inspect: map[string]bool{},
		vals: map[string]map[string]any{}, srcTime: map[string]map[string]time.Time{}, busy: map[string]bool{}}
	for _, m := range inspection {
		f.inspect[m] = true
	}
	for _, m := range machines {
		f.vals[m] = map[string]any{}
		f.srcTime[m] = map[string]time.Time{}
		for _, s := range MachineSignals(f.inspect[m]) {
			f.vals[m][s.Key] = zeroValue(s.Type)
		}
		f.vals[m][KeyState] = "idle"
		f.vals[m][KeyOperationMode] = int32(OpModeAutomatic)
	}
	// a free port can be taken by someone else between probe and listen: retry
	var err error
	for try := 0; try < 5; try++ {
		l, lerr := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(tb, lerr)
		f.port = l.Addr().(*net.TCPAddr).Port
		require.NoError(tb, l.Close())
		if err = f.start(); err == nil {
			break
		}
	}
	require.NoError(tb, err)
	tb.Cleanup(f.stop)
	return f
}

func (f *fakeLine) URL() string { return fmt.Sprintf("opc.tcp://127.0.0.1:%d", f.port) }

func zeroValue(typ string) any {
	switch typ {
	case TString:
		return ""
	case TDouble:
		return float64(0)
	case TInt32:
		return int32(0)
	case TUInt32:
		return uint32(0)
	case TUInt16:
		return uint16(0)
	case TBoolean:
		return false
	case TDateTime:
		return time.Time{}
	case TLocalizedText:
		return &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: ""}
	}
	panic("unknown type " + typ)
}

func typeID(typ string) uint32 {
	switch typ {
	case TString:
		return id.String
	case TDouble:
		return id.Double
	case TInt32:
		return id.Int32
	case TUInt32:
		return id.UInt32
	case TUInt16:
		return id.UInt16
	case TBoolean:
		return id.Boolean
	case TDateTime:
		return id.DateTime
	}
	return id.LocalizedText
}

// start builds a fresh server on the fixed port. Each start skips a
// different number of node ids, so ids cached from a previous run are wrong.
func (f *fakeLine) start() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	srv := server.New(server.EndPoint("127.0.0.1", f.port),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous))
	nsIdx := map[string]*server.NodeNameSpace{}
	for _, u := range []string{NsDI, NsMA, NsMT, NsPL} {
		nsIdx[u] = server.NewNodeNameSpace(srv, u)
	}
	pl := nsIdx[NsPL]
	for i := 0; i < 1000*f.starts; i++ {
		pl.GetNextNodeID()
	}
	qn := func(q QName) *ua.QualifiedName {
		if q.NS == "" {
			return &ua.QualifiedName{Name: q.Name}
		}
		return &ua.QualifiedName{NamespaceIndex: nsIdx[q.NS].ID(), Name: q.Name}
	}
	newNode := func(nid *ua.NodeID, q *ua.QualifiedName, class ua.NodeClass, extra map[ua.AttributeID]*ua.DataValue, val server.ValueFunc) *server.Node {
		attrs := map[ua.AttributeID]*ua.DataValue{
			ua.AttributeIDNodeClass:   server.DataValueFromValue(uint32(class)),
			ua.AttributeIDBrowseName:  server.DataValueFromValue(q),
			ua.AttributeIDDisplayName: server.DataValueFromValue(&ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: q.Name}),
		}
		for k, v := range extra {
			attrs[k] = v
		}
		return server.NewNode(nid, attrs, nil, val)
	}
	objects := srv.Node(ua.NewNumericNodeID(0, id.ObjectsFolder))
	mtType := newNode(ua.NewNumericNodeID(nsIdx[NsMT].ID(), MachineToolTypeID), qn(QName{NS: NsMT, Name: "MachineToolType"}), ua.NodeClassObjectType, nil, nil)
	nsIdx[NsMT].AddNode(mtType)
	machinesF := newNode(ua.NewNumericNodeID(nsIdx[NsMA].ID(), MachinesFolderID), qn(QName{NS: NsMA, Name: "Machines"}), ua.NodeClassObject, nil, nil)
	nsIdx[NsMA].AddNode(machinesF)
	objects.AddRef(machinesF, server.RefType(id.Organizes), true)

	f.nodes = map[string]map[string]*ua.NodeID{}
	f.byNode = map[string][2]string{}
	for _, m := range f.machines {
		f.nodes[m] = map[string]*ua.NodeID{}
		mo := newNode(ua.NewNumericNodeID(pl.ID(), pl.GetNextNodeID()), qn(QName{NS: NsPL, Name: m}), ua.NodeClassObject, nil, nil)
		mo.AddRef(mtType, server.RefType(id.HasTypeDefinition), true)
		pl.AddNode(mo)
		machinesF.AddRef(mo, server.RefType(id.Organizes), true)
		folders := map[string]*server.Node{}
		for _, s := range MachineSignals(f.inspect[m]) {
			parent := mo
			for d, q := range s.Path[:len(s.Path)-1] {
				k := fmt.Sprint(s.Path[:d+1])
				n, ok := folders[k]
				if !ok {
					n = newNode(ua.NewNumericNodeID(pl.ID(), pl.GetNextNodeID()), qn(q), ua.NodeClassObject, nil, nil)
					pl.AddNode(n)
					parent.AddRef(n, server.RefType(id.HasComponent), true)
					folders[k] = n
				}
				parent = n
			}
			machine, key := m, s.Key
			nid := ua.NewNumericNodeID(pl.ID(), pl.GetNextNodeID())
			v := newNode(nid, qn(s.Path[len(s.Path)-1]), ua.NodeClassVariable, map[ua.AttributeID]*ua.DataValue{
				ua.AttributeIDDataType: server.DataValueFromValue(ua.NewNumericExpandedNodeID(0, typeID(s.Type))),
			}, func() *ua.DataValue { return f.dataValue(machine, key) })
			pl.AddNode(v)
			parent.AddRef(v, server.RefType(id.HasComponent), true)
			f.nodes[m][s.Key] = nid
			f.byNode[nid.String()] = [2]string{m, s.Key}
		}
	}
	srv.RegisterHandler(id.WriteRequest_Encoding_DefaultBinary, f.write)
	if err := srv.Start(context.Background()); err != nil {
		return err
	}
	f.srv = srv
	return nil
}

func (f *fakeLine) dataValue(machine, key string) *ua.DataValue {
	f.mu.Lock()
	v := f.vals[machine][key]
	ts := f.srcTime[machine][key]
	f.mu.Unlock()
	if ts.IsZero() {
		ts = time.Now()
	}
	return &ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp,
		Value: ua.MustVariant(v), SourceTimestamp: ts, ServerTimestamp: time.Now()}
}

func (f *fakeLine) write(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	req := r.(*ua.WriteRequest)
	res := make([]ua.StatusCode, len(req.NodesToWrite))
	var changed []*ua.NodeID
	f.mu.Lock()
	job := map[string]*fakeJob{}
	for i, w := range req.NodesToWrite {
		mk, ok := f.byNode[w.NodeID.String()]
		if !ok {
			res[i] = ua.StatusBadNodeIDUnknown
			continue
		}
		m, key := mk[0], mk[1]
		if !strings.HasPrefix(key, "dispatch.") || key == KeyDispatchAcc {
			res[i] = ua.StatusBadNotWritable
			continue
		}
		v := w.Value.Value.Value()
		if key == KeyDispatchSeq {
			seq, _ := v.(uint32)
			if f.busy[m] || seq != f.vals[m][KeyDispatchAcc].(uint32)+1 {
				res[i] = ua.StatusBadInvalidState
				continue
			}
			f.vals[m][KeyDispatchAcc] = seq
			j := fakeJob{Machine: m, Serial: f.vals[m][KeyDispatchSerial].(string), Program: f.vals[m][KeyDispatchProg].(string), Version: f.vals[m][KeyDispatchVer].(string)}
			job[m] = &j
		}
		f.vals[m][key] = v
		changed = append(changed, w.NodeID)
	}
	for _, j := range job {
		f.jobs = append(f.jobs, *j)
	}
	f.mu.Unlock()
	srv := f.srv
	go func() {
		for _, n := range changed {
			srv.ChangeNotification(n)
		}
	}()
	return &ua.WriteResponse{
		ResponseHeader: &ua.ResponseHeader{Timestamp: time.Now(), RequestHandle: req.RequestHeader.RequestHandle,
			ServiceResult: ua.StatusOK, ServiceDiagnostics: &ua.DiagnosticInfo{}, StringTable: []string{},
			AdditionalHeader: ua.NewExtensionObject(nil)},
		Results: res, DiagnosticInfos: []*ua.DiagnosticInfo{},
	}, nil
}

// Set changes values of one machine at one source time and notifies subscribers.
func (f *fakeLine) Set(machine string, kv map[string]any) {
	now := time.Now()
	f.mu.Lock()
	var ids []*ua.NodeID
	for k, v := range kv {
		if _, ok := f.vals[machine][k]; !ok {
			f.mu.Unlock()
			f.tb.Fatalf("fake line: unknown key %s", k)
		}
		f.vals[machine][k] = v
		f.srcTime[machine][k] = now
		ids = append(ids, f.nodes[machine][k])
	}
	srv := f.srv
	f.mu.Unlock()
	if srv != nil {
		for _, n := range ids {
			srv.ChangeNotification(n)
		}
	}
}

func (f *fakeLine) Jobs() []fakeJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeJob(nil), f.jobs...)
}

func (f *fakeLine) SetBusy(machine string, busy bool) {
	f.mu.Lock()
	f.busy[machine] = busy
	f.mu.Unlock()
}

func (f *fakeLine) stop() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// proxy forwards TCP to a target and can stall (black-hole) traffic while
// keeping connections open: a dead server that TCP does not notice.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	stall  bool
	conns  []net.Conn
}

func startProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	p := &proxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *proxy) URL() string { return "opc.tcp://" + p.ln.Addr().String() }

func (p *proxy) Stall(on bool) {
	p.mu.Lock()
	p.stall = on
	p.mu.Unlock()
}

func (p *proxy) stalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stall
}

func (p *proxy) serve(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, u)
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				_ = dst.Close()
				return
			}
			for p.stalled() {
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				_ = src.Close()
				return
			}
		}
	}
	go pipe(u, c)
	go pipe(c, u)
}
