// Package kpi computes the line's key performance indicators from the stored
// machine events: takt (target from the released batches' demand, actual
// from bur departures), cycle times per operation and machine, OEE per
// ISO 22400-2 per machine, group and line, the downtime Pareto, and energy
// and carbon per bur and per batch.
//
// Compute reads the period once from a mes.EventStore and folds each
// machine's state timeline into ISO 22400-2 time elements by interval
// arithmetic in integer nanoseconds (interval.go), so the elements of a
// machine always add up to the period.
//
// The package imports mes and the standard library only; it never imports
// an adapter. kpitest holds an in-memory event store and a synthetic month
// of the default line for its tests and benchmarks and those of its users.
package kpi
