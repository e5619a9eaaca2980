// Package sim serves a simulated Pilotline over real OPC UA: 25 tool
// grinders, the inspection station, five robot arms, the blank magazine and
// the output tray of the line configuration, each grinder on its own
// gopcua server (or all of them behind one gateway endpoint).
//
// Every machine runs an event-driven state machine on a simulated clock
// (idle, loading, grinding, unloading, dressing, wheel change, alarm,
// starved, blocked, maintenance) and exposes the information model of
// package opcua: the umati machine-tool tree plus Pilotline's own namespace.
// The MES dispatches jobs by writing PL:Dispatch; with Options.Autorun the
// line dispatches to itself.
//
// gopcua's server is used for transport, sessions and subscriptions only.
// The address space is this package's own (a server.NameSpace per namespace
// URI, values held in atomically swapped DataValues) and the services that
// gopcua lacks or gets wrong — Read, Write, Browse with continuation points,
// BrowseNext, TranslateBrowsePathsToNodeIds, RegisterNodes — are handlers
// registered before the server starts. Value changes are pushed to
// monitored items explicitly, never blocking the simulation.
package sim
