package sim

import (
	"bytes"
	"context"
	"testing"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	pl "github.com/pilotline/pilotline/opcua"
)

// defaultLine loads the embedded default line, changed by edit.
func defaultLine(tb testing.TB, edit func(c *mes.LineConfig)) *mes.LineConfig {
	tb.Helper()
	c, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(tb, err)
	if edit != nil {
		edit(c)
	}
	return c
}

// noFaults disables random alarms so that a test's jobs run to the end.
func noFaults(c *mes.LineConfig) { c.Simulation.MTBFS = 0 }

func mustStart(tb testing.TB, o Options) *Line {
	tb.Helper()
	if o.Line == nil {
		o.Line = defaultLine(tb, nil)
	}
	l, err := Start(context.Background(), o)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = l.Close() })
	return l
}

func endpointURL(tb testing.TB, l *Line, id string) string {
	tb.Helper()
	for _, e := range l.Endpoints() {
		if e.ID == id {
			return e.URL
		}
	}
	tb.Fatalf("no endpoint %s", id)
	return ""
}

func dial(tb testing.TB, url string) *gopcua.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gopcua.NewClient(url, gopcua.SecurityMode(ua.MessageSecurityModeNone), gopcua.AutoReconnect(false))
	require.NoError(tb, err)
	require.NoError(tb, c.Connect(ctx))
	tb.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// nsIndexes maps the model's namespace URIs to the server's indexes.
func nsIndexes(tb testing.TB, c *gopcua.Client) map[string]uint16 {
	tb.Helper()
	arr, err := c.NamespaceArray(ctxT(tb))
	require.NoError(tb, err)
	out := map[string]uint16{"": 0}
	for i, u := range arr {
		out[u] = uint16(i)
	}
	for _, u := range []string{pl.NsUA, pl.NsDI, pl.NsMA, pl.NsMT, pl.NsPL} {
		require.Contains(tb, out, u, "NamespaceArray lists %s", u)
	}
	return out
}

// machineObjects browses MA:Machines and returns the machine objects whose
// type definition is MT:MachineToolType, by browse name.
func machineObjects(tb testing.TB, c *gopcua.Client, ns map[string]uint16, maxRefs uint32) map[string]*ua.NodeID {
	tb.Helper()
	ctx := ctxT(tb)
	req := &ua.BrowseRequest{
		RequestedMaxReferencesPerNode: maxRefs,
		NodesToBrowse: []*ua.BrowseDescription{{
			NodeID:          ua.NewNumericNodeID(ns[pl.NsMA], pl.MachinesFolderID),
			BrowseDirection: ua.BrowseDirectionForward,
			ReferenceTypeID: ua.NewNumericNodeID(0, 33), // HierarchicalReferences
			IncludeSubtypes: true,
			ResultMask:      uint32(ua.BrowseResultMaskAll),
		}},
	}
	resp, err := c.Browse(ctx, req)
	require.NoError(tb, err)
	require.Len(tb, resp.Results, 1)
	res := resp.Results[0]
	require.Equal(tb, ua.StatusOK, res.StatusCode)
	refs := res.References
	for len(res.ContinuationPoint) > 0 {
		next, err := c.BrowseNext(ctx, &ua.BrowseNextRequest{ContinuationPoints: [][]byte{res.ContinuationPoint}})
		require.NoError(tb, err)
		res = next.Results[0]
		require.Equal(tb, ua.StatusOK, res.StatusCode)
		refs = append(refs, res.References...)
	}
	out := map[string]*ua.NodeID{}
	for _, r := range refs {
		td := r.TypeDefinition
		if td != nil && td.NodeID.Namespace() == ns[pl.NsMT] && td.NodeID.IntID() == pl.MachineToolTypeID {
			out[r.BrowseName.Name] = r.NodeID.NodeID
		}
	}
	return out
}

