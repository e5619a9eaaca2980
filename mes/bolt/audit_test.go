package bolt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
)

func collectAudit(tb testing.TB, a *bolt.AuditService, f mes.AuditFilter) []mes.AuditEntry {
	tb.Helper()
	var out []mes.AuditEntry
	for e, err := range a.AuditEntries(context.Background(), f) {
		require.NoError(tb, err)
		out = append(out, e)
	}
	return out
}

func loginEntry(user string) mes.AuditEntry {
	return mes.AuditEntry{Actor: user, Action: mes.AuditLogin, ObjectType: mes.AuditObjectUser, ObjectID: user}
}

func TestAudit_ChainAndBatchChain(t *testing.T) {
	clk := newClock()
	db, path := MustOpenDB(t, bolt.Options{Line: mes.LineClockFrom(clk.Now), Wall: mes.NewWallClock(clk.Now)})
	a := bolt.NewAuditService(db)
	ctx := context.Background()

	head, err := a.AuditHead(ctx)
	require.NoError(t, err)
	assert.Equal(t, mes.ChainHead{}, head)

	e1, err := a.AppendAudit(ctx, loginEntry("li.wei"))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), e1.Seq)
	assert.Equal(t, mes.AuditGenesisHash, e1.PrevHash)
	assert.Equal(t, clk.Now(), e1.Time, "a zero time is the store's now")

	newVal := json.RawMessage(`{"state":"released"}`)
	b1, err := a.AppendAudit(ctx, mes.AuditEntry{Actor: "eng.chen", Action: mes.AuditCreate, ObjectType: mes.AuditObjectBatch,
		ObjectID: "B000001", Batch: "B000001", New: newVal, BatchPrevHash: "ignored-the-store-sets-it"})
	require.NoError(t, err)
	assert.Equal(t, mes.AuditGenesisHash, b1.BatchPrevHash, "the batch's first entry")
	// Another batch whose id extends the first one's must not join its chain.
	other, err := a.AppendAudit(ctx, mes.AuditEntry{Actor: "eng.chen", Action: mes.AuditCreate, ObjectType: mes.AuditObjectBatch,
		ObjectID: "B0000010", Batch: "B0000010", New: newVal})
	require.NoError(t, err)
	assert.Equal(t, mes.AuditGenesisHash, other.BatchPrevHash)
	b2, err := a.AppendAudit(ctx, mes.AuditEntry{Actor: "qa.li", Action: mes.AuditChange, ObjectType: mes.AuditObjectBatch,
		ObjectID: "B000001", Batch: "B000001", Old: newVal, New: json.RawMessage(`{"state":"held"}`), Reason: "wheel lot"})
	require.NoError(t, err)
	assert.Equal(t, b1.Hash, b2.BatchPrevHash)
	assert.Equal(t, other.Hash, b2.PrevHash)

	// A bad entry is refused and leaves the trail as it was.
	_, err = a.AppendAudit(ctx, mes.AuditEntry{Actor: "x", Action: "shred", ObjectType: "batch", ObjectID: "B1"})
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))

	all := collectAudit(t, a, mes.AuditFilter{})
	require.Len(t, all, 4)
	head, err = mes.VerifyChain(mes.AuditEntries(all))
	require.NoError(t, err)
	stored, err := a.AuditHead(ctx)
	require.NoError(t, err)
	assert.Equal(t, stored, head)

	batch := collectAudit(t, a, mes.AuditFilter{Batch: "B000001"})
	require.Len(t, batch, 2)
	assert.Equal(t, []uint64{b1.Seq, b2.Seq}, []uint64{batch[0].Seq, batch[1].Seq})
	assert.Len(t, collectAudit(t, a, mes.AuditFilter{ObjectType: mes.AuditObjectUser}), 1)
	assert.Len(t, collectAudit(t, a, mes.AuditFilter{FromSeq: 3}), 2)

	// The head survives a reopen.
	require.NoError(t, db.Close())
	db2, err := bolt.Open(path, bolt.Options{})
	require.NoError(t, err)
	defer db2.Close()
	e5, err := bolt.NewAuditService(db2).AppendAudit(ctx, loginEntry("li.wei"))
	require.NoError(t, err)
	assert.Equal(t, uint64(5), e5.Seq)
	assert.Equal(t, b2.Hash, e5.PrevHash)
}

// TestAudit_ConcurrentAppends appends from many goroutines, to the trail
// and to two batches: neither chain may fork.
func TestAudit_ConcurrentAppends(t *testing.T) {
	db, _ := MustOpenDB(t, bolt.Options{})
	a := bolt.NewAuditService(db)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := loginEntry(fmt.Sprintf("user%d", w))
				if i%2 == 0 {
					batch := fmt.Sprintf("B00000%d", w%2+1)
					e = mes.AuditEntry{Actor: "system", Action: mes.AuditCreate, ObjectType: mes.AuditObjectBur,
						ObjectID: fmt.Sprintf("%s-%d-%d", batch, w, i), Batch: batch, New: json.RawMessage(`{}`)}
				}
				_, err := a.AppendAudit(context.Background(), e)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	all := collectAudit(t, a, mes.AuditFilter{})
	require.Len(t, all, workers*each)
	_, err := mes.VerifyChain(mes.AuditEntries(all))
	require.NoError(t, err)
	for _, batch := range []string{"B000001", "B000002"} {
		entries := collectAudit(t, a, mes.AuditFilter{Batch: batch})
		require.NotEmpty(t, entries)
		prev := mes.AuditGenesisHash
		for _, e := range entries {
			assert.Equal(t, prev, e.BatchPrevHash, "batch %s seq %d", batch, e.Seq)
			prev = e.Hash
		}
	}
}

// TestAudit_ManyEntries crosses the iteration chunk size, with a consumer
// that appends while it iterates (which must not deadlock).
func TestAudit_ManyEntries(t *testing.T) {
	db, _ := MustOpenDB(t, bolt.Options{})
	a := bolt.NewAuditService(db)
	ctx := context.Background()
	for range 1200 {
		_, err := a.AppendAudit(ctx, mes.AuditEntry{Actor: "system", Action: mes.AuditCreate, ObjectType: mes.AuditObjectBur,
			ObjectID: "x", Batch: "B000001", New: json.RawMessage(`{}`)})
		require.NoError(t, err)
	}
	n := 0
	for e, err := range a.AuditEntries(ctx, mes.AuditFilter{Batch: "B000001"}) {
		require.NoError(t, err)
		n++
		assert.Equal(t, uint64(n), e.Seq)
		if n == 700 {
			_, err := a.AppendAudit(ctx, loginEntry("li.wei"))
			require.NoError(t, err)
		}
	}
	assert.Equal(t, 1200, n)
	head, err := mes.VerifyChain(a.AuditEntries(ctx, mes.AuditFilter{}))
	require.NoError(t, err)
	assert.Equal(t, uint64(1201), head.Seq)
}
