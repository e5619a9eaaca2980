//go:build race

package twin

// raceEnabled shortens the heaviest property runs under the race detector,
// which slows them about tenfold; the same properties still run.
const raceEnabled = true
