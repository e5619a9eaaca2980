package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"

	"github.com/pilotline/pilotline/mes"
)

// Limits this server advertises in Server/ServerCapabilities/OperationLimits
// and enforces. gopcua cannot split a response into chunks, so every
// response must also stay under one 64 KiB message.
const (
	maxNodesPerRead      = 1000
	maxNodesPerWrite     = 1000
	maxNodesPerBrowse    = 1000
	maxNodesPerTranslate = 1000
	maxMonitoredPerCall  = 1000
	maxResponseBytes     = 60000
	maxContinuations     = 256
)

// endpoint is one OPC UA server of the simulated line.
type endpoint struct {
	line     *Line
	id       string
	host     string
	port     int
	sp       *space
	machines []*machine

	mu      sync.Mutex
	srv     *server.Server // created on first start, closed with the line
	srvCtx  context.Context
	stop    context.CancelFunc
	private string         // host:port where srv listens
	keeper  *gopcua.Client // see keep
	ln      net.Listener   // the public port; nil before the first start and after close
	// refusing is set while the endpoint is stopped: its port stays bound,
	// so nothing else can take it before the endpoint starts again, and
	// every connection is reset at once, as a closed port would refuse it.
	refusing bool
	conns    map[net.Conn]struct{} // both sides of every proxied connection
	stalled  chan struct{}         // non-nil while stalled; closed to release
	pipes    sync.WaitGroup        // the accept loop and every forwarding goroutine

	dirtyMu sync.Mutex
	dirty   map[*node]struct{}
	wake    chan struct{}

	cpMu  sync.Mutex
	cpSeq uint64
	cps   map[string][]*ua.ReferenceDescription
	cpAge []string
}

func (e *endpoint) url() string {
	return "opc.tcp://" + net.JoinHostPort(e.host, strconv.Itoa(e.port))
}

// start serves e on its public port, creating its gopcua server on first
// use; it returns once the port is listening.
//
// The gopcua server listens on a private port and e forwards each public
// connection to it. Stopping the endpoint closes the public port and the
// forwarded connections only: the gopcua server lives until the line
// closes, because gopcua's Server.Close neither closes its clients' TCP
// connections nor is free of data races against a connection being
// registered (see keep).
func (e *endpoint) start(parent context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ln != nil {
		e.refusing = false
		return nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(e.host, strconv.Itoa(e.port)))
	if err != nil {
		return fmt.Errorf("endpoint %s: listen %s: %w", e.id, e.url(), err)
	}
	if e.srv == nil {
		if err := e.serve(parent); err != nil {
			ln.Close()
			return err
		}
	}
	e.ln, e.conns = ln, map[net.Conn]struct{}{}
	e.pipes.Add(1)
	go func() { defer e.pipes.Done(); e.accept(e.srvCtx, ln, e.private) }()
	return nil
}

// serve creates and starts e's gopcua server on a private port. e.mu is held.
func (e *endpoint) serve(parent context.Context) error {
	private, err := freePort(e.host)
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", e.id, err)
	}
	srv, err := newServer(
		server.EndPoint(e.host, private), // the first endpoint is where gopcua listens
		server.EndPoint(e.host, e.port),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.ServerName("Pilotline simulated line "+e.id),
		server.ManufacturerName("Pilotline"),
		server.ProductName("Pilotline line simulator"),
	)
	if err != nil {
		return err
	}
	for i := 1; i < nsCount; i++ {
		uri := nsURIs[i]
		if i == nsLocal {
			uri = "urn:pilotline:sim:" + e.id
		}
		if got := srv.AddNamespace(&nsView{ep: e, uri: uri, idx: uint16(i)}); got != i {
			return fmt.Errorf("endpoint %s: namespace %s got index %d, want %d", e.id, uri, got, i)
		}
	}
	objects := srv.Node(server.ObjectsFolder)
	if objects == nil {
		return fmt.Errorf("endpoint %s: no Objects folder", e.id)
	}
	objects.AddRef(e.sp.machines.serverShell(), server.RefTypeIDOrganizes, true)
	if e.sp.cell != nil {
		objects.AddRef(e.sp.cell.serverShell(), server.RefTypeIDOrganizes, true)
	}
	for nid, v := range map[uint32]uint32{
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead:                          maxNodesPerRead,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerWrite:                         maxNodesPerWrite,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerBrowse:                        maxNodesPerBrowse,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIDs: maxNodesPerTranslate,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRegisterNodes:                 maxNodesPerRead,
		id.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall:                 maxMonitoredPerCall,
	} {
		if n := srv.Node(ua.NewNumericNodeID(0, nid)); n != nil {
			n.SetAttribute(ua.AttributeIDValue, server.DataValueFromValue(v))
		}
	}

	// Only close stops the server, after Close: its serving loop must run
	// until then (see close), whatever happens to the line's context.
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	e.register(srv)
	if err := srv.Start(ctx); err != nil {
		cancel()
		return fmt.Errorf("endpoint %s: start server: %w", e.id, err)
	}
	privURL := "opc.tcp://" + net.JoinHostPort(e.host, strconv.Itoa(private))
	// the keeper's Read is served under e.mu (see read): let it through
	e.srv, e.srvCtx, e.stop, e.private = srv, ctx, cancel, net.JoinHostPort(e.host, strconv.Itoa(private))
	e.mu.Unlock()
	keeper, err := keep(ctx, privURL)
	e.mu.Lock()
	if err != nil {
		e.srv = nil
		_ = srv.Close()
		cancel()
		return fmt.Errorf("endpoint %s: %w", e.id, err)
	}
	e.keeper = keeper
	return nil
}

