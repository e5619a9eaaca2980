package opcua_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/opcua"
)

// README's capability table is the one acquisition uses.
func TestReadmeCapabilityTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	for _, r := range opcua.CapabilityTable() {
		assert.Contains(t, string(b), fmt.Sprintf("| %s | %s |\n", r[0], r[1]), "README row of %s", r[0])
	}
}
