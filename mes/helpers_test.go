package mes

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
)

// MustLineForTest returns the default 25-grinder line.
func MustLineForTest(tb testing.TB) *LineConfig {
	tb.Helper()
	line, err := LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(tb, err)
	return line
}
