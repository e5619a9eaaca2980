package bolt_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func signature(batch string, m mes.SignatureMeaning) *mes.Signature {
	return &mes.Signature{SignerID: "qa1", PrintedName: "Li Wei", Meaning: m, SignedAt: t0.Add(72 * time.Hour),
		RecordID: batch, AuthMethod: mes.AuthPassword, Comment: "record reviewed"}
}

func TestSignBatch_ReleaseBindsRecordHash(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	b := completedBatch(t, s, 4, 3)
	ncs, sigs, audit := bolt.NewNCService(s.db), bolt.NewSignatureService(s.db), bolt.NewAuditService(s.db)

	_, err := sigs.SignBatch(ctx, signature(b.ID, mes.MeaningReleased))
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err), "open NC blocks release")
	_, err = sigs.SignBatch(ctx, signature(b.ID, "approved"))
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
	_, err = sigs.SignBatch(ctx, signature("B000099", mes.MeaningReleased))
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))
	none, err := sigs.ListSignatures(ctx, mes.RecordTypeBatch, b.ID)
	require.NoError(t, err)
	assert.Empty(t, none, "a refused signing stores nothing")

	list, err := ncs.ListNCs(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	_, err = ncs.CloseNC(ctx, list[0].ID, mes.DispositionScrap, "oversize", "", "qa1", t0.Add(70*time.Hour))
	require.NoError(t, err)

	reviewed := signature(b.ID, mes.MeaningReviewed)
	got, err := sigs.SignBatch(ctx, reviewed)
	require.NoError(t, err)
	assert.Equal(t, mes.BatchCompleted, got.State, "reviewed moves nothing")

	sig := signature(b.ID, mes.MeaningReleased)
	got, err = sigs.SignBatch(ctx, sig)
	require.NoError(t, err)
	assert.Equal(t, mes.BatchQAReleased, got.State)
	assert.Equal(t, "S000002", sig.ID)
	assert.Equal(t, mes.RecordTypeBatch, sig.RecordType)
	last := got.Transitions[len(got.Transitions)-1]
	assert.Equal(t, "qa1", last.By)
	assert.Contains(t, last.Reason, "S000002")

	// The hash is the record hash of what is stored.
	stored, err := s.batches.FindBatch(ctx, b.ID)
	require.NoError(t, err)
	p, err := s.products.FindProduct(ctx, b.Product)
	require.NoError(t, err)
	list, err = ncs.ListNCs(ctx, b.ID)
	require.NoError(t, err)
	want, err := mes.BatchRecordHash(stored, p, []mes.Nonconformance{*list[0]}, s.burs.BatchBurs(ctx, b.ID))
	require.NoError(t, err)
	assert.Equal(t, want, sig.RecordHash)
	assert.Equal(t, reviewed.RecordHash, sig.RecordHash, "the state change is not part of the record")

	listed, err := sigs.ListSignatures(ctx, mes.RecordTypeBatch, b.ID)
	require.NoError(t, err)
	require.Len(t, listed, 2)
	assert.Equal(t, *sig, *listed[1])

	// The sign entry's new value is the signature; the state change follows it.
	entries := collectSeq(t, audit.AuditEntries(ctx, mes.AuditFilter{Batch: b.ID}))
	var signEntry, stateEntry *mes.AuditEntry
	for i := range entries {
		if entries[i].Action == mes.AuditSign && entries[i].ObjectID == sig.ID {
			signEntry = &entries[i]
		}
		if entries[i].ObjectType == mes.AuditObjectBatch && entries[i].Action == mes.AuditChange {
			stateEntry = &entries[i]
		}
	}
	require.NotNil(t, signEntry)
	require.NotNil(t, stateEntry)
	var logged mes.Signature
	require.NoError(t, json.Unmarshal(signEntry.New, &logged))
	assert.Equal(t, *sig, logged)
	assert.Equal(t, signEntry.Seq+1, stateEntry.Seq)

	_, err = sigs.SignBatch(ctx, signature(b.ID, mes.MeaningRejected))
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err), "a released batch is closed")

	all := collectSeq(t, sigs.AllSignatures(ctx))
	assert.Len(t, all, 2)
}

func TestSignBatch_HeldOrRunningRefused(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	b := s.releasedBatch(t, 2, false)
	_, err := s.burs.StartBur(ctx, b.ID, t0)
	require.NoError(t, err)
	sigs := bolt.NewSignatureService(s.db)
	_, err = sigs.SignBatch(ctx, signature(b.ID, mes.MeaningReleased))
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
	_, err = s.batches.TransitionBatch(ctx, b.ID, mes.BatchHeld, "eng", "check wheel", t0)
	require.NoError(t, err)
	_, err = sigs.SignBatch(ctx, signature(b.ID, mes.MeaningRejected))
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
}

func TestCreateSignature_Validates(t *testing.T) {
	s := newServices(t)
	sigs := bolt.NewSignatureService(s.db)
	sig := signature("B000001", mes.MeaningReviewed)
	sig.RecordType = mes.RecordTypeBatch
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(sigs.CreateSignature(context.Background(), sig)), "no record hash")
	sig.RecordHash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	require.NoError(t, sigs.CreateSignature(context.Background(), sig))
	assert.Equal(t, "S000001", sig.ID)
}
