package bolt

import (
	"context"
	"encoding/binary"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// DefaultOutboxMax is the outbox bound in messages when none is given:
// at a 25-grinder line's rate at speed 1 (about 60 messages a second,
// 150 bytes each) it holds some two and a half hours of broker outage in
// about 150 MB of the store.
const DefaultOutboxMax = 500_000

// OutboxService is the plant bus's store-and-forward queue in the store.
//
// An outbox value is binary: one byte QoS, one byte retained (0 or 1), a
// uvarint topic length, the topic, then the payload to the end. Keys are
// the u64 Seq from the bucket's NextSequence, so the bucket is in enqueue
// order and its waiting messages always hold consecutive Seqs: only the
// head is ever removed.
type OutboxService struct {
	db  *DB
	max int
}

var _ mes.OutboxService = (*OutboxService)(nil)

// NewOutboxService returns the outbox on db holding at most max messages
// (DefaultOutboxMax when max ≤ 0).
func NewOutboxService(db *DB, max int) *OutboxService {
	if max <= 0 {
		max = DefaultOutboxMax
	}
	return &OutboxService{db: db, max: max}
}

// Enqueue implements mes.OutboxService.
func (s *OutboxService) Enqueue(ctx context.Context, msgs ...mes.OutboxMessage) (int, error) {
	for _, m := range msgs {
		if m.Topic == "" {
			return 0, mes.Errorf(mes.EINVALID, "outbox: message without a topic")
		}
		if m.QoS > 1 {
			return 0, mes.Errorf(mes.EINVALID, "outbox: QoS %d: want 0 or 1", m.QoS)
		}
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	dropped := 0
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		for i := range msgs {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(u64(seq), encodeOutbox(msgs[i])); err != nil {
				return err
			}
			msgs[i].Seq = seq
		}
		c := b.Cursor()
		first, _ := c.First()
		last, _ := c.Last()
		over := int(getU64(last)-getU64(first)+1) - s.max
		for k, _ := c.First(); k != nil && dropped < over; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
			dropped++
		}
		if dropped == 0 {
			return nil
		}
		meta := tx.Bucket(bucketMeta)
		var total uint64
		if v := meta.Get(keyOutboxDropped); len(v) == 8 {
			total = getU64(v)
		}
		return meta.Put(keyOutboxDropped, u64(total+uint64(dropped)))
	})
	if err != nil {
		return 0, err
	}
	return dropped, nil
}

// Peek implements mes.OutboxService.
func (s *OutboxService) Peek(ctx context.Context, after uint64, n int) ([]mes.OutboxMessage, error) {
	var out []mes.OutboxMessage
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < n; k, v = c.Next() {
			m, ok := decodeOutbox(v)
			if !ok {
				return mes.Errorf(mes.EINTERNAL, "outbox: message %d is corrupt", getU64(k))
			}
			m.Seq = getU64(k)
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// Ack implements mes.OutboxService.
func (s *OutboxService) Ack(ctx context.Context, seq uint64) error {
	return s.db.update(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, _ := c.First(); k != nil && getU64(k) <= seq; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Stats implements mes.OutboxService. It reads every waiting message to
// sum their sizes.
func (s *OutboxService) Stats(ctx context.Context) (mes.OutboxStats, error) {
	var st mes.OutboxStats
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		st.Tail = b.Sequence()
		if v := tx.Bucket(bucketMeta).Get(keyOutboxDropped); len(v) == 8 {
			st.Dropped = getU64(v)
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if st.Head == 0 {
				st.Head = getU64(k)
			}
			st.Queued++
			st.Bytes += int64(len(v))
		}
		return nil
	})
	return st, err
}

func encodeOutbox(m mes.OutboxMessage) []byte {
	buf := make([]byte, 0, 2+binary.MaxVarintLen64+len(m.Topic)+len(m.Payload))
	retained := byte(0)
	if m.Retained {
		retained = 1
	}
	buf = append(buf, m.QoS, retained)
	buf = binary.AppendUvarint(buf, uint64(len(m.Topic)))
	buf = append(buf, m.Topic...)
	return append(buf, m.Payload...)
}

// decodeOutbox copies what it returns out of v, which may be a page of
// the transaction.
func decodeOutbox(v []byte) (mes.OutboxMessage, bool) {
	if len(v) < 3 || v[1] > 1 {
		return mes.OutboxMessage{}, false
	}
	n, w := binary.Uvarint(v[2:])
	if w <= 0 || uint64(len(v)-2-w) < n {
		return mes.OutboxMessage{}, false
	}
	rest := v[2+w:]
	return mes.OutboxMessage{
		QoS: v[0], Retained: v[1] == 1,
		Topic:   string(rest[:n]),
		Payload: append([]byte(nil), rest[n:]...),
	}, true
}
