// Package opcua is Pilotline's machine adapter: an OPC UA client (on
// github.com/gopcua/opcua) that reads every machine of the line, turns node
// reads and subscriptions into mes.MachineEvent values, and writes dispatch
// (bur serial, program) back to the machines.
//
// The information model shared with the simulated line (opcua/sim) is in
// model.go. The package name clashes with gopcua's: gopcua is imported as
// gopcua, its ua package as ua (as in opcua/sim).
//
// Files follow the jobs of an endpoint: endpoint.go (connection, outage
// and reconnect), resolve.go (node ids by browse path after each connect),
// readplan.go (which nodes a cycle reads and how reads are chunked),
// poll.go (the poll cycle and heartbeat), subscribe.go, events.go (values
// to mes events), dispatch.go, conn.go and pki.go (dial and security).
//
// # How it reads the line
//
// Acquisition runs one goroutine per endpoint; endpoints never wait for each
// other. Each connection first resolves every node by browse path: the
// machines are found under Objects/MA:Machines by browse name (Machine.Node,
// default the id; a lone machine also by its MT:MachineToolType type
// definition), robots and stations under Objects/PL:Cell, and every signal
// of model.go by TranslateBrowsePathsToNodeIds, or by a level-by-level
// Browse walk on servers without that service. Node ids are never kept
// across connections.
//
// In poll mode one cycle is one batched Read plus the heartbeat
// (Server/ServerStatus/CurrentTime) of what events are derived from: state,
// operation mode, process values, parts counter, the Seq of the last cycle
// and measurement, PL:Alarms/Latest and the Cleared of each raised alarm. A
// record's other fields are read, in a second Read, only when its trigger
// changed; the values no event needs (umati channel, job and tool nodes,
// program version, dispatch) every tenth cycle; identification once per
// connection. Requests are split into requests
// of at most the server's MaxNodesPerRead (never more than 1,000, and small
// enough that no response exceeds ~40 KiB, because some servers cannot chunk
// responses). An advertised limit below 100 is treated as a hint: the client
// tries larger requests and falls back to the advertised value if the server
// answers BadTooManyOperations. In subscribe mode the endpoint is read once,
// then followed by one subscription (monitored items created in batches),
// with a heartbeat Read every interval.
//
// Every request of a cycle must answer within one poll interval (at least
// 250 ms): a stalled server or dead connection marks the endpoint's objects
// comm_lost (EventCommLost) within two intervals. The endpoint then
// reconnects with exponential backoff and jitter, resolves its nodes again,
// re-creates its subscription, reports EventCommRestored and the current
// state.
//
// # Events
//
// Events are derived from what changed since the previous read, identically
// in both modes: EventState when PL:Process/State or the MT operation mode
// changes; one EventCounter per part when PL:Process/PL:PartsCounter
// advances; EventCycle when PL:LastCycle/Seq changes; EventAlarmRaised and
// EventAlarmCleared from the alarm ring; EventMeasurement when
// PL:LastMeasurement/Seq changes; EventRobot and EventStation when a cell
// object changes. EventSample carries the process values and is sent only
// when one of them changed since the last sample (at most once per machine
// per poll or notification burst), so an idle machine costs no storage.
// What was seen (counter, cycle and measurement sequence numbers, alarms) is
// kept across reconnects, so nothing is reported twice by one process; the
// store is idempotent by MachineEvent.Key for the rest.
//
// # Standard umati machines and vendor names
//
// A path step with QName.Type set is an instance a vendor names as it
// likes (Channel1, Job1, Tool1): it resolves to the child of that MT type
// or a subtype (instances.go), as a lone machine resolves by
// MachineToolType or a subtype. The configuration may put any signal on a
// vendor's node by browse path or node id (mapping.go). A machine without
// Pilotline's namespace yields its counter from PartsProducedInLifetime,
// its cycles from the production plan's RunsCompleted, and its alarms from
// the events of Notification/Messages (alarmevents.go); what it cannot
// give is reported per machine (capability.go). Probe (probe.go) runs the
// same resolution for `pilotline probe`.
//
// # Security
//
// Security policy None or Basic256Sha256 with mode Sign or SignAndEncrypt,
// anonymous or user/password (the password from the environment variable
// named in the configuration). The client certificate (RSA 2048,
// self-signed, application URI urn:pilotline:client in its subjectAltName)
// is created on first start in DataDir/pki/client.crt.pem and
// client.key.pem; servers must be told to trust it.
package opcua
