// Package mes is the plant's vocabulary and rules for the Pilotline CNC pilot
// line: grinders, robots and stations, dental burs and their products and
// routes, batches (work orders), operations, machine events, KPIs (takt,
// cycle time, OEE per ISO 22400-2, downtime, energy and carbon), and the
// service interfaces that the adapters (mes/bolt, opcua, twin, ui) share.
//
// IMPORTANT: this package imports the standard library only. Adapters depend
// on it; it depends on none of them.
package mes