// keep opens a secure channel to a freshly started gopcua server and reads
// through it once, and the channel stays open until the server closes.
//
// IMPORTANT: this is what makes Server.Close race-free. gopcua counts its
// channels in a sync.WaitGroup that Close waits on, and each channel's Add
// runs on a goroutine of its own: the race detector flags an Add that takes
// the count from zero unless it happened before the Wait. The keeper's
// channel is the only one to do so (it is first and outlives the others),
// and its Add happens before the line's Close through its Read, served
// under e.mu, which halt takes before Close.
func keep(ctx context.Context, url string) (*gopcua.Client, error) {
	c, err := gopcua.NewClient(url, gopcua.SecurityMode(ua.MessageSecurityModeNone), gopcua.AutoReconnect(false),
		gopcua.DialTimeout(10*time.Second), gopcua.RequestTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("keeper: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Dial(dctx); err != nil {
		return nil, fmt.Errorf("keeper: dial: %w", err)
	}
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnNeither,
		NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime), AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}}}}
	if err := c.Send(dctx, req, func(ua.Response) error { return nil }); err != nil {
		_ = c.Close(dctx)
		return nil, fmt.Errorf("keeper: read: %w", err)
	}
	return c, nil
}

// halt stops e: its connections are dropped and new ones reset, its port
// stays reserved and its gopcua server stays, ready for start.
func (e *endpoint) halt() {
	e.mu.Lock()
	conns := e.conns
	if e.ln != nil {
		e.refusing, e.conns = true, map[net.Conn]struct{}{}
	}
	e.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// shut closes e's public port and drops its connections for good.
func (e *endpoint) shut() {
	e.mu.Lock()
	ln, conns := e.ln, e.conns
	e.ln, e.conns, e.refusing = nil, nil, false
	e.mu.Unlock()
	if ln == nil {
		return
	}
	ln.Close()
	for c := range conns {
		c.Close()
	}
}

// close shuts e, waits until no byte can reach its gopcua server any more,
// then closes the server.
func (e *endpoint) close() error {
	e.shut()
	e.setStall(false) // a held-back pipe must see its closed connection
	e.pipes.Wait()
	e.mu.Lock()
	srv, stop, keeper := e.srv, e.stop, e.keeper
	e.srv, e.stop, e.keeper = nil, nil, nil
	e.mu.Unlock()
	if srv == nil {
		return nil
	}
	// gopcua closes a channel without closing its connection, and waits
	// (up to 10 s) until the peer has: every peer goes first, the keeper
	// last. Its channel's Add happened before this (see keep), and every
	// other channel was counted while it was open: the forwarder, whose
	// connections were the only others, is gone.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = keeper.Close(ctx)
	// gopcua's serving loop must still run while Close waits for the
	// channel goroutines, or a goroutine holding a last message blocks
	// forever and Close gives up only after 10 s.
	err := srv.Close()
	stop()
	return err
}

func (e *endpoint) accept(ctx context.Context, ln net.Listener, private string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		e.mu.Lock()
		refusing := e.refusing
		e.mu.Unlock()
		if refusing {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, as from a closed port
			}
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", private)
		if err != nil {
			c.Close()
			continue
		}
		e.mu.Lock()
		if e.conns == nil || e.ln != ln || e.refusing {
			stopped := e.refusing && e.ln == ln
			e.mu.Unlock()
			c.Close()
			up.Close()
			if stopped {
				continue // halted since the check above
			}
			return
		}
		e.conns[c], e.conns[up] = struct{}{}, struct{}{}
		e.pipes.Add(2)
		e.mu.Unlock()
		go func() { defer e.pipes.Done(); e.pipe(ctx, up, c) }()
		go func() { defer e.pipes.Done(); e.pipe(ctx, c, up) }()
	}
}

