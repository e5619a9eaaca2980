// Package opcua is Pilotline's machine adapter: an OPC UA client (on
// github.com/gopcua/opcua) that reads every machine of the line, turns node
// reads and subscriptions into mes.MachineEvent values, and writes dispatch
// (bur serial, program) back to the machines.
//
// The information model shared with the simulated line (opcua/sim) is in
// model.go. The package name clashes with gopcua's; gopcua is imported as
// gopcua and its ua package as ua.
package opcua
