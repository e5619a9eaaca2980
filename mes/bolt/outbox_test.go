package bolt_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func outboxMsgs(from, n int) []mes.OutboxMessage {
	var out []mes.OutboxMessage
	for i := from; i < from+n; i++ {
		out = append(out, mes.OutboxMessage{Topic: fmt.Sprintf("a/b/%d", i), Payload: []byte{byte(i), 0, 255}, QoS: byte(i % 2), Retained: i%3 == 0})
	}
	return out
}

func TestOutbox_InOrderAckAndReopen(t *testing.T) {
	ctx := context.Background()
	db, path := MustOpenDB(t, bolt.Options{})
	ob := bolt.NewOutboxService(db, 100)
	want := outboxMsgs(0, 10)
	dropped, err := ob.Enqueue(ctx, want...)
	require.NoError(t, err)
	assert.Zero(t, dropped)
	for i, m := range want {
		assert.Equal(t, uint64(i+1), m.Seq, "Seq assigned in order")
	}

	got, err := ob.Peek(ctx, 0, 4)
	require.NoError(t, err)
	assert.Equal(t, want[:4], got)
	got, err = ob.Peek(ctx, 4, 100)
	require.NoError(t, err)
	assert.Equal(t, want[4:], got)

	require.NoError(t, ob.Ack(ctx, 3))
	st, err := ob.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, 7, st.Queued)
	assert.Equal(t, uint64(4), st.Head)
	assert.Equal(t, uint64(10), st.Tail)

	// The queue is in the file: a reopened store sends on where it stopped,
	// and new messages never reuse a Seq.
	require.NoError(t, db.Close())
	db2, err := bolt.Open(path, bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { db2.Close() })
	ob2 := bolt.NewOutboxService(db2, 100)
	got, err = ob2.Peek(ctx, 0, 100)
	require.NoError(t, err)
	assert.Equal(t, want[3:], got)
	more := outboxMsgs(10, 1)
	_, err = ob2.Enqueue(ctx, more...)
	require.NoError(t, err)
	assert.Equal(t, uint64(11), more[0].Seq)
}

func TestOutbox_BoundDropsOldest(t *testing.T) {
	ctx := context.Background()
	db, _ := MustOpenDB(t, bolt.Options{})
	ob := bolt.NewOutboxService(db, 5)
	all := outboxMsgs(0, 8)
	dropped, err := ob.Enqueue(ctx, all[:4]...)
	require.NoError(t, err)
	assert.Zero(t, dropped)
	dropped, err = ob.Enqueue(ctx, all[4:]...)
	require.NoError(t, err)
	assert.Equal(t, 3, dropped)

	got, err := ob.Peek(ctx, 0, 100)
	require.NoError(t, err)
	assert.Equal(t, all[3:], got, "the newest five stay, in order")
	st, err := ob.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), st.Dropped)
	assert.Equal(t, 5, st.Queued)
}

func TestOutbox_BadInputStoresNothing(t *testing.T) {
	ctx := context.Background()
	db, _ := MustOpenDB(t, bolt.Options{})
	ob := bolt.NewOutboxService(db, 5)
	for _, tc := range []struct {
		name string
		msg  mes.OutboxMessage
	}{
		{"no topic", mes.OutboxMessage{Payload: []byte("x")}},
		{"qos 2", mes.OutboxMessage{Topic: "a", QoS: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ob.Enqueue(ctx, mes.OutboxMessage{Topic: "ok"}, tc.msg)
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
			st, err := ob.Stats(ctx)
			require.NoError(t, err)
			assert.Zero(t, st.Queued)
		})
	}
}
