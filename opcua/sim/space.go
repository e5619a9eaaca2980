package sim

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"

	pl "github.com/pilotline/pilotline/opcua"
)

// Namespace indexes, identical on every endpoint: each server registers the
// namespaces in this order right after namespace 0.
const (
	nsLocal = 1 // the server's own namespace (ApplicationUri), empty
	nsDI    = 2
	nsMA    = 3
	nsMT    = 4
	nsPL    = 5
	nsCount = 6
)

var nsURIs = [nsCount]string{pl.NsUA, "", pl.NsDI, pl.NsMA, pl.NsMT, pl.NsPL}

// nsIndex maps a model namespace URI to its index.
func nsIndex(uri string) uint16 {
	switch uri {
	case "", pl.NsUA:
		return 0
	case pl.NsDI:
		return nsDI
	case pl.NsMA:
		return nsMA
	case pl.NsMT:
		return nsMT
	case pl.NsPL:
		return nsPL
	}
	panic("sim: unknown namespace " + uri)
}

// Well-known namespace-0 nodes referenced by the simulator's nodes.
const (
	idBaseObjectType       = id.BaseObjectType
	idFolderType           = id.FolderType
	idBaseDataVariableType = id.BaseDataVariableType
	idPropertyType         = id.PropertyType
)

// dataTypes maps the model's type names to namespace-0 DataType ids.
var dataTypes = map[string]uint32{
	pl.TString: id.String, pl.TDouble: id.Double, pl.TInt32: id.Int32, pl.TUInt32: id.UInt32,
	pl.TUInt16: id.UInt16, pl.TBoolean: id.Boolean, pl.TDateTime: id.DateTime, pl.TLocalizedText: id.LocalizedText,
}

// locText is a LocalizedText value (English) as held in a node.
type locText string

// node is one node of an endpoint's address space. Everything but the value
// is fixed once the space is built, so browsing needs no lock.
type node struct {
	id      *ua.NodeID
	idStr   string
	class   ua.NodeClass
	browse  *ua.QualifiedName
	display *ua.LocalizedText
	typeDef *ua.ExpandedNodeID // objects and variables
	refs    []ref
	kids    map[ua.QualifiedName]*node // hierarchical forward children by browse name
	foreign bool                       // lives in namespace 0, served by gopcua

	// Variables.
	dataType *ua.NodeID
	access   byte
	val      atomic.Pointer[ua.DataValue] // immutable once stored
	last     any                          // last stored Go value; owned by the simulation under Line.mu
	owner    *machine                     // writable dispatch nodes
	field    string                       // dispatch field written through this node

	abstract bool // types
	notifier byte // objects: EventNotifier

	shellOnce sync.Once
	shell     *server.Node
}

type ref struct {
	typ     uint32 // namespace-0 reference type id
	forward bool
	to      *node
}

// space is the address space of one endpoint.
type space struct {
	ns       [nsCount]map[uint32]*node // namespaces 1…5; 0 is gopcua's
	nextID   uint32
	objects  *node // namespace-0 Objects, foreign
	machines *node
	cell     *node
	foreign  map[uint32]*node
}

func newSpace() *space {
	s := &space{nextID: 5000, foreign: map[uint32]*node{}}
	for i := 1; i < nsCount; i++ {
		s.ns[i] = map[uint32]*node{}
	}
	s.objects = s.ns0(id.ObjectsFolder, "Objects", ua.NodeClassObject, idFolderType)
	s.ns0(idBaseObjectType, "BaseObjectType", ua.NodeClassObjectType, 0)
	s.ns0(idFolderType, "FolderType", ua.NodeClassObjectType, 0)
	s.ns0(idBaseDataVariableType, "BaseDataVariableType", ua.NodeClassVariableType, 0)
	s.ns0(idPropertyType, "PropertyType", ua.NodeClassVariableType, 0)

	s.machines = s.add(nsMA, pl.MachinesFolderID, ua.NodeClassObject, "Machines")
	s.machines.typeDef = s.typeRef(idFolderType)
	s.link(s.objects, s.machines, id.Organizes)
	mtt := s.add(nsMT, pl.MachineToolTypeID, ua.NodeClassObjectType, "MachineToolType")
	s.link(s.foreign[idBaseObjectType], mtt, id.HasSubtype)
	return s
}

