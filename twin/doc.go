// Package twin is the live state of the line, the digital twin: it folds
// machine events from acquisition and updates from the MES into a snapshot
// with a sequence number, and streams snapshot + deltas to viewers over
// WebSocket through a hub.
package twin
