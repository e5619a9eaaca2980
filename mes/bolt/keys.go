package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// Bucket layout (schema version 5). Every bucket is top-level; values are
// JSON unless noted. "u64" is an 8-byte big-endian unsigned integer, "t64"
// a time as UnixNano with the sign bit flipped (8 bytes, so older sorts
// first, including before 1970), "\x00" a separator that no id contains.
//
//	bucket             key                                   value
//	meta               "schema"                              u64 schema version
//	products           ISO 6360 number (15 digits)           mes.Product
//	batches            u64 batch seq (id "B" + 6 digits)     mes.Batch
//	burs               serial                                mes.Bur (with genealogy), binary (encoding_bur.go; JSON before schema 5)
//	burs_by_batch      u64 batch seq + u64 bur seq           serial
//	waiting            group \x00 t64 created + serial       u64 batch seq
//	cycles             machine \x00 u64 cycle seq            serial      (CompleteOperation idempotency)
//	measurements       station \x00 u64 measurement seq      serial      (RecordMeasurement idempotency)
//	events             t64 source time + u64 event seq       mes.MachineEvent, binary (encoding.go; never expires)
//	event_keys         dedup key of the event (see below)    empty       (ingestion idempotency)
//	samples            t64 source time + machine             mes.MachineEvent, binary (EventSample, pruned by retention)
//	users              user id                               storedUser (mes.User with its password hash)
//	orgs               org id                                mes.Org
//	sessions           HashSecret(session id)                mes.Session (expired ones dropped at each login)
//	tokens             u64 token seq (id "T" + 6 digits)     storedToken (mes.APIToken with its hash)
//	tokens_by_hash     HashSecret(token)                     u64 token seq (dropped when revoked)
//	audit              u64 audit seq                         mes.AuditEntry
//	audit_by_batch     batch \x00 u64 audit seq               hash of that entry (the batch chain's links)
//	meta               "audit_head"                          mes.ChainHead of the audit trail
//	meta               "line_time"                           i64 UnixNano line time reserved by the line clock
//	meta               "audit_last_line", "audit_last_wall"  i64 UnixNano time of the trail's last entry on that time base
//	meta               "bur_migration"                       serial the bur rewrite of schema 5 resumes at (only while it runs)
//	bookings           u64 booking seq (id "BK" + 6 digits)  mes.Booking
//	reservations       u64 reservation seq (id "R" + 6 dig.) mes.Reservation
//	reservations_by_group  group \x00 t64 blocked start + u64 reservation seq: t64 blocked end
//	notifications      u64 notification seq                  mes.Notification
//	notifications_by_org   org \x00 u64 notification seq: empty
//	ncs                u64 nc seq (id "NC" + 6 digits)       mes.Nonconformance
//	ncs_by_batch       batch \x00 u64 nc seq                empty
//	signatures         u64 signature seq (id "S" + 6 digits) mes.Signature
//	signatures_by_record  record type \x00 record id \x00 u64 signature seq: empty
//	outbox             u64 outbox seq                        mes.OutboxMessage, binary (outbox.go; removed once the broker has it)
//	meta               "outbox_dropped"                      u64 messages dropped from the full outbox
//
// The event_keys key is a binary form of mes.MachineEvent.Key: equal
// whenever Key is equal (and apart where Key's text alone is ambiguous,
// such as a cycle without its record), but laid out so that a commit's new keys land
// together instead of on one page per machine:
//
//	0x01 len machine len kind u64 seq    counter, cycle, alarm, measurement: the
//	                                     machine's own sequence, so each
//	                                     (machine, kind) appends at its end
//	0x02 u64 source time len machine len kind [state]
//	                                     every other kind: Key holds the source
//	                                     time, so it leads and new keys append
//	                                     at the end of the bucket
//
// "len" is one uvarint length before the bytes; the time is UnixNano with
// the sign bit flipped, the very value Key formats (unclamped, unlike t64).
//
// IMPORTANT: within one group of reservations_by_group the blocked windows
// never overlap, so the only earlier entry that can reach into a window is
// the one just before it: the overlap check is a seek and a short scan.
//
// IMPORTANT: samples are keyed by (time, machine), which is exactly what
// MachineEvent.Key identifies a sample by, so the samples bucket is its own
// idempotency index and pruning it leaves nothing behind.
var (
	bucketMeta            = []byte("meta")
	bucketProducts        = []byte("products")
	bucketBatches         = []byte("batches")
	bucketBurs            = []byte("burs")
	bucketBursByBatch     = []byte("burs_by_batch")
	bucketWaiting         = []byte("waiting")
	bucketCycles          = []byte("cycles")
	bucketMeasurements    = []byte("measurements")
	bucketEvents          = []byte("events")
	bucketEventsByMachine = []byte("events_by_machine") // schema ≤ 2 only
	bucketEventKeys       = []byte("event_keys")
	bucketSamples         = []byte("samples")

	bucketBookings            = []byte("bookings")
	bucketReservations        = []byte("reservations")
	bucketReservationsByGroup = []byte("reservations_by_group")
	bucketNotifications       = []byte("notifications")
	bucketNotificationsByOrg  = []byte("notifications_by_org")

	bucketNCs                = []byte("ncs")
	bucketNCsByBatch         = []byte("ncs_by_batch")
	bucketSignatures         = []byte("signatures")
	bucketSignaturesByRecord = []byte("signatures_by_record")

	bucketOutbox = []byte("outbox")

	bucketUsers        = []byte("users")
	bucketOrgs         = []byte("orgs")
	bucketSessions     = []byte("sessions")
	bucketTokens       = []byte("tokens")
	bucketTokensByHash = []byte("tokens_by_hash")
	bucketAudit        = []byte("audit")
	bucketAuditByBatch = []byte("audit_by_batch")

	keySchema        = []byte("schema")
	keyAuditHead     = []byte("audit_head")
	keyOutboxDropped = []byte("outbox_dropped")
	// keyLineTime holds the line time the line clock has reserved (see
	// mes.LineClock): a restart continues line time from it.
	keyLineTime = []byte("line_time")
	// keyAuditLastPrefix + time base holds the time of the audit trail's
	// last entry on that base.
	keyAuditLastPrefix = "audit_last_"
	// keyBurMigration is present while burs remain to be rewritten in the
	// binary encoding (see migrateBurs).
	keyBurMigration = []byte("bur_migration")
)

