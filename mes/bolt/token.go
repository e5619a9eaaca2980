package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// storedToken is a token as stored: mes.APIToken keeps its hash out of JSON.
type storedToken struct {
	mes.APIToken
	Hash string `json:"hash"`
}

func (st *storedToken) token() *mes.APIToken {
	t := st.APIToken
	t.Hash = st.Hash
	return &t
}

// TokenService stores API bearer tokens.
type TokenService struct{ db *DB }

var _ mes.TokenService = (*TokenService)(nil)

// NewTokenService returns the token service on db.
func NewTokenService(db *DB) *TokenService { return &TokenService{db: db} }

func tokenID(seq uint64) string { return fmt.Sprintf("T%06d", seq) }

func tokenSeq(id string) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimPrefix(id, "T"), 10, 64)
	if err != nil || n == 0 || tokenID(n) != id {
		return 0, false
	}
	return n, true
}

// CreateToken implements mes.TokenService.
func (s *TokenService) CreateToken(ctx context.Context, t *mes.APIToken) error {
	switch {
	case t == nil || len(t.Hash) != 64:
		return mes.Errorf(mes.EINVALID, "token: hash required")
	case t.User == "":
		return mes.Errorf(mes.EINVALID, "token: user required")
	}
	nt := *t
	nt.Created = s.db.wallNow().UTC()
	nt.Revoked = time.Time{}
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(nt.User)) == nil {
			return mes.Errorf(mes.EINVALID, "token: no user %q", nt.User)
		}
		byHash := tx.Bucket(bucketTokensByHash)
		if byHash.Get([]byte(nt.Hash)) != nil {
			return mes.Errorf(mes.ECONFLICT, "token: exists")
		}
		b := tx.Bucket(bucketTokens)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		nt.ID = tokenID(seq)
		if err := byHash.Put([]byte(nt.Hash), u64(seq)); err != nil {
			return err
		}
		return putJSON(b, u64(seq), &storedToken{APIToken: nt, Hash: nt.Hash})
	})
	if err != nil {
		return err
	}
	*t = nt
	return nil
}

func findToken(tx *bbolt.Tx, seq uint64, id string) (*mes.APIToken, error) {
	var st storedToken
	found, err := getJSON(tx.Bucket(bucketTokens), u64(seq), &st)
	if err != nil {
		return nil, err
	} else if !found {
		return nil, mes.Errorf(mes.ENOTFOUND, "token %q not found", id)
	}
	return st.token(), nil
}

// FindTokenByHash implements mes.TokenService. Revoked tokens have left
// the hash index, so they are not found.
func (s *TokenService) FindTokenByHash(ctx context.Context, hash string) (*mes.APIToken, error) {
	var t *mes.APIToken
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketTokensByHash).Get([]byte(hash))
		if len(v) != 8 {
			return mes.Errorf(mes.ENOTFOUND, "token not found")
		}
		var err error
		t, err = findToken(tx, getU64(v), "")
		return err
	})
	return t, err
}

// FindToken implements mes.TokenService.
func (s *TokenService) FindToken(ctx context.Context, id string) (*mes.APIToken, error) {
	seq, ok := tokenSeq(id)
	if !ok {
		return nil, mes.Errorf(mes.ENOTFOUND, "token %q not found", id)
	}
	var t *mes.APIToken
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		t, err = findToken(tx, seq, id)
		return err
	})
	return t, err
}

// ListTokens implements mes.TokenService.
func (s *TokenService) ListTokens(ctx context.Context, user string) ([]*mes.APIToken, error) {
	var ts []*mes.APIToken
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		ts = nil
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			var st storedToken
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("decode token %d: %w", getU64(k), err)
			}
			if user == "" || st.User == user {
				ts = append(ts, st.token())
			}
			return nil
		})
	})
	return ts, err
}

// RevokeToken implements mes.TokenService.
func (s *TokenService) RevokeToken(ctx context.Context, id string, at time.Time) (*mes.APIToken, error) {
	seq, ok := tokenSeq(id)
	if !ok {
		return nil, mes.Errorf(mes.ENOTFOUND, "token %q not found", id)
	}
	var t *mes.APIToken
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		if t, err = findToken(tx, seq, id); err != nil {
			return err
		}
		if !t.Revoked.IsZero() {
			return mes.Errorf(mes.ECONFLICT, "token %s was revoked already", id)
		}
		t.Revoked = at.UTC()
		if err := tx.Bucket(bucketTokensByHash).Delete([]byte(t.Hash)); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketTokens), u64(seq), &storedToken{APIToken: *t, Hash: t.Hash})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}
