// Package plant is the plant view: a process with no store of its own that
// subscribes to the plant's MQTT broker and shows every line publishing
// there as a Sparkplug B edge node. It is the host-application side of the
// plant bus whose edge-node side is package mqtt, and shares its metric
// names.
//
// A Model folds Sparkplug messages into one Card per line. It learns a line
// and its devices from their NBIRTH and DBIRTHs (names, aliases, types),
// applies NDATA/DDATA by alias, and marks a line stale on an NDEATH whose
// bdSeq matches the line's NBIRTH, or when the view itself loses the
// broker (it cannot tell then whether the lines are alive). A line that
// sends data the view has no birth for, or whose seq skips, is asked for a
// rebirth with an NCMD, as the Sparkplug specification asks of a host. A
// Server publishes the cards as a small embedded page and over WebSocket.
package plant