// pipe copies src to dst, holding the bytes back while the endpoint stalls.
func (e *endpoint) pipe(ctx context.Context, dst, src net.Conn) {
	defer func() {
		src.Close()
		dst.Close()
		e.mu.Lock()
		if e.conns != nil {
			delete(e.conns, src)
			delete(e.conns, dst)
		}
		e.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			e.gate(ctx)
			if ctx.Err() != nil {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (e *endpoint) setStall(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case on && e.stalled == nil:
		e.stalled = make(chan struct{})
	case !on && e.stalled != nil:
		close(e.stalled)
		e.stalled = nil
		e.poke()
	}
}

// gate blocks while the endpoint is stalled.
func (e *endpoint) gate(ctx context.Context) {
	e.mu.Lock()
	ch := e.stalled
	e.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

func (e *endpoint) register(srv *server.Server) {
	wrap := func(h func(ua.Request) ua.Response) server.Handler {
		return func(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
			return h(r), nil
		}
	}
	srv.RegisterHandler(id.ReadRequest_Encoding_DefaultBinary, wrap(e.read))
	srv.RegisterHandler(id.WriteRequest_Encoding_DefaultBinary, wrap(e.write))
	srv.RegisterHandler(id.BrowseRequest_Encoding_DefaultBinary, wrap(func(r ua.Request) ua.Response { return e.browse(srv, r) }))
	srv.RegisterHandler(id.BrowseNextRequest_Encoding_DefaultBinary, wrap(e.browseNext))
	srv.RegisterHandler(id.TranslateBrowsePathsToNodeIDsRequest_Encoding_DefaultBinary, wrap(func(r ua.Request) ua.Response { return e.translate(srv, r) }))
	srv.RegisterHandler(id.RegisterNodesRequest_Encoding_DefaultBinary, wrap(e.registerNodes))
	srv.RegisterHandler(id.UnregisterNodesRequest_Encoding_DefaultBinary, wrap(func(r ua.Request) ua.Response {
		return &ua.UnregisterNodesResponse{ResponseHeader: header(r, ua.StatusOK)}
	}))
	srv.RegisterHandler(id.GetEndpointsRequest_Encoding_DefaultBinary, wrap(func(r ua.Request) ua.Response { return e.getEndpoints(srv, r) }))
	// gopcua publishes on a ticker started with the subscription, at a
	// phase unrelated to the simulation's ticks, where the values change:
	// changes then wait up to a whole publishing interval. Starting it
	// just after a tick aligns the two whenever the publishing interval is
	// a multiple of the tick. The response is sent from a goroutine of its
	// own, so that the server's one serving goroutine never waits.
	srv.RegisterHandler(id.CreateSubscriptionRequest_Encoding_DefaultBinary, func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		go func() {
			time.Sleep(e.line.afterTick(time.Now()))
			resp, err := srv.SubscriptionService.CreateSubscription(sc, r, reqID)
			if err != nil {
				resp = fault(r, ua.StatusBadInternalError)
			}
			if err := sc.SendResponseWithContext(context.Background(), reqID, resp); err != nil {
				e.line.log.Debug("create subscription: send response", "endpoint", e.id, "err", err)
			}
		}()
		return nil, nil
	})
	srv.RegisterHandler(id.CreateMonitoredItemsRequest_Encoding_DefaultBinary, func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		if req, ok := r.(*ua.CreateMonitoredItemsRequest); ok && len(req.ItemsToCreate) > maxMonitoredPerCall {
			return fault(r, ua.StatusBadTooManyOperations), nil
		}
		return srv.MonitoredItemService.CreateMonitoredItems(sc, r, reqID)
	})
}

// getEndpoints advertises the public URL only, never the private port the
// forwarder talks to.
func (e *endpoint) getEndpoints(srv *server.Server, r ua.Request) ua.Response {
	public := e.url()
	var eps []*ua.EndpointDescription
	for _, ep := range srv.Endpoints() {
		if ep.EndpointURL != public {
			continue
		}
		c := *ep
		if c.Server != nil {
			app := *c.Server
			app.DiscoveryURLs = []string{public}
			c.Server = &app
		}
		eps = append(eps, &c)
	}
	return &ua.GetEndpointsResponse{ResponseHeader: header(r, ua.StatusOK), Endpoints: eps}
}

func header(r ua.Request, code ua.StatusCode) *ua.ResponseHeader {
	var handle uint32
	if h := r.Header(); h != nil {
		handle = h.RequestHandle
	}
	return &ua.ResponseHeader{
		Timestamp:          time.Now(),
		RequestHandle:      handle,
		ServiceResult:      code,
		ServiceDiagnostics: &ua.DiagnosticInfo{},
		StringTable:        []string{},
		AdditionalHeader:   ua.NewExtensionObject(nil),
	}
}

func fault(r ua.Request, code ua.StatusCode) ua.Response {
	return &ua.ServiceFault{ResponseHeader: header(r, code)}
}

// attr reads one attribute of any node on this endpoint.
func (e *endpoint) attr(srv *server.Server, nid *ua.NodeID, a ua.AttributeID) *ua.DataValue {
	if nid == nil {
		return badValue(ua.StatusBadNodeIDInvalid)
	}
	if nid.Namespace() == 0 {
		if a == ua.AttributeIDValue && nid.Equal(currentTimeNode) {
			// the server's clock is the simulated one, as a machine tool's is
			// its own: clients put their own events on the line's timeline
			now := e.line.Now()
			return &ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueSourceTimestamp, Value: ua.MustVariant(now), SourceTimestamp: now}
		}
		ns, err := srv.Namespace(0)
		if err != nil {
			return badValue(ua.StatusBadNodeIDUnknown)
		}
		dv := *ns.Attribute(nid, a) // gopcua may hand out its stored value: copy
		return &dv
	}
	n := e.sp.lookup(nid)
	if n == nil {
		return badValue(ua.StatusBadNodeIDUnknown)
	}
	return attribute(n, a)
}

