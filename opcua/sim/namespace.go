package sim

import (
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

// wall is the host's clock, for the OPC UA servers' own timestamps and the
// pacing of their answers.
var wall mes.WallClock

// nsView serves one namespace of an endpoint's space to gopcua. gopcua uses
// it for monitored items (initial values, Attribute) and when its own
// namespace-0 Browse follows a reference into this space (Node). The space
// is our own because gopcua's MapNamespace/Node reads race their writers
// (gap: gopcua/opcua#885; repro under -race: SetAttribute while a client
// Reads) and ImportNodeSet does not remap namespace indexes (gap, repro:
// import the DI then the Machinery nodeset: Machinery's ns=1 refs point
// at the wrong namespace).
type nsView struct {
	ep  *endpoint
	uri string
	idx uint16
}

var _ server.NameSpace = (*nsView)(nil)

func (v *nsView) Name() string                        { return v.uri }
func (v *nsView) AddNode(n *server.Node) *server.Node { return n }
func (v *nsView) ID() uint16                          { return v.idx }
func (v *nsView) SetID(uint16)                        {}
func (v *nsView) Objects() *server.Node               { return nil }
func (v *nsView) Root() *server.Node                  { return nil }

func (v *nsView) Node(nid *ua.NodeID) *server.Node {
	n := v.ep.sp.lookup(nid)
	if n == nil {
		return nil
	}
	return n.serverShell()
}

func (v *nsView) Browse(bd *ua.BrowseDescription) *ua.BrowseResult {
	n := v.ep.sp.lookup(bd.NodeID)
	if n == nil {
		return &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDUnknown}
	}
	return &ua.BrowseResult{StatusCode: ua.StatusOK, References: browseRefs(n, bd)}
}

func (v *nsView) Attribute(nid *ua.NodeID, attr ua.AttributeID) *ua.DataValue {
	n := v.ep.sp.lookup(nid)
	if n == nil {
		return badValue(ua.StatusBadNodeIDUnknown)
	}
	return attribute(n, attr)
}

// SetAttribute refuses: writes go through the Write handler.
func (v *nsView) SetAttribute(*ua.NodeID, ua.AttributeID, *ua.DataValue) ua.StatusCode {
	return ua.StatusBadNotWritable
}

func badValue(code ua.StatusCode) *ua.DataValue {
	return &ua.DataValue{
		EncodingMask:    ua.DataValueStatusCode | ua.DataValueServerTimestamp,
		Status:          code,
		ServerTimestamp: wall.Now(),
	}
}

func plain(v any) *ua.DataValue {
	return &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)}
}

// attribute reads one attribute of n; the result is the caller's to modify.
func attribute(n *node, attr ua.AttributeID) *ua.DataValue {
	switch attr {
	case ua.AttributeIDNodeID:
		return plain(n.id)
	case ua.AttributeIDNodeClass:
		return plain(int32(n.class))
	case ua.AttributeIDBrowseName:
		return plain(n.browse)
	case ua.AttributeIDDisplayName:
		return plain(n.display)
	case ua.AttributeIDDescription:
		return plain(ua.NewLocalizedText(""))
	case ua.AttributeIDWriteMask, ua.AttributeIDUserWriteMask:
		return plain(uint32(0))
	}
	switch n.class {
	case ua.NodeClassVariable:
		switch attr {
		case ua.AttributeIDValue:
			dv := *n.val.Load()
			return &dv
		case ua.AttributeIDDataType:
			return plain(n.dataType)
		case ua.AttributeIDValueRank:
			return plain(int32(-1))
		case ua.AttributeIDArrayDimensions:
			return plain([]uint32{})
		case ua.AttributeIDAccessLevel, ua.AttributeIDUserAccessLevel:
			return plain(n.access)
		case ua.AttributeIDAccessLevelEx:
			return plain(uint32(n.access))
		case ua.AttributeIDMinimumSamplingInterval:
			return plain(0.0)
		case ua.AttributeIDHistorizing:
			return plain(false)
		}
	case ua.NodeClassObject:
		if attr == ua.AttributeIDEventNotifier {
			return plain(n.notifier)
		}
	case ua.NodeClassObjectType:
		if attr == ua.AttributeIDIsAbstract {
			return plain(n.abstract)
		}
	}
	return badValue(ua.StatusBadAttributeIDInvalid)
}

// browseRefs lists n's references matching bd.
func browseRefs(n *node, bd *ua.BrowseDescription) []*ua.ReferenceDescription {
	var want uint32
	if bd.ReferenceTypeID != nil && bd.ReferenceTypeID.Namespace() == 0 {
		want = bd.ReferenceTypeID.IntID()
	}
	out := make([]*ua.ReferenceDescription, 0, len(n.refs))
	for _, r := range n.refs {
		switch bd.BrowseDirection {
		case ua.BrowseDirectionForward:
			if !r.forward {
				continue
			}
		case ua.BrowseDirectionInverse:
			if r.forward {
				continue
			}
		}
		if want != 0 && r.typ != want && !(bd.IncludeSubtypes && isSubtype(r.typ, want)) {
			continue
		}
		if bd.NodeClassMask != 0 && bd.NodeClassMask&uint32(r.to.class) == 0 {
			continue
		}
		td := r.to.typeDef
		if td == nil {
			td = ua.NewTwoByteExpandedNodeID(0)
		}
		out = append(out, &ua.ReferenceDescription{
			ReferenceTypeID: ua.NewNumericNodeID(0, r.typ),
			IsForward:       r.forward,
			NodeID:          ua.NewExpandedNodeID(r.to.id, "", 0),
			BrowseName:      r.to.browse,
			DisplayName:     r.to.display,
			NodeClass:       r.to.class,
			TypeDefinition:  td,
		})
	}
	return out
}
