package mes

import "context"

// OutboxMessage is one message for the plant's MQTT broker, held in the
// line's store until the broker has taken it (store and forward).
type OutboxMessage struct {
	Seq      uint64 // assigned by Enqueue: ascending in enqueue order, never reused
	Topic    string
	Payload  []byte
	QoS      byte // MQTT QoS 0 or 1
	Retained bool
}

// OutboxStats describes the queue.
type OutboxStats struct {
	Queued  int    // messages waiting
	Bytes   int64  // their encoded size
	Head    uint64 // Seq of the oldest waiting message, 0 when empty
	Tail    uint64 // Seq of the newest message ever enqueued
	Dropped uint64 // messages dropped because the queue was full, since the file was made
}

// OutboxService is the line's store-and-forward queue for the plant bus:
// messages leave it in enqueue order and only once the broker has them.
//
// IMPORTANT: the queue is bounded. When Enqueue would grow it beyond its
// bound, the oldest messages are dropped first and counted in Dropped, so
// a long broker outage costs the oldest history, never the line's store.
type OutboxService interface {
	// Enqueue appends msgs in order in one transaction and assigns their
	// Seq. It returns how many old messages it dropped to stay within the
	// bound. Errors: EINVALID (empty topic, QoS above 1), EINTERNAL.
	Enqueue(ctx context.Context, msgs ...OutboxMessage) (dropped int, err error)

	// Peek returns up to n waiting messages with Seq > after, oldest first.
	// Errors: EINTERNAL.
	Peek(ctx context.Context, after uint64, n int) ([]OutboxMessage, error)

	// Ack removes every waiting message with Seq ≤ seq: the broker has them.
	// Errors: EINTERNAL.
	Ack(ctx context.Context, seq uint64) error

	// Stats reports the queue's size. Errors: EINTERNAL.
	Stats(ctx context.Context) (OutboxStats, error)
}