// currentTimeNode is Server_ServerStatus_CurrentTime.
var currentTimeNode = ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime)

func (e *endpoint) current() *server.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srv
}

func (e *endpoint) read(r ua.Request) ua.Response {
	req, ok := r.(*ua.ReadRequest)
	if !ok {
		return fault(r, ua.StatusBadRequestTypeInvalid)
	}
	switch {
	case len(req.NodesToRead) == 0:
		return fault(r, ua.StatusBadNothingToDo)
	case len(req.NodesToRead) > maxNodesPerRead:
		return fault(r, ua.StatusBadTooManyOperations)
	}
	srv := e.current()
	if srv == nil {
		return fault(r, ua.StatusBadServerHalted)
	}
	now := e.line.Now()
	results := make([]*ua.DataValue, len(req.NodesToRead))
	size := 64
	for i, rv := range req.NodesToRead {
		dv := e.attr(srv, rv.NodeID, rv.AttributeID)
		switch req.TimestampsToReturn {
		case ua.TimestampsToReturnServer:
			dv.EncodingMask &^= ua.DataValueSourceTimestamp | ua.DataValueSourcePicoseconds
			dv.SourceTimestamp = time.Time{}
			fallthrough
		case ua.TimestampsToReturnBoth:
			dv.EncodingMask |= ua.DataValueServerTimestamp
			dv.ServerTimestamp = now
		case ua.TimestampsToReturnNeither:
			dv.EncodingMask &^= ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp
			dv.SourceTimestamp, dv.ServerTimestamp = time.Time{}, time.Time{}
		default: // Source
			dv.EncodingMask &^= ua.DataValueServerTimestamp
			dv.ServerTimestamp = time.Time{}
		}
		size += dataValueSize(dv)
		results[i] = dv
	}
	if size > maxResponseBytes {
		return fault(r, ua.StatusBadResponseTooLarge)
	}
	return &ua.ReadResponse{ResponseHeader: header(r, ua.StatusOK), Results: results, DiagnosticInfos: []*ua.DiagnosticInfo{}}
}

