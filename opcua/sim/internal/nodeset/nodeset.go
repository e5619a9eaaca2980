// Package nodeset holds the trimmed standard OPC UA nodeset the simulated
// line's servers start from.
//
// gopcua's server.New parses and imports the whole standard nodeset (3.5 MB
// of XML) for every server: about 400 ms and 14 MB each, 11 s for a line of
// 27 endpoints. A simulated machine needs only the reference types, the
// Server object and the types its nodes point at, so Trim keeps those and
// drops the rest (instance declarations of types, encodings, methods,
// dictionaries, documentation). The result is generated once into
// trimmed.xml (go generate) because parsing the full set takes seconds.
package nodeset

//go:generate go run ./gen

import (
	_ "embed"
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/gopcua/opcua/schema"
)

// Trimmed is Trim(schema.OpcUaNodeSet2) for the gopcua version in go.mod.
//
//go:embed trimmed.xml
var Trimmed []byte

// Trim keeps the reference types, the top-level folders, the Server object
// with everything below it, and the object, variable and data types those
// nodes use with their supertypes.
func Trim(full []byte) ([]byte, error) {
	var ns schema.UANodeSet
	if err := xml.Unmarshal(full, &ns); err != nil {
		return nil, fmt.Errorf("parse standard nodeset: %w", err)
	}
	aliases := map[string]string{}
	if ns.Aliases != nil {
		for _, a := range ns.Aliases.Alias {
			aliases[a.AliasAttr] = a.Value
		}
	}
	resolve := func(s string) string {
		if v, ok := aliases[s]; ok {
			return v
		}
		return s
	}

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

	// Supertypes: a type's inverse HasSubtype reference.
	super := map[string]string{}
	typeNodes := func(n *schema.UANode) {
		if n.References == nil {
			return
		}
		for _, r := range n.References.Reference {
			if resolve(r.ReferenceTypeAttr) == "i=45" && r.IsForwardAttr != nil && !*r.IsForwardAttr {
				super[n.NodeIdAttr] = r.Value
			}
		}
	}
	for _, t := range ns.UAObjectType {
		typeNodes(t.UANode)
	}
	for _, t := range ns.UAVariableType {
		typeNodes(t.UANode)
	}
	for _, t := range ns.UADataType {
		typeNodes(t.UANode)
	}
	types := map[string]bool{}
	useType := func(id string) {
		for id != "" && !types[id] {
			types[id] = true
			id = super[id]
		}
	}
	typeDefOf := func(n *schema.UANode) {
		if n.References == nil {
			return
		}
		for _, r := range n.References.Reference {
			if resolve(r.ReferenceTypeAttr) == "i=40" {
				useType(r.Value)
			}
		}
	}
	for _, id := range []string{"i=58", "i=61", "i=62", "i=63", "i=68", "i=24"} {
		useType(id) // base types the simulator's own nodes point at
	}
	for i := 1; i <= 30; i++ {
		useType(fmt.Sprintf("i=%d", i)) // built-in data types
	}

	var vars []*schema.UAVariable
	for _, v := range ns.UAVariable {
		if keep[v.NodeIdAttr] {
			vars = append(vars, v)
			typeDefOf(v.UANode)
			useType(resolve(v.DataTypeAttr))
		}
	}
	var objs []*schema.UAObject
	for _, o := range ns.UAObject {
		switch {
		case keep[o.NodeIdAttr]:
		case o.ParentNodeIdAttr != "":
			continue // instance declaration of a type
		case strings.HasPrefix(o.BrowseNameAttr, "Default "):
			continue // encodings
		}
		objs = append(objs, o)
		typeDefOf(o.UANode)
	}
	var ots []*schema.UAObjectType
	for _, t := range ns.UAObjectType {
		if types[t.NodeIdAttr] {
			ots = append(ots, t)
		}
	}
	var vts []*schema.UAVariableType
	for _, t := range ns.UAVariableType {
		if types[t.NodeIdAttr] {
			vts = append(vts, t)
		}
	}
	var dts []*schema.UADataType
	for _, t := range ns.UADataType {
		if types[t.NodeIdAttr] {
			t.Definition = nil
			dts = append(dts, t)
		}
	}
	ns.UAVariable, ns.UAObject, ns.UAMethod = vars, objs, nil
	ns.UAObjectType, ns.UAVariableType, ns.UADataType = ots, vts, dts

	var nodes []*schema.UANode
	for _, x := range ns.UAVariable {
		x.Value = nil
		nodes = append(nodes, x.UANode)
	}
	for _, x := range ns.UAObject {
		nodes = append(nodes, x.UANode)
	}
	for _, x := range ns.UAObjectType {
		nodes = append(nodes, x.UANode)
	}
	for _, x := range ns.UAVariableType {
		x.Value = nil
		nodes = append(nodes, x.UANode)
	}
	for _, x := range ns.UADataType {
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
	out, err := xml.Marshal(&ns)
	if err != nil {
		return nil, fmt.Errorf("write trimmed nodeset: %w", err)
	}
	return out, nil
}
