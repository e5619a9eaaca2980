//go:build !race

// Parsing the full standard nodeset takes seconds under the race detector;
// this check of generated data runs in the normal test pass only.

package nodeset

import (
	"testing"

	"github.com/gopcua/opcua/schema"
	"github.com/stretchr/testify/require"
)

func TestTrimmedIsCurrent(t *testing.T) {
	b, err := Trim(schema.OpcUaNodeSet2)
	require.NoError(t, err)
	require.Equal(t, string(b), string(Trimmed), "trimmed.xml is stale: run go generate ./opcua/sim/internal/nodeset")
}
