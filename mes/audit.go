package mes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AuditAction is what an audit entry records.
type AuditAction string

// Audit actions.
const (
	AuditCreate      AuditAction = "create"
	AuditChange      AuditAction = "change"
	AuditDelete      AuditAction = "delete"
	AuditSign        AuditAction = "sign"
	AuditLogin       AuditAction = "login"
	AuditLogout      AuditAction = "logout"
	AuditLoginFailed AuditAction = "login_failed"
	AuditExport      AuditAction = "export"
	AuditDenied      AuditAction = "denied" // a signed-in user asked for something their role forbids
)

// Valid reports whether a is a known action.
func (a AuditAction) Valid() bool {
	switch a {
	case AuditCreate, AuditChange, AuditDelete, AuditSign, AuditLogin, AuditLogout, AuditLoginFailed, AuditExport,
		AuditDenied:
		return true
	}
	return false
}

// Object types named by audit entries.
const (
	AuditObjectBatch       = "batch"
	AuditObjectBur         = "bur"
	AuditObjectProduct     = "product"
	AuditObjectMeasurement = "measurement"
	AuditObjectNC          = "nc"
	AuditObjectSignature   = "signature"
	AuditObjectUser        = "user"
)

// TimeBase is the time base e.Time is on: wall time for access to the
// system (sign-in, sign-out, failures, denials, exports) and for accounts,
// organisations and API tokens; line time for the records about the line
// (batches, burs, products, measurements, NCs, signatures). Each time base's
// entries are in time order along the chain.
func (e AuditEntry) TimeBase() TimeBase {
	switch e.Action {
	case AuditLogin, AuditLogout, AuditLoginFailed, AuditDenied, AuditExport:
		return WallTime
	}
	switch e.ObjectType {
	case AuditObjectUser, AuditObjectOrg, AuditObjectToken, AuditObjectRoute:
		return WallTime
	}
	return LineTime
}

// AuditGenesisHash is the PrevHash of the first entry of a chain.
const AuditGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditEntry is one record of the append-only audit trail (21 CFR 11.10(e)):
// who did what to which object when, the value before and after, and why.
//
// IMPORTANT: entries are hash-chained. Hash is the SHA-256 of the entry's
// canonical encoding (see AuditEntry.Canonical), which includes PrevHash, the
// Hash of the entry before it; changing, removing or reordering any entry
// breaks the chain at that point. Old values are never overwritten: a change
// is a new entry whose Old holds what was there.
type AuditEntry struct {
	Seq        uint64      `json:"seq"` // 1, 2, 3, … without gaps
	Time       time.Time   `json:"time"`
	Actor      string      `json:"actor"` // user id, or "system"
	Action     AuditAction `json:"action"`
	ObjectType string      `json:"object_type"`
	ObjectID   string      `json:"object_id"`
	Batch      string      `json:"batch,omitempty"` // batch the object belongs to, for the batch's trace record
	// BatchPrevHash is the Hash of the previous entry of the same Batch
	// (AuditGenesisHash for its first), so a batch's entries form a chain of
	// their own that a trace record can be checked against without the
	// other batches' entries. "" when Batch is "".
	BatchPrevHash string          `json:"batch_prev_hash,omitempty"`
	Old           json.RawMessage `json:"old,omitempty"`
	New           json.RawMessage `json:"new,omitempty"`
	Reason        string          `json:"reason,omitempty"`
	PrevHash      string          `json:"prev_hash"`
	Hash          string          `json:"hash"`
}

// Validate checks the fields a caller supplies (not Seq, PrevHash, Hash).
// Changes and deletions need a reason and the old value; creations and
// changes need the new value. Errors: EINVALID.
func (e AuditEntry) Validate() error {
	switch {
	case e.Time.IsZero():
		return Errorf(EINVALID, "audit: time required")
	case e.Actor == "":
		return Errorf(EINVALID, "audit: actor required")
	case !e.Action.Valid():
		return Errorf(EINVALID, "audit: unknown action %q", e.Action)
	case e.ObjectType == "" || e.ObjectID == "":
		return Errorf(EINVALID, "audit: object type and id required")
	case (e.Action == AuditChange || e.Action == AuditDelete) && strings.TrimSpace(e.Reason) == "":
		return Errorf(EINVALID, "audit: a %s needs a reason", e.Action)
	case (e.Action == AuditChange || e.Action == AuditDelete) && len(e.Old) == 0:
		return Errorf(EINVALID, "audit: a %s must keep the old value", e.Action)
	case (e.Action == AuditCreate || e.Action == AuditChange) && len(e.New) == 0:
		return Errorf(EINVALID, "audit: a %s needs the new value", e.Action)
	}
	if e.Batch == "" && e.BatchPrevHash != "" {
		return Errorf(EINVALID, "audit: batch_prev_hash without a batch")
	}
	if e.Batch != "" && e.BatchPrevHash != "" && !sigHashRE.MatchString(e.BatchPrevHash) {
		return Errorf(EINVALID, "audit: batch_prev_hash must be 64 lower-case hex digits")
	}
	for _, raw := range []json.RawMessage{e.Old, e.New} {
		if len(raw) > 0 && !json.Valid(raw) {
			return Errorf(EINVALID, "audit: old and new must be JSON")
		}
	}
	return nil
}

