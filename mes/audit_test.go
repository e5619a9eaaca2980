package mes_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// auditChain builds a chain of n entries: a batch created, then changed.
func auditChain(t *testing.T, n int) []mes.AuditEntry {
	t.Helper()
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var head mes.ChainHead
	var out []mes.AuditEntry
	for i := range n {
		e := mes.AuditEntry{Time: t0.Add(time.Duration(i) * time.Minute), Actor: "qa.li", Action: mes.AuditChange,
			ObjectType: mes.AuditObjectBatch, ObjectID: "B000001", Batch: "B000001",
			Old: json.RawMessage(fmt.Sprintf(`{"quantity":%d}`, 100+i)), New: json.RawMessage(fmt.Sprintf(`{"quantity":%d}`, 101+i)),
			Reason: "customer changed the order"}
		if i == 0 {
			e.Action, e.Old, e.Reason = mes.AuditCreate, nil, ""
		}
		var err error
		e, err = head.Next(e)
		require.NoError(t, err)
		head = e.Head()
		out = append(out, e)
	}
	return out
}

func TestChainHead_Next(t *testing.T) {
	chain := auditChain(t, 3)
	assert.Equal(t, uint64(1), chain[0].Seq)
	assert.Equal(t, mes.AuditGenesisHash, chain[0].PrevHash)
	assert.Equal(t, chain[0].Hash, chain[1].PrevHash)
	assert.Equal(t, mes.AuditGenesisHash, chain[0].BatchPrevHash, "first entry of its batch")
	assert.Equal(t, uint64(3), chain[2].Seq)
	assert.Len(t, chain[2].Hash, 64)
	assert.NotEqual(t, chain[1].Hash, chain[2].Hash)

	head, err := mes.VerifyChain(mes.AuditEntries(chain))
	require.NoError(t, err)
	assert.Equal(t, chain[2].Head(), head)
}

func TestAuditEntry_Canonical(t *testing.T) {
	e := mes.AuditEntry{Seq: 7, Time: time.Date(2026, 3, 2, 16, 0, 0, 500, time.FixedZone("CST", 8*3600)),
		Actor: "qa.li", Action: mes.AuditChange, ObjectType: "nc", ObjectID: "NC000001", Batch: "B000001",
		Old: json.RawMessage(`{ "state": "open", "a": [1, 2.50, null] }`), New: json.RawMessage(`{"state":"closed","note":"<ok> \"quoted\"\n李"}`),
		Reason: "disposition", PrevHash: mes.AuditGenesisHash}
	b, err := e.Canonical()
	require.NoError(t, err)
	want := "pilotline.audit/v1\n" +
		"seq=7\n" +
		"time=\"2026-03-02T08:00:00.0000005Z\"\n" +
		"actor=\"qa.li\"\naction=\"change\"\nobject_type=\"nc\"\nobject_id=\"NC000001\"\nbatch=\"B000001\"\nbatch_prev_hash=\"\"\n" +
		"old={\"a\":[1,2.50,null],\"state\":\"open\"}\n" +
		"new={\"note\":\"<ok> \\\"quoted\\\"\\u000a李\",\"state\":\"closed\"}\n" +
		"reason=\"disposition\"\n" +
		"prev_hash=\"" + mes.AuditGenesisHash + "\"\n"
	assert.Equal(t, want, string(b))

	// The same instant in another zone, and JSON re-encoded by a store
	// (HTML-escaped, re-spaced), hash the same.
	e2 := e
	e2.Time = e.Time.UTC()
	e2.Old = json.RawMessage(`{"a":[1,2.50,null],"state":"open"}`)
	e2.New = json.RawMessage(`{"note":"\u003cok\u003e \"quoted\"\n李","state":"closed"}`)
	h1, err := e.ComputeHash()
	require.NoError(t, err)
	h2, err := e2.ComputeHash()
	require.NoError(t, err)
	assert.Equal(t, h1, h2)

	stored, err := json.Marshal(e)
	require.NoError(t, err)
	var back mes.AuditEntry
	require.NoError(t, json.Unmarshal(stored, &back))
	h3, err := back.ComputeHash()
	require.NoError(t, err)
	assert.Equal(t, h1, h3, "a JSON round trip keeps the hash")
}

