package sim

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"
)

// register installs the services gopcua v0.8.0 lacks or gets wrong, each
// naming its gap:
//   - Read, Write: served from this package's space, not gopcua's nodes
//     (gap: gopcua/opcua#885, Attribute reads race SetAttribute) and kept
//     under one message (gap: gopcua/opcua#860, no response chunking).
//   - Browse: gopcua ignores requestedMaxReferencesPerNode and has no
//     BrowseNext (gap, repro: Browse Objects with max 1 from a gopcua
//     client against server.New: every reference comes back, and
//     BrowseNext answers BadServiceUnsupported).
//   - TranslateBrowsePathsToNodeIds, RegisterNodes, UnregisterNodes (gap,
//     repro: call them against server.New: BadServiceUnsupported).
//   - GetEndpoints: gopcua lists every EndPoint option, here the private
//     port too (gap, repro: server.New with two EndPoint options lists both).
//   - CreateMonitoredItems: more than ~2,000 items in one call overflow one
//     response (gap: gopcua/opcua#860), so the call is capped.
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
			time.Sleep(e.line.afterTick(wall.Now()))
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
		Timestamp:          wall.Now(),
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