// Canonical returns the bytes the entry's Hash is computed over.
//
// Canonical encoding, version 1. One line per field, "name=value\n", in this
// order, after the first line "pilotline.audit/v1\n":
//
//	seq, time, actor, action, object_type, object_id, batch, batch_prev_hash, old, new, reason, prev_hash
//
// Values: integers in decimal; strings as JSON string literals in which only
// '"' and '\' are escaped with a backslash and bytes below 0x20 as \u00xx
// (lower-case hex), every other character as its UTF-8 bytes (invalid UTF-8
// becomes U+FFFD); times as a string of the UTC time in RFC 3339 with
// nanoseconds, trailing zeros dropped ("" for the zero time); old and new as
// canonical JSON: no insignificant white space, object keys sorted by their
// UTF-8 bytes, strings as above, numbers exactly as written, and "null" when
// absent.
func (e AuditEntry) Canonical() ([]byte, error) {
	var c canonEncoder
	c.tag("pilotline.audit/v1")
	c.uint("seq", e.Seq)
	c.time("time", e.Time)
	c.str("actor", e.Actor)
	c.str("action", string(e.Action))
	c.str("object_type", e.ObjectType)
	c.str("object_id", e.ObjectID)
	c.str("batch", e.Batch)
	c.str("batch_prev_hash", e.BatchPrevHash)
	if err := c.rawJSON("old", e.Old); err != nil {
		return nil, err
	}
	if err := c.rawJSON("new", e.New); err != nil {
		return nil, err
	}
	c.str("reason", e.Reason)
	c.str("prev_hash", e.PrevHash)
	return c.buf.Bytes(), nil
}

// ComputeHash returns the lower-case hex SHA-256 of the entry's canonical
// encoding. Errors: EINVALID (old or new is not JSON).
func (e AuditEntry) ComputeHash() (string, error) {
	b, err := e.Canonical()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// ChainHead identifies the last entry of an audit chain. The zero value is
// the empty chain.
type ChainHead struct {
	Seq  uint64    `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time,omitzero"`
}

// Head returns the chain head that e is (once appended).
func (e AuditEntry) Head() ChainHead { return ChainHead{Seq: e.Seq, Hash: e.Hash, Time: e.Time} }

// hashOrGenesis is what the next entry's PrevHash must be.
func (h ChainHead) hashOrGenesis() string {
	if h.Seq == 0 {
		return AuditGenesisHash
	}
	return h.Hash
}

// Next chains e after h: it sets Seq, PrevHash and Hash and returns the
// entry ready to store. The caller sets BatchPrevHash for an entry of a
// batch (left empty it means the batch's first entry).
// Errors: EINVALID (see AuditEntry.Validate).
func (h ChainHead) Next(e AuditEntry) (AuditEntry, error) {
	if err := e.Validate(); err != nil {
		return AuditEntry{}, err
	}
	if e.Batch != "" && e.BatchPrevHash == "" {
		e.BatchPrevHash = AuditGenesisHash
	}
	e.Seq = h.Seq + 1
	e.PrevHash = h.hashOrGenesis()
	var err error
	if e.Hash, err = e.ComputeHash(); err != nil {
		return AuditEntry{}, err
	}
	return e, nil
}

// AuditChainError names the first entry at which an audit chain is broken.
// It unwraps to an *Error with code ECONFLICT.
type AuditChainError struct {
	Seq    uint64 // entry at which the break was found
	Reason string
}

// Error implements error.
func (e *AuditChainError) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", e.Seq, e.Reason)
}

// Unwrap lets ErrorCode report ECONFLICT for a broken chain.
func (e *AuditChainError) Unwrap() error { return &Error{Code: ECONFLICT, Message: e.Error()} }

// VerifyChain walks a whole chain from its first entry and returns its head.
// A tampered chain returns an *AuditChainError naming the seq and why;
// an error from the iterator is returned wrapped.
//
// Deleting entries from the end cannot be seen from the entries alone:
// compare the returned head with a head recorded elsewhere (a bundle, a
// signature's audit entry, a previous verification).
func VerifyChain(entries iter.Seq2[AuditEntry, error]) (ChainHead, error) {
	return VerifyChainFrom(ChainHead{}, entries)
}

// VerifyChainFrom is VerifyChain for the entries that follow start (a head
// verified before, or the zero ChainHead for the whole chain).
func VerifyChainFrom(start ChainHead, entries iter.Seq2[AuditEntry, error]) (ChainHead, error) {
	head := start
	for e, err := range entries {
		if err != nil {
			return head, fmt.Errorf("verify audit chain after seq %d: %w", head.Seq, err)
		}
		if err := CheckLink(head, e); err != nil {
			return head, err
		}
		head = e.Head()
	}
	return head, nil
}

