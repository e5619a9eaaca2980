package sim

import (
	"encoding/xml"
	"fmt"
	"sync"

	"github.com/gopcua/opcua/schema"
	"github.com/gopcua/opcua/server"
)

// gopcua's server.New parses and imports the whole standard nodeset (3.5 MB
// of XML) for every server: about 400 ms and 14 MB each, 11 s for a line of
// 27 endpoints. A simulated machine needs only the reference and data type
// hierarchy and the Server object, so the nodeset is trimmed once (types
// without their instance declarations, no encodings, no methods, no
// dictionaries) and handed to server.New in place of the full one.

var (
	trimOnce sync.Once
	trimmed  []byte
	trimErr  error

	// newServerMu serialises server.New while schema.OpcUaNodeSet2 points at
	// the trimmed nodeset.
	//
	// IMPORTANT: schema.OpcUaNodeSet2 is a package variable of gopcua; it is
	// swapped only for the duration of server.New under this lock and
	// restored afterwards, so servers created elsewhere keep the full set.
	newServerMu sync.Mutex
)

func trimmedNodeSet() ([]byte, error) {
	trimOnce.Do(func() {
		var ns schema.UANodeSet
		if err := xml.Unmarshal(schema.OpcUaNodeSet2, &ns); err != nil {
			trimErr = fmt.Errorf("parse standard nodeset: %w", err)
			return
		}
		// Keep the Server object and everything below it.
		children := map[string][]string{}
		for _, v := range ns.UAVariable {
			children[v.ParentNodeIdAttr] = append(children[v.ParentNodeIdAttr], v.NodeIdAttr)
		}
		for _, o := range ns.UAObject {
			children[o.ParentNodeIdAttr] = append(children[o.ParentNodeIdAttr], o.NodeIdAttr)
		}
		keep := map[string]bool{}
		var walk func(string)
		walk = func(id string) {
			if keep[id] {
				return
			}
			keep[id] = true
			for _, c := range children[id] {
				walk(c)
			}
		}
		walk("i=2253") // Server
		var vars []*schema.UAVariable
		for _, v := range ns.UAVariable {
			if keep[v.NodeIdAttr] {
				vars = append(vars, v)
			}
		}
		var objs []*schema.UAObject
		for _, o := range ns.UAObject {
			switch {
			case keep[o.NodeIdAttr]:
			case o.ParentNodeIdAttr != "":
				continue // instance declaration of a type
			case o.BrowseNameAttr == "Default Binary" || o.BrowseNameAttr == "Default XML" || o.BrowseNameAttr == "Default JSON":
				continue
			}
			objs = append(objs, o)
		}
		ns.UAVariable, ns.UAObject, ns.UAMethod = vars, objs, nil

		var nodes []*schema.UANode
		for _, x := range ns.UAVariable {
			nodes = append(nodes, x.UANode)
		}
		for _, x := range ns.UAObject {
			nodes = append(nodes, x.UANode)
		}
		for _, x := range ns.UAObjectType {
			nodes = append(nodes, x.UANode)
		}
		for _, x := range ns.UAVariableType {
			nodes = append(nodes, x.UANode)
		}
		for _, x := range ns.UADataType {
			x.Definition = nil
			nodes = append(nodes, x.UANode)
		}
		for _, x := range ns.UAReferenceType {
			nodes = append(nodes, x.UANode)
		}
		ids := map[string]bool{}
		for _, n := range nodes {
			ids[n.NodeIdAttr] = true
		}
		for _, n := range nodes {
			n.Description, n.Documentation, n.Category, n.RolePermissions, n.Extensions = nil, "", nil, nil, nil
			if n.References == nil {
				continue
			}
			// A reference to a dropped node would be logged by the import.
			refs := n.References.Reference[:0]
			for _, r := range n.References.Reference {
				if ids[r.Value] {
					refs = append(refs, r)
				}
			}
			n.References.Reference = refs
		}
		trimmed, trimErr = xml.Marshal(&ns)
	})
	return trimmed, trimErr
}

// newServer creates a gopcua server on the trimmed standard nodeset.
func newServer(opts ...server.Option) (*server.Server, error) {
	b, err := trimmedNodeSet()
	if err != nil {
		return nil, err
	}
	newServerMu.Lock()
	defer newServerMu.Unlock()
	full := schema.OpcUaNodeSet2
	schema.OpcUaNodeSet2 = b
	defer func() { schema.OpcUaNodeSet2 = full }()
	return server.New(opts...), nil
}
