//go:build race

package opcua_test

// raceEnabled: the race detector slows the in-process simulated line several
// times over, so tests poll less often to avoid timing out healthy servers.
const raceEnabled = true