// CheckLink checks e on its own (its hash) and as the successor of prev.
// Errors: *AuditChainError naming what is wrong.
func CheckLink(prev ChainHead, e AuditEntry) error {
	want, err := e.ComputeHash()
	switch {
	case err != nil:
		return &AuditChainError{Seq: e.Seq, Reason: "old/new value is not valid JSON (entry altered)"}
	case want != e.Hash:
		return &AuditChainError{Seq: e.Seq, Reason: "content does not match its hash (entry altered)"}
	case e.Seq <= prev.Seq:
		return &AuditChainError{Seq: e.Seq, Reason: fmt.Sprintf("follows seq %d (entries reordered or duplicated)", prev.Seq)}
	case e.Seq > prev.Seq+1:
		return &AuditChainError{Seq: e.Seq, Reason: fmt.Sprintf("follows seq %d: seq %d..%d missing (entries deleted or moved)", prev.Seq, prev.Seq+1, e.Seq-1)}
	case e.PrevHash != prev.hashOrGenesis():
		return &AuditChainError{Seq: e.Seq, Reason: fmt.Sprintf("prev_hash does not match the hash of seq %d (that entry was altered or replaced)", prev.Seq)}
	}
	return nil
}

// AuditEntries adapts a slice to the iterator VerifyChain takes.
func AuditEntries(entries []AuditEntry) iter.Seq2[AuditEntry, error] {
	return func(yield func(AuditEntry, error) bool) {
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// AuditFilter selects audit entries. Zero fields match everything.
type AuditFilter struct {
	Batch      string
	ObjectType string
	ObjectID   string
	FromSeq    uint64 // inclusive
}

// AuditService is the append-only, hash-chained audit trail.
type AuditService interface {
	// AppendAudit chains e after the current head (ChainHead.Next), with
	// BatchPrevHash set from the batch's last entry, and stores it in the
	// same transaction, so concurrent appends never fork either chain.
	// Errors: EINVALID.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// AuditHead returns the head of the chain (zero for an empty trail).
	AuditHead(ctx context.Context) (ChainHead, error)
	// AuditEntries yields entries matching f in seq order.
	AuditEntries(ctx context.Context, f AuditFilter) iter.Seq2[AuditEntry, error]
}

// canonEncoder writes the line-per-field canonical encoding documented on
// AuditEntry.Canonical, into a buffer or straight into a hash.
type canonEncoder struct {
	buf bytes.Buffer
	h   hash.Hash // when set, lines go to h and buf is reused per line
	tmp []byte
}

func (c *canonEncoder) line(name string, value func(b []byte) []byte) {
	b := c.tmp[:0]
	b = append(b, name...)
	b = append(b, '=')
	b = value(b)
	b = append(b, '\n')
	if c.h != nil {
		c.h.Write(b)
	} else {
		c.buf.Write(b)
	}
	c.tmp = b
}

// tag writes the encoding's version line.
func (c *canonEncoder) tag(s string) {
	c.line(s, func(b []byte) []byte { return b[:len(b)-1] }) // no "=" after a tag
}

func (c *canonEncoder) str(name, v string) {
	c.line(name, func(b []byte) []byte { return canonAppendString(b, v) })
}

func (c *canonEncoder) uint(name string, v uint64) {
	c.line(name, func(b []byte) []byte { return strconv.AppendUint(b, v, 10) })
}

func (c *canonEncoder) int(name string, v int) {
	c.line(name, func(b []byte) []byte { return strconv.AppendInt(b, int64(v), 10) })
}

// float writes the shortest decimal that reads back as v ('g' format).
func (c *canonEncoder) float(name string, v float64) {
	c.line(name, func(b []byte) []byte { return strconv.AppendFloat(b, v, 'g', -1, 64) })
}

func (c *canonEncoder) bool(name string, v bool) {
	c.line(name, func(b []byte) []byte { return strconv.AppendBool(b, v) })
}

func (c *canonEncoder) time(name string, t time.Time) {
	c.str(name, canonTime(t))
}

func (c *canonEncoder) rawJSON(name string, raw json.RawMessage) error {
	var v any
	if len(raw) > 0 {
		if !json.Valid(raw) { // also rejects trailing data after the first value
			return Errorf(EINVALID, "audit: %s is not JSON", name)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return Errorf(EINVALID, "audit: %s is not JSON: %v", name, err)
		}
	}
	c.line(name, func(b []byte) []byte { return canonAppendJSON(b, v) })
	return nil
}

func canonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func canonAppendString(b []byte, s string) []byte {
	const hexdig = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = utf8.AppendRune(b, utf8.RuneError)
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexdig[r>>4], hexdig[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func canonAppendJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case json.Number:
		return append(b, v...)
	case string:
		return canonAppendString(b, v)
	case []any:
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = canonAppendJSON(b, x)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = canonAppendString(b, k)
			b = append(b, ':')
			b = canonAppendJSON(b, v[k])
		}
		return append(b, '}')
	}
	panic(fmt.Sprintf("canonical JSON: unexpected %T", v)) // json.Decoder with UseNumber yields only the types above
}
