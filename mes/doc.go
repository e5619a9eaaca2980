// Package mes is the plant's vocabulary and rules for the Pilotline CNC pilot
// line: grinders, robots and stations, dental burs and their products and
// routes, batches (work orders), operations and cycles, machine events,
// bookings and the capacity calendar, nonconformances and e-signatures, the
// Error type with its codes, the hash-chained audit trail and record hashing
// (which the store needs inside its transactions), and the service
// interfaces that the adapters (mes/bolt, opcua, twin, ui) share.
//
// The engines that compute on this vocabulary live in their own packages,
// one axis of change each: mes/kpi (takt, cycle time, OEE per ISO 22400-2,
// downtime, energy and carbon), mes/booking (quotes and the booking
// scheduler) and mes/quality (the SPC monitor, review by exception, store
// verification and the record comparisons the trace bundle verifier shares).
//
// IMPORTANT: this package imports the standard library only. Adapters and
// engines depend on it; it depends on none of them.
package mes