func (s *space) ns0(i uint32, name string, class ua.NodeClass, typeDef uint32) *node {
	n := &node{
		id: ua.NewNumericNodeID(0, i), class: class,
		browse:  &ua.QualifiedName{Name: name},
		display: ua.NewLocalizedText(name), foreign: true,
	}
	n.idStr = n.id.String()
	if typeDef != 0 {
		n.typeDef = ua.NewNumericExpandedNodeID(0, typeDef)
	}
	s.foreign[i] = n
	return n
}

func (s *space) typeRef(i uint32) *ua.ExpandedNodeID { return ua.NewNumericExpandedNodeID(0, i) }

// add creates a node; i = 0 assigns the next free id.
func (s *space) add(ns uint16, i uint32, class ua.NodeClass, name string) *node {
	if i == 0 {
		s.nextID++
		i = s.nextID
	}
	n := &node{
		id: ua.NewNumericNodeID(ns, i), class: class,
		browse:  &ua.QualifiedName{NamespaceIndex: ns, Name: name},
		display: ua.NewLocalizedText(name),
	}
	n.idStr = n.id.String()
	s.ns[ns][i] = n
	return n
}

func (s *space) link(parent, child *node, refType uint32) {
	parent.refs = append(parent.refs, ref{typ: refType, forward: true, to: child})
	child.refs = append(child.refs, ref{typ: refType, forward: false, to: parent})
	if isSubtype(refType, id.HierarchicalReferences) {
		if parent.kids == nil {
			parent.kids = map[ua.QualifiedName]*node{}
		}
		parent.kids[*child.browse] = child
	}
}

// object adds an object under parent.
func (s *space) object(parent *node, qn pl.QName, typeDef uint32, refType uint32) *node {
	n := s.add(nsPL, 0, ua.NodeClassObject, qn.Name)
	n.browse.NamespaceIndex = nsIndex(qn.NS)
	n.typeDef = s.typeRef(typeDef)
	s.link(parent, n, refType)
	n.refs = append(n.refs, ref{typ: id.HasTypeDefinition, forward: true, to: s.foreign[typeDef]})
	return n
}

// child returns parent's child object named qn, creating it if needed.
func (s *space) child(parent *node, qn pl.QName) *node {
	key := ua.QualifiedName{NamespaceIndex: nsIndex(qn.NS), Name: qn.Name}
	if n, ok := parent.kids[key]; ok {
		return n
	}
	return s.object(parent, qn, idBaseObjectType, id.HasComponent)
}

// variable adds a variable of the model type typ under parent.
func (s *space) variable(parent *node, qn pl.QName, typ string, property bool) *node {
	n := s.add(nsPL, 0, ua.NodeClassVariable, qn.Name)
	n.browse.NamespaceIndex = nsIndex(qn.NS)
	dt, ok := dataTypes[typ]
	if !ok {
		panic("sim: unknown model type " + typ)
	}
	n.dataType = ua.NewNumericNodeID(0, dt)
	n.access = byte(ua.AccessLevelTypeCurrentRead)
	refType, typeDef := uint32(id.HasComponent), uint32(idBaseDataVariableType)
	if property {
		refType, typeDef = id.HasProperty, idPropertyType
	}
	n.typeDef = s.typeRef(typeDef)
	s.link(parent, n, refType)
	n.refs = append(n.refs, ref{typ: id.HasTypeDefinition, forward: true, to: s.foreign[typeDef]})
	n.last = zeroValue(typ)
	n.val.Store(dataValue(n.last, time.Time{}))
	return n
}

// signalTree adds the variables of signals below root and returns them by key.
func (s *space) signalTree(root *node, signals []pl.Signal) map[string]*node {
	vars := make(map[string]*node, len(signals))
	for _, sg := range signals {
		parent := root
		for _, qn := range sg.Path[:len(sg.Path)-1] {
			parent = s.child(parent, qn)
		}
		leaf := sg.Path[len(sg.Path)-1]
		property := parent.browse.Name == "Identification" || isPropertyName(leaf.Name)
		v := s.variable(parent, leaf, sg.Type, property)
		if sg.Writable {
			v.access |= byte(ua.AccessLevelTypeCurrentWrite)
		}
		vars[sg.Key] = v
	}
	return vars
}