// dataValueSize estimates the encoded size of dv (never less than it).
func dataValueSize(dv *ua.DataValue) int {
	n := 1 + 4 + 16
	if dv.Value != nil {
		n += 5 + variantSize(dv.Value.Value())
	}
	return n
}

func variantSize(v any) int {
	switch x := v.(type) {
	case string:
		return 4 + len(x)
	case *ua.LocalizedText:
		return 9 + len(x.Locale) + len(x.Text)
	case *ua.QualifiedName:
		return 6 + len(x.Name)
	case []string:
		n := 4
		for _, s := range x {
			n += 4 + len(s)
		}
		return n
	case *ua.NodeID:
		return 7 + len(x.StringID())
	case []uint32:
		return 4 + 4*len(x)
	}
	return 16
}

func (e *endpoint) write(r ua.Request) ua.Response {
	req, ok := r.(*ua.WriteRequest)
	if !ok {
		return fault(r, ua.StatusBadRequestTypeInvalid)
	}
	switch {
	case len(req.NodesToWrite) == 0:
		return fault(r, ua.StatusBadNothingToDo)
	case len(req.NodesToWrite) > maxNodesPerWrite:
		return fault(r, ua.StatusBadTooManyOperations)
	}
	results := make([]ua.StatusCode, len(req.NodesToWrite))
	l := e.line
	l.mu.Lock()
	l.advance(l.clock())
	for i, w := range req.NodesToWrite {
		n := e.sp.lookup(w.NodeID)
		switch {
		case n == nil && (w.NodeID == nil || w.NodeID.Namespace() != 0):
			results[i] = ua.StatusBadNodeIDUnknown
		case n == nil || n.owner == nil:
			results[i] = ua.StatusBadNotWritable
		case w.AttributeID != ua.AttributeIDValue:
			results[i] = ua.StatusBadNotWritable
		case w.Value == nil || w.Value.Value == nil:
			results[i] = ua.StatusBadTypeMismatch
		default:
			results[i] = n.owner.writeDispatch(n.field, w.Value.Value.Value())
		}
	}
	l.mu.Unlock()
	l.flush()
	return &ua.WriteResponse{ResponseHeader: header(r, ua.StatusOK), Results: results, DiagnosticInfos: []*ua.DiagnosticInfo{}}
}

func refSize(rd *ua.ReferenceDescription) int {
	return 40 + len(rd.BrowseName.Name) + len(rd.DisplayName.Text)
}

// page splits refs at the response budget and keeps the rest behind a
// continuation point.
func (e *endpoint) page(refs []*ua.ReferenceDescription, max int, budget *int) ([]*ua.ReferenceDescription, []byte) {
	n := 0
	for n < len(refs) && (max == 0 || n < max) {
		s := refSize(refs[n])
		if *budget-s < 0 {
			break
		}
		*budget -= s
		n++
	}
	if n == len(refs) {
		return refs, nil
	}
	e.cpMu.Lock()
	defer e.cpMu.Unlock()
	if e.cps == nil {
		e.cps = map[string][]*ua.ReferenceDescription{}
	}
	e.cpSeq++
	cp := binary.BigEndian.AppendUint64(nil, e.cpSeq)
	e.cps[string(cp)] = refs[n:]
	e.cpAge = append(e.cpAge, string(cp))
	if len(e.cpAge) > maxContinuations {
		delete(e.cps, e.cpAge[0])
		e.cpAge = e.cpAge[1:]
	}
	return refs[:n], cp
}

func (e *endpoint) browse(srv *server.Server, r ua.Request) ua.Response {
	req, ok := r.(*ua.BrowseRequest)
	if !ok {
		return fault(r, ua.StatusBadRequestTypeInvalid)
	}
	switch {
	case len(req.NodesToBrowse) == 0:
		return fault(r, ua.StatusBadNothingToDo)
	case len(req.NodesToBrowse) > maxNodesPerBrowse:
		return fault(r, ua.StatusBadTooManyOperations)
	}
	budget := maxResponseBytes - 64*len(req.NodesToBrowse)
	results := make([]*ua.BrowseResult, len(req.NodesToBrowse))
	for i, bd := range req.NodesToBrowse {
		var res *ua.BrowseResult
		if bd.NodeID != nil && bd.NodeID.Namespace() == 0 {
			ns, _ := srv.Namespace(0)
			res = ns.Browse(bd)
		} else if n := e.sp.lookup(bd.NodeID); n != nil {
			res = &ua.BrowseResult{StatusCode: ua.StatusOK, References: browseRefs(n, bd)}
		} else {
			res = &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDUnknown}
		}
		if res.StatusCode == ua.StatusOK {
			res.References, res.ContinuationPoint = e.page(res.References, int(req.RequestedMaxReferencesPerNode), &budget)
		}
		results[i] = res
	}
	return &ua.BrowseResponse{ResponseHeader: header(r, ua.StatusOK), Results: results, DiagnosticInfos: []*ua.DiagnosticInfo{}}
}

