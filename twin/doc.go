// Package twin is the live state of the line, the digital twin: it folds
// machine events from acquisition and updates from the MES into a snapshot
// with a sequence number, and streams snapshot + deltas to viewers over
// WebSocket through a hub.
//
// Protocol of GET /ws/twin (JSON text messages, each with "type"):
//
//   - server → viewer {"type":"snapshot","seq":N,...}: the whole line (see
//     Snapshot), sent on connect and on request.
//   - server → viewer {"type":"delta","seq":N+1,"time":...,"src":...}: only
//     what changed since seq N, at most once per tick. "grinders" and "robots"
//     are arrays of changed fields, each with "id"; "inspection", "magazine",
//     "output" and "production" are objects of changed fields; "spans" are
//     timeline spans opened (append, replacing the last span when one does
//     not start after it, then drop spans that ended before time − 1 h).
//     "src" is the source timestamp of the latest change.
//   - viewer → server {"type":"resync"}: a viewer that sees a seq gap asks
//     for a fresh snapshot; the stream continues from it.
//   - server → viewer {"type":"dropped","reason":"slow_consumer"}: best
//     effort, before the hub closes a viewer that fell behind its queue.
//
// ?grinders=G01,G02 narrows the stream to those grinders; ?batch=ID shows
// only that batch's bur serials and progress.
package twin
