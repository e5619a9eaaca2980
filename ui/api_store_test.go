package ui

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pilotline/pilotline/mes"
)

// openBackend returns the services a test server runs on.
func openBackend(tb testing.TB, line *mes.LineConfig) backend {
	tb.Helper()
	return backendOf(newMemStore(line))
}

// checkBackup checks that a streamed backup holds the product iso.
func checkBackup(tb testing.TB, data []byte, iso string) {
	tb.Helper()
	assert.Contains(tb, string(data), iso)
}