func (e *endpoint) browseNext(r ua.Request) ua.Response {
	req, ok := r.(*ua.BrowseNextRequest)
	if !ok {
		return fault(r, ua.StatusBadRequestTypeInvalid)
	}
	if len(req.ContinuationPoints) == 0 {
		return fault(r, ua.StatusBadNothingToDo)
	}
	budget := maxResponseBytes - 64*len(req.ContinuationPoints)
	results := make([]*ua.BrowseResult, len(req.ContinuationPoints))
	for i, cp := range req.ContinuationPoints {
		e.cpMu.Lock()
		refs, ok := e.cps[string(cp)]
		delete(e.cps, string(cp))
		e.cpMu.Unlock()
		switch {
		case !ok:
			results[i] = &ua.BrowseResult{StatusCode: ua.StatusBadContinuationPointInvalid}
		case req.ReleaseContinuationPoints:
			results[i] = &ua.BrowseResult{StatusCode: ua.StatusOK}
		default:
			res := &ua.BrowseResult{StatusCode: ua.StatusOK}
			res.References, res.ContinuationPoint = e.page(refs, 0, &budget)
			results[i] = res
		}
	}
	return &ua.BrowseNextResponse{ResponseHeader: header(r, ua.StatusOK), Results: results, DiagnosticInfos: []*ua.DiagnosticInfo{}}
}

// translate resolves relative paths by browse name, in this space and in
// gopcua's namespace 0 (so paths may start at Objects or Root).
func (e *endpoint) translate(srv *server.Server, r ua.Request) ua.Response {
	req, ok := r.(*ua.TranslateBrowsePathsToNodeIDsRequest)
	if !ok {
		return fault(r, ua.StatusBadRequestTypeInvalid)
	}
	switch {
	case len(req.BrowsePaths) == 0:
		return fault(r, ua.StatusBadNothingToDo)
	case len(req.BrowsePaths) > maxNodesPerTranslate:
		return fault(r, ua.StatusBadTooManyOperations)
	}
	results := make([]*ua.BrowsePathResult, len(req.BrowsePaths))
	size := 64
	for i, bp := range req.BrowsePaths {
		res := e.resolve(srv, bp)
		for _, t := range res.Targets {
			size += 16 + len(t.TargetID.NodeID.StringID())
		}
		size += 8
		results[i] = res
	}
	if size > maxResponseBytes {
		return fault(r, ua.StatusBadResponseTooLarge)
	}
	return &ua.TranslateBrowsePathsToNodeIDsResponse{ResponseHeader: header(r, ua.StatusOK), Results: results, DiagnosticInfos: []*ua.DiagnosticInfo{}}
}