func TestAuditEntry_Validate(t *testing.T) {
	ok := mes.AuditEntry{Time: time.Now(), Actor: "qa.li", Action: mes.AuditChange, ObjectType: "nc", ObjectID: "NC1",
		Old: json.RawMessage(`1`), New: json.RawMessage(`2`), Reason: "typo"}
	require.NoError(t, ok.Validate())
	tests := []struct {
		name string
		mod  func(*mes.AuditEntry)
	}{
		{"no time", func(e *mes.AuditEntry) { e.Time = time.Time{} }},
		{"no actor", func(e *mes.AuditEntry) { e.Actor = "" }},
		{"unknown action", func(e *mes.AuditEntry) { e.Action = "edit" }},
		{"no object", func(e *mes.AuditEntry) { e.ObjectID = "" }},
		{"change without reason", func(e *mes.AuditEntry) { e.Reason = " " }},
		{"change without old value", func(e *mes.AuditEntry) { e.Old = nil }},
		{"delete without old value", func(e *mes.AuditEntry) { e.Action, e.Old = mes.AuditDelete, nil }},
		{"create without new value", func(e *mes.AuditEntry) { e.Action, e.New = mes.AuditCreate, nil }},
		{"old not JSON", func(e *mes.AuditEntry) { e.Old = json.RawMessage(`{x`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.mod(&e)
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(e.Validate()))
			_, err := mes.ChainHead{}.Next(e)
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
		})
	}
}

func TestVerifyChain_Tamper(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func([]mes.AuditEntry) []mes.AuditEntry
		wantSeq uint64
		want    string
	}{
		{"change the new value", func(c []mes.AuditEntry) []mes.AuditEntry {
			c[2].New = json.RawMessage(`{"quantity":5000}`)
			return c
		}, 3, "entry altered"},
		{"append garbage to the old value", func(c []mes.AuditEntry) []mes.AuditEntry {
			c[2].Old = append(c[2].Old, " x"...)
			return c
		}, 3, "entry altered"},
		{"change the actor", func(c []mes.AuditEntry) []mes.AuditEntry { c[1].Actor = "op.wang"; return c }, 2, "entry altered"},
		{"change the time", func(c []mes.AuditEntry) []mes.AuditEntry { c[3].Time = c[3].Time.Add(time.Second); return c }, 4, "entry altered"},
		{"change and rehash", func(c []mes.AuditEntry) []mes.AuditEntry {
			c[1].Reason = "nothing to see"
			c[1].Hash, _ = c[1].ComputeHash()
			return c
		}, 3, "prev_hash does not match the hash of seq 2"},
		{"delete an entry", func(c []mes.AuditEntry) []mes.AuditEntry { return append(c[:2:2], c[3:]...) }, 4, "seq 3..3 missing"},
		{"reorder two entries", func(c []mes.AuditEntry) []mes.AuditEntry { c[2], c[3] = c[3], c[2]; return c }, 4, "seq 3..3 missing"},
		{"duplicate an entry", func(c []mes.AuditEntry) []mes.AuditEntry {
			return append(c[:3:3], c[2:]...)
		}, 3, "reordered or duplicated"},
		{"replace the first entry", func(c []mes.AuditEntry) []mes.AuditEntry {
			c[0].PrevHash = c[1].Hash
			c[0].Hash, _ = c[0].ComputeHash()
			return c
		}, 1, "prev_hash does not match the hash of seq 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain := tt.tamper(auditChain(t, 5))
			_, err := mes.VerifyChain(mes.AuditEntries(chain))
			require.Error(t, err)
			var ce *mes.AuditChainError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.wantSeq, ce.Seq)
			assert.Contains(t, ce.Reason, tt.want)
			assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
		})
	}
}

func TestVerifyChain_TruncationNeedsAnAnchor(t *testing.T) {
	chain := auditChain(t, 5)
	head, err := mes.VerifyChain(mes.AuditEntries(chain[:3]))
	require.NoError(t, err, "a cut chain is still a valid chain")
	assert.NotEqual(t, chain[4].Head(), head, "…but its head differs from the recorded one")
}

func TestVerifyChainFrom(t *testing.T) {
	chain := auditChain(t, 5)
	head, err := mes.VerifyChainFrom(chain[1].Head(), mes.AuditEntries(chain[2:]))
	require.NoError(t, err)
	assert.Equal(t, uint64(5), head.Seq)
	_, err = mes.VerifyChainFrom(chain[0].Head(), mes.AuditEntries(chain[2:]))
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
}

func TestVerifyChain_IteratorError(t *testing.T) {
	chain := auditChain(t, 2)
	boom := errors.New("disk on fire")
	var seq iter.Seq2[mes.AuditEntry, error] = func(yield func(mes.AuditEntry, error) bool) {
		if yield(chain[0], nil) {
			yield(mes.AuditEntry{}, boom)
		}
	}
	head, err := mes.VerifyChain(seq)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, uint64(1), head.Seq)
}