// accessBuckets hold accounts and the audit trail. They are created at open
// when missing (see ensureBuckets), so files made before they existed gain
// them without a schema step.
var accessBuckets = [][]byte{
	bucketUsers, bucketOrgs, bucketSessions, bucketTokens, bucketTokensByHash, bucketAudit, bucketAuditByBatch,
}

// allBuckets lists the buckets of the current schema.
var allBuckets = [][]byte{
	bucketMeta, bucketProducts, bucketBatches, bucketBurs, bucketBursByBatch, bucketWaiting,
	bucketCycles, bucketMeasurements, bucketEvents, bucketEventKeys, bucketSamples,
}

// bookingBuckets hold bookings, the capacity calendar and portal
// notifications; like accessBuckets they are created at open when missing.
var bookingBuckets = [][]byte{
	bucketBookings, bucketReservations, bucketReservationsByGroup, bucketNotifications, bucketNotificationsByOrg,
}

// plantBusBuckets hold the store-and-forward queue of the plant bus; like
// accessBuckets they are created at open when missing.
var plantBusBuckets = [][]byte{bucketOutbox}

// openBuckets are created at every read-write open when missing: the
// groups above that files gained without a schema step.
var openBuckets = slices.Concat(accessBuckets, bookingBuckets, qaBuckets, plantBusBuckets)

// ensureBuckets creates any bucket of buckets that a file lacks.
func ensureBuckets(tx *bbolt.Tx, buckets [][]byte) error {
	for _, name := range buckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

const sep = 0x00

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getU64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// t64 encodes t so that byte order is time order. The zero time (and
// anything beyond UnixNano's range) is clamped to the ends of the range.
func t64(t time.Time) []byte {
	var n int64
	switch {
	case t.IsZero() || t.Year() < 1678:
		n = math.MinInt64
	case t.Year() > 2261:
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return u64(uint64(n) ^ (1 << 63))
}

func getT64(b []byte) time.Time {
	return time.Unix(0, int64(getU64(b)^(1<<63))).UTC()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// batchID formats a batch sequence number as its id.
func batchID(seq uint64) string { return fmt.Sprintf("B%06d", seq) }

// batchSeq parses a batch id; ok is false for anything not made by batchID.
func batchSeq(id string) (uint64, bool) {
	if len(id) < 7 || id[0] != 'B' {
		return 0, false
	}
	n, err := strconv.ParseUint(id[1:], 10, 64)
	if err != nil || n == 0 || batchID(n) != id {
		return 0, false
	}
	return n, true
}

func burByBatchKey(batch uint64, seq int) []byte { return cat(u64(batch), u64(uint64(seq))) }

func waitingPrefix(group string) []byte { return append([]byte(group), sep) }

func waitingKey(group string, created time.Time, serial string) []byte {
	return cat(waitingPrefix(group), t64(created), []byte(serial))
}

func seqKey(machine string, seq uint64) []byte { return cat([]byte(machine), []byte{sep}, u64(seq)) }

func eventKey(t time.Time, seq uint64) []byte { return cat(t64(t), u64(seq)) }

// Prefixes of the two families of event_keys keys.
const (
	dedupSeq  = 0x01
	dedupTime = 0x02
)

// appendDedupKey appends e's event_keys key to b. It encodes exactly the
// parts mes.MachineEvent.Key formats, so a replay of any event finds the key
// its first delivery stored.
func appendDedupKey(b []byte, e *mes.MachineEvent) []byte {
	seq, bySeq := uint64(0), false
	switch e.Kind {
	case mes.EventCounter:
		seq, bySeq = e.Counter, true
	case mes.EventCycle:
		if e.Cycle != nil {
			seq, bySeq = e.Cycle.Seq, true
		}
	case mes.EventAlarmRaised, mes.EventAlarmCleared:
		if e.Alarm != nil {
			seq, bySeq = e.Alarm.Seq, true
		}
	case mes.EventMeasurement:
		if e.Measurement != nil {
			seq, bySeq = e.Measurement.Seq, true
		}
	}
	if bySeq {
		b = append(b, dedupSeq)
		b = appendLenString(b, e.Machine)
		b = appendLenString(b, string(e.Kind))
		return binary.BigEndian.AppendUint64(b, seq)
	}
	b = append(b, dedupTime)
	b = binary.BigEndian.AppendUint64(b, uint64(e.SourceTime.UnixNano())^(1<<63))
	b = appendLenString(b, e.Machine)
	b = appendLenString(b, string(e.Kind))
	if e.Kind == mes.EventState {
		b = append(b, e.State...)
	}
	return b
}

func appendLenString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func machinePrefix(machine string) []byte { return append([]byte(machine), sep) }

func sampleKey(t time.Time, machine string) []byte { return cat(t64(t), []byte(machine)) }

// qaBuckets hold nonconformances and e-signatures; like accessBuckets they
// are created at open when missing.
var qaBuckets = [][]byte{bucketNCs, bucketNCsByBatch, bucketSignatures, bucketSignaturesByRecord}
