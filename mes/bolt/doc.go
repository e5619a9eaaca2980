// Package bolt implements the mes services (products, batches, burs and
// their genealogy, the machine event log, online backup) on one bbolt file.
//
// Bucket layout and key encoding are documented in keys.go, the binary
// codecs of events and burs in encoding.go and encoding_bur.go, and the
// schema versions in migrate.go: a new file is created at the newest
// schema, an older one is migrated forward at open. Machine events
// go through a group-commit writer: one goroutine folds everything published
// while the previous transaction committed into the next one, and every
// Publish returns only after its events are durable. Ingestion is idempotent
// by mes.MachineEvent.Key, operations by (machine, cycle seq), measurements
// by (station, seq), so replays after a reconnect or a crash change nothing
// twice.
package bolt