func isPropertyName(n string) bool {
	switch n {
	case "Name", "Identifier", "ControlIdentifier1", "Locked", "RunsPlanned", "NumberInList":
		return true
	}
	return false
}

// lookup finds a node of namespaces 1…5.
func (s *space) lookup(nid *ua.NodeID) *node {
	if nid == nil {
		return nil
	}
	ns := nid.Namespace()
	if ns == 0 || int(ns) >= nsCount || nid.Type() == ua.NodeIDTypeString || nid.Type() == ua.NodeIDTypeGUID || nid.Type() == ua.NodeIDTypeByteString {
		return nil
	}
	return s.ns[ns][nid.IntID()]
}

// serverShell is the gopcua view of n, needed where gopcua itself browses
// into this space (references from namespace-0 Objects).
func (n *node) serverShell() *server.Node {
	n.shellOnce.Do(func() {
		attrs := server.Attributes{
			ua.AttributeIDNodeClass:   server.DataValueFromValue(uint32(n.class)),
			ua.AttributeIDBrowseName:  server.DataValueFromValue(n.browse),
			ua.AttributeIDDisplayName: server.DataValueFromValue(n.display),
		}
		var refs server.References
		if n.typeDef != nil {
			refs = append(refs, &ua.ReferenceDescription{
				ReferenceTypeID: ua.NewNumericNodeID(0, id.HasTypeDefinition), IsForward: true,
				NodeID: n.typeDef, BrowseName: &ua.QualifiedName{}, DisplayName: ua.NewLocalizedText(""),
				NodeClass: ua.NodeClassObjectType, TypeDefinition: ua.NewTwoByteExpandedNodeID(0),
			})
		}
		n.shell = server.NewNode(n.id, attrs, refs, nil)
	})
	return n.shell
}

// Reference type hierarchy of namespace 0 (the part browsing needs).
var refParent = map[uint32]uint32{
	id.HierarchicalReferences:    id.References,
	id.NonHierarchicalReferences: id.References,
	id.HasChild:                  id.HierarchicalReferences,
	id.Organizes:                 id.HierarchicalReferences,
	id.HasEventSource:            id.HierarchicalReferences,
	id.HasNotifier:               id.HasEventSource,
	id.Aggregates:                id.HasChild,
	id.HasSubtype:                id.HasChild,
	id.HasComponent:              id.Aggregates,
	id.HasProperty:               id.Aggregates,
	id.HasOrderedComponent:       id.HasComponent,
	id.HasTypeDefinition:         id.NonHierarchicalReferences,
	id.HasModellingRule:          id.NonHierarchicalReferences,
	id.GeneratesEvent:            id.NonHierarchicalReferences,
}

// isSubtype reports whether reference type t is of or below reference type of.
func isSubtype(t, of uint32) bool {
	for {
		if t == of {
			return true
		}
		p, ok := refParent[t]
		if !ok {
			return false
		}
		t = p
	}
}

func zeroValue(typ string) any {
	switch typ {
	case pl.TString:
		return ""
	case pl.TDouble:
		return 0.0
	case pl.TInt32:
		return int32(0)
	case pl.TUInt32:
		return uint32(0)
	case pl.TUInt16:
		return uint16(0)
	case pl.TBoolean:
		return false
	case pl.TDateTime:
		return time.Time{}
	case pl.TLocalizedText:
		return locText("")
	}
	panic("sim: unknown model type " + typ)
}

func variant(v any) *ua.Variant {
	switch x := v.(type) {
	case locText:
		return ua.MustVariant(&ua.LocalizedText{EncodingMask: ua.LocalizedTextText | ua.LocalizedTextLocale, Locale: "en", Text: string(x)})
	case time.Time:
		return ua.MustVariant(x.UTC())
	}
	return ua.MustVariant(v)
}

func dataValue(v any, source time.Time) *ua.DataValue {
	dv := &ua.DataValue{EncodingMask: ua.DataValueValue, Value: variant(v)}
	if !source.IsZero() {
		dv.EncodingMask |= ua.DataValueSourceTimestamp
		dv.SourceTimestamp = source
	}
	return dv
}

func sameValue(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return a == b
}