func (e *endpoint) resolve(srv *server.Server, bp *ua.BrowsePath) *ua.BrowsePathResult {
	if bp == nil || bp.StartingNode == nil {
		return &ua.BrowsePathResult{StatusCode: ua.StatusBadNodeIDInvalid}
	}
	if bp.RelativePath == nil || len(bp.RelativePath.Elements) == 0 {
		return &ua.BrowsePathResult{StatusCode: ua.StatusBadNothingToDo}
	}
	if bp.StartingNode.Namespace() != 0 && e.sp.lookup(bp.StartingNode) == nil {
		return &ua.BrowsePathResult{StatusCode: ua.StatusBadNodeIDUnknown}
	}
	cur := []*ua.NodeID{bp.StartingNode}
	for _, el := range bp.RelativePath.Elements {
		if el == nil || el.TargetName == nil || el.TargetName.Name == "" {
			return &ua.BrowsePathResult{StatusCode: ua.StatusBadBrowseNameInvalid}
		}
		dir := ua.BrowseDirectionForward
		if el.IsInverse {
			dir = ua.BrowseDirectionInverse
		}
		bd := &ua.BrowseDescription{BrowseDirection: dir, ReferenceTypeID: el.ReferenceTypeID, IncludeSubtypes: el.IncludeSubtypes, ResultMask: uint32(ua.BrowseResultMaskAll)}
		if bd.ReferenceTypeID == nil {
			bd.ReferenceTypeID = ua.NewNumericNodeID(0, 0)
		}
		var next []*ua.NodeID
		for _, nid := range cur {
			bd.NodeID = nid
			var refs []*ua.ReferenceDescription
			if nid.Namespace() == 0 {
				ns, _ := srv.Namespace(0)
				refs = ns.Browse(bd).References
			} else if n := e.sp.lookup(nid); n != nil {
				if !el.IsInverse && el.IncludeSubtypes && el.ReferenceTypeID != nil && el.ReferenceTypeID.Namespace() == 0 && isSubtype(id.HierarchicalReferences, el.ReferenceTypeID.IntID()) {
					// Fast path for the usual hierarchical forward step.
					if k, ok := n.kids[*el.TargetName]; ok {
						next = append(next, k.id)
					}
					continue
				}
				refs = browseRefs(n, bd)
			}
			for _, rd := range refs {
				if rd.BrowseName != nil && rd.BrowseName.NamespaceIndex == el.TargetName.NamespaceIndex && rd.BrowseName.Name == el.TargetName.Name {
					next = append(next, rd.NodeID.NodeID)
				}
			}
		}
		if len(next) == 0 {
			return &ua.BrowsePathResult{StatusCode: ua.StatusBadNoMatch}
		}
		cur = next
	}
	targets := make([]*ua.BrowsePathTarget, len(cur))
	for i, nid := range cur {
		targets[i] = &ua.BrowsePathTarget{TargetID: ua.NewExpandedNodeID(nid, "", 0), RemainingPathIndex: 0xFFFFFFFF}
	}
	return &ua.BrowsePathResult{StatusCode: ua.StatusOK, Targets: targets}
}

func (e *endpoint) registerNodes(r ua.Request) ua.Response {
	req, ok := r.(*ua.RegisterNodesRequest)
	if !ok {
		return fault(r, ua.StatusBadRequestTypeInvalid)
	}
	if len(req.NodesToRegister) == 0 {
		return fault(r, ua.StatusBadNothingToDo)
	}
	// Registered ids are the ids themselves: they stay valid across reconnects.
	return &ua.RegisterNodesResponse{ResponseHeader: header(r, ua.StatusOK), RegisteredNodeIDs: req.NodesToRegister}
}

// markDirty queues n for change notification.
func (e *endpoint) markDirty(n *node) {
	e.dirtyMu.Lock()
	e.dirty[n] = struct{}{}
	e.dirtyMu.Unlock()
}

func (e *endpoint) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// notifier pushes value changes to gopcua's monitored items. It replaces
// server.ChangeNotification, which blocks (holding the monitored-item lock)
// when a subscription stops draining its queue; here a full queue drops the
// notification instead, which a queue size of 1 allows anyway.
func (e *endpoint) notifier(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		}
		e.mu.Lock()
		srv, stalled := e.srv, e.stalled != nil
		e.mu.Unlock()
		if srv == nil || stalled {
			continue // keep the dirty set for later
		}
		e.dirtyMu.Lock()
		batch := e.dirty
		e.dirty = make(map[*node]struct{}, len(batch))
		e.dirtyMu.Unlock()
		e.notify(srv, batch)
	}
}

func (e *endpoint) notify(srv *server.Server, batch map[*node]struct{}) {
	mis := srv.MonitoredItemService
	if mis == nil {
		return
	}
	mis.Mu.Lock()
	defer mis.Mu.Unlock()
	if len(mis.Nodes) == 0 {
		return
	}
	for n := range batch {
		for _, item := range mis.Nodes[n.idStr] {
			if item == nil || item.Sub == nil || item.Req == nil || item.Req.ItemToMonitor == nil {
				continue
			}
			v := &ua.MonitoredItemNotification{
				ClientHandle: item.Req.RequestedParameters.ClientHandle,
				Value:        attribute(n, item.Req.ItemToMonitor.AttributeID),
			}
			select {
			case item.Sub.NotifyChannel <- v:
			default:
			}
		}
	}
}

func (e *endpoint) endpoint() mes.Endpoint { return mes.Endpoint{ID: e.id, URL: e.url()} }
