package sim

import (
	"sync"

	"github.com/gopcua/opcua/schema"
	"github.com/gopcua/opcua/server"

	"github.com/pilotline/pilotline/opcua/sim/internal/nodeset"
)

// newServerMu serialises server.New while schema.OpcUaNodeSet2 points at the
// trimmed nodeset.
//
// IMPORTANT: schema.OpcUaNodeSet2 is a package variable of gopcua (gap:
// server.New has no option for the standard nodeset it loads); it is
// swapped only for the duration of server.New under this lock and restored
// afterwards, so servers created elsewhere keep the full set.
var newServerMu sync.Mutex

// newServer creates a gopcua server on the trimmed standard nodeset (see
// package nodeset for why).
func newServer(opts ...server.Option) (*server.Server, error) {
	newServerMu.Lock()
	defer newServerMu.Unlock()
	full := schema.OpcUaNodeSet2
	schema.OpcUaNodeSet2 = nodeset.Trimmed
	defer func() { schema.OpcUaNodeSet2 = full }()
	return server.New(opts...), nil
}
