package bolt_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNCService_FailedBurOpensNCWithAudit(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	b := completedBatch(t, s, 3, 2)
	ncs := bolt.NewNCService(s.db)
	audit := bolt.NewAuditService(s.db)

	list, err := ncs.ListNCs(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, list, 1, "one failed characteristic, one NC")
	nc := list[0]
	assert.Equal(t, "NC000001", nc.ID)
	assert.Equal(t, b.ID+"-00002", nc.Serial)
	assert.Equal(t, mes.NCSourceMeasurement, nc.Source)
	assert.Equal(t, mes.NCOpen, nc.State)
	assert.Equal(t, "system", nc.OpenedBy)
	assert.Error(t, mes.CanRelease(b, []mes.Nonconformance{*nc}), "an open NC blocks release")

	entries := collectSeq(t, audit.AuditEntries(ctx, mes.AuditFilter{ObjectType: mes.AuditObjectNC, ObjectID: nc.ID}))
	require.Len(t, entries, 1)
	assert.Equal(t, mes.AuditCreate, entries[0].Action)
	assert.Equal(t, b.ID, entries[0].Batch)

	// Disposition closes it, with old and new in the audit trail.
	_, err = ncs.CloseNC(ctx, nc.ID, mes.DispositionUseAsIs, "cosmetic", "", "qa1", t0.Add(48*3600e9))
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err), "use-as-is needs a concession")
	closed, err := ncs.CloseNC(ctx, nc.ID, mes.DispositionScrap, "diameter oversize", "", "qa1", t0.Add(48*3600e9))
	require.NoError(t, err)
	assert.Equal(t, mes.NCClosed, closed.State)
	_, err = ncs.CloseNC(ctx, nc.ID, mes.DispositionRework, "again", "", "qa1", t0.Add(49*3600e9))
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err), "a closed record is never changed")

	found, err := ncs.FindNC(ctx, nc.ID)
	require.NoError(t, err)
	assert.Equal(t, closed, found)
	entries = collectSeq(t, audit.AuditEntries(ctx, mes.AuditFilter{ObjectType: mes.AuditObjectNC, ObjectID: nc.ID}))
	require.Len(t, entries, 2)
	assert.Equal(t, mes.AuditChange, entries[1].Action)
	assert.Equal(t, "qa1", entries[1].Actor)
	var old, nw mes.Nonconformance
	require.NoError(t, json.Unmarshal(entries[1].Old, &old))
	require.NoError(t, json.Unmarshal(entries[1].New, &nw))
	assert.Equal(t, mes.NCOpen, old.State)
	assert.Equal(t, *closed, nw)

	_, err = mes.VerifyChain(audit.AuditEntries(ctx, mes.AuditFilter{}))
	assert.NoError(t, err)

	for _, id := range []string{"NC000099", "NC1", "B000001", ""} {
		_, err := ncs.FindNC(ctx, id)
		assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err), id)
	}
}

func TestNCService_CreateManual(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	ncs := bolt.NewNCService(s.db)
	bad := &mes.Nonconformance{Serial: "X", Batch: "B000001", Source: mes.NCSourceManual, OpenedAt: t0, OpenedBy: "qa1"}
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(ncs.CreateNC(ctx, bad)), "description required")
	assert.Empty(t, bad.ID)

	for i, batch := range []string{"B000001", "B000002", "B000001"} {
		nc := &mes.Nonconformance{Serial: batch + "-00001", Batch: batch, Source: mes.NCSourceManual, Description: "chipped shank", OpenedAt: t0, OpenedBy: "qa1"}
		require.NoError(t, ncs.CreateNC(ctx, nc))
		assert.Equal(t, []string{"NC000001", "NC000002", "NC000003"}[i], nc.ID)
	}
	list, err := ncs.ListNCs(ctx, "B000001")
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "NC000001", list[0].ID)
	assert.Equal(t, "NC000003", list[1].ID)
	none, err := ncs.ListNCs(ctx, "B000009")
	require.NoError(t, err)
	assert.Empty(t, none)
}