func qualified(ns map[string]uint16, q pl.QName) *ua.QualifiedName {
	return &ua.QualifiedName{NamespaceIndex: ns[q.NS], Name: q.Name}
}

// resolve translates signal paths from start into node ids.
func resolve(tb testing.TB, c *gopcua.Client, ns map[string]uint16, start *ua.NodeID, signals []pl.Signal) []*ua.NodeID {
	tb.Helper()
	req := &ua.TranslateBrowsePathsToNodeIDsRequest{}
	for _, s := range signals {
		rp := &ua.RelativePath{}
		for _, q := range s.Path {
			rp.Elements = append(rp.Elements, &ua.RelativePathElement{
				ReferenceTypeID: ua.NewNumericNodeID(0, 33), IncludeSubtypes: true, TargetName: qualified(ns, q),
			})
		}
		req.BrowsePaths = append(req.BrowsePaths, &ua.BrowsePath{StartingNode: start, RelativePath: rp})
	}
	var out []*ua.NodeID
	err := c.Send(ctxT(tb), req, func(r ua.Response) error {
		resp, ok := r.(*ua.TranslateBrowsePathsToNodeIDsResponse)
		require.True(tb, ok, "response %T", r)
		require.Len(tb, resp.Results, len(signals))
		for i, res := range resp.Results {
			require.Equal(tb, ua.StatusOK, res.StatusCode, "path of %s", signals[i].Key)
			require.Len(tb, res.Targets, 1, "path of %s", signals[i].Key)
			out = append(out, res.Targets[0].TargetID.NodeID)
		}
		return nil
	})
	require.NoError(tb, err)
	return out
}

func readValues(tb testing.TB, c *gopcua.Client, ids []*ua.NodeID) []*ua.DataValue {
	tb.Helper()
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
	for _, id := range ids {
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: id, AttributeID: ua.AttributeIDValue})
	}
	resp, err := c.Read(ctxT(tb), req)
	require.NoError(tb, err)
	require.Len(tb, resp.Results, len(ids))
	return resp.Results
}

// machineNodes resolves every signal of a machine by key.
func machineNodes(tb testing.TB, l *Line, id string, inspection bool) (*gopcua.Client, map[string]*ua.NodeID) {
	tb.Helper()
	epID := id
	if l.sim.Layout == mes.LayoutGateway {
		epID = GatewayEndpoint
	}
	c := dial(tb, endpointURL(tb, l, epID))
	ns := nsIndexes(tb, c)
	objs := machineObjects(tb, c, ns, 0)
	require.Contains(tb, objs, id)
	sigs := pl.MachineSignals(inspection)
	ids := resolve(tb, c, ns, objs[id], sigs)
	out := make(map[string]*ua.NodeID, len(sigs))
	for i, s := range sigs {
		out[s.Key] = ids[i]
	}
	return c, out
}

func readKey(tb testing.TB, c *gopcua.Client, nodes map[string]*ua.NodeID, key string) any {
	tb.Helper()
	dv := readValues(tb, c, []*ua.NodeID{nodes[key]})[0]
	require.Equal(tb, ua.StatusOK, dv.Status, key)
	return dv.Value.Value()
}

// dispatchWrite writes one job the way the MES does: all four nodes in one Write.
func dispatchWrite(tb testing.TB, c *gopcua.Client, nodes map[string]*ua.NodeID, serial, program, version string, seq uint32) []ua.StatusCode {
	tb.Helper()
	wv := func(key string, v any) *ua.WriteValue {
		return &ua.WriteValue{NodeID: nodes[key], AttributeID: ua.AttributeIDValue,
			Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)}}
	}
	resp, err := c.Write(ctxT(tb), &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{
		wv(pl.KeyDispatchSerial, serial), wv(pl.KeyDispatchProg, program),
		wv(pl.KeyDispatchVer, version), wv(pl.KeyDispatchSeq, seq),
	}})
	require.NoError(tb, err)
	require.Len(tb, resp.Results, 4)
	return resp.Results
}
