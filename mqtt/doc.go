// Package mqtt puts the line on the plant's MQTT broker, the plant bus.
//
// A Publisher is an mes.EventSink placed after the store: it folds machine
// events and the line's figures into two views of the line and publishes
// both through one ordered store-and-forward queue (mes.OutboxService):
//
//   - Sparkplug B 3.0 (namespace spBv1.0): the line is an edge node of the
//     group "{site}:{area}", each machine, robot and station one device.
//     NBIRTH/DBIRTH carry every metric with its name, alias, type and
//     engineering unit; NDATA/DDATA carry only what changed, by alias;
//     NDEATH is the MQTT Will, matched to the NBIRTH by bdSeq; seq counts
//     0–255 from each NBIRTH; an NCMD "Node Control/Rebirth" = true makes
//     the node publish its births again. Payloads use the Sparkplug
//     protobuf schema (package sparkplugb, generated from the
//     specification's sparkplug_b.proto kept beside it).
//   - An ISA-95 unified namespace in JSON under
//     {enterprise}/{site}/{area}/{line}: retained current state per line
//     and per cell, and non-retained events (bur finished, alarms, batch
//     transitions, KPIs every minute). The README lists the topic tree.
//
// The line never waits for the broker: Publish appends to a bounded
// in-memory hand-off and returns; one goroutine folds the events and writes
// the resulting messages to the outbox in the store, another sends them in
// order and removes them once the broker has them. Sparkplug messages are
// QoS 0 as the specification asks, the namespace's QoS 1; a QoS 0 message
// leaves the outbox only once a later QoS 1 message is acknowledged, so a
// broker outage or a restart of Pilotline loses nothing that reached the
// outbox. Messages queued before the current session's NBIRTH go out with
// Sparkplug's is_historical set.
package mqtt
