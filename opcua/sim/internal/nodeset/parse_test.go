package nodeset

import (
	"encoding/xml"
	"testing"

	"github.com/gopcua/opcua/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTrimmedKeepsWhatServersNeed(t *testing.T) {
	var ns schema.UANodeSet
	require.NoError(t, xml.Unmarshal(Trimmed, &ns))
	ids := map[string]bool{}
	for _, o := range ns.UAObject {
		ids[o.NodeIdAttr] = true
	}
	for _, v := range ns.UAVariable {
		ids[v.NodeIdAttr] = true
	}
	for _, r := range ns.UAReferenceType {
		ids[r.NodeIdAttr] = true
	}
	for _, tp := range ns.UAObjectType {
		ids[tp.NodeIdAttr] = true
	}
	for _, want := range []string{
		"i=84", "i=85", "i=2253", // Root, Objects, Server
		"i=2255", "i=11705", // NamespaceArray, MaxNodesPerRead
		"i=33", "i=35", "i=40", "i=46", "i=47", // reference types
		"i=58", "i=61", // BaseObjectType, FolderType
	} {
		assert.True(t, ids[want], "trimmed nodeset keeps %s", want)
	}
	assert.Empty(t, ns.UAMethod)
	assert.Less(t, len(ns.UAObject)+len(ns.UAVariable)+len(ns.UADataType)+len(ns.UAObjectType), 600)
}
