package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// SessionService stores browser sessions keyed by the hash of their id.
type SessionService struct{ db *DB }

var _ mes.SessionService = (*SessionService)(nil)

// NewSessionService returns the session service on db.
func NewSessionService(db *DB) *SessionService { return &SessionService{db: db} }

// CreateSession implements mes.SessionService. Sessions are few (one per
// signed-in browser), so dropping the expired ones at each login keeps the
// bucket small without a background sweeper.
func (s *SessionService) CreateSession(ctx context.Context, ss *mes.Session) error {
	switch {
	case ss == nil || len(ss.IDHash) != 64:
		return mes.Errorf(mes.EINVALID, "session: id hash required")
	case ss.User == "" || ss.CSRF == "":
		return mes.Errorf(mes.EINVALID, "session: user and csrf token required")
	case !ss.Expires.After(ss.Created):
		return mes.Errorf(mes.EINVALID, "session: expires must be after created")
	}
	return s.db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		var expired [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var old mes.Session
			if err := json.Unmarshal(v, &old); err != nil {
				return fmt.Errorf("decode session: %w", err)
			}
			if !ss.Created.Before(old.Expires) {
				expired = append(expired, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return putJSON(b, []byte(ss.IDHash), ss)
	})
}

// FindSession implements mes.SessionService.
func (s *SessionService) FindSession(ctx context.Context, idHash string, now time.Time) (*mes.Session, error) {
	var ss mes.Session
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		found, err := getJSON(tx.Bucket(bucketSessions), []byte(idHash), &ss)
		if err == nil && (!found || !now.Before(ss.Expires)) {
			err = mes.Errorf(mes.ENOTFOUND, "session not found or expired")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ss, nil
}

// DeleteSession implements mes.SessionService.
func (s *SessionService) DeleteSession(ctx context.Context, idHash string) error {
	return s.db.update(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSessions).Delete([]byte(idHash))
	})
}

// DeleteUserSessions implements mes.SessionService.
func (s *SessionService) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	n := 0
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		var keys [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var ss mes.Session
			if err := json.Unmarshal(v, &ss); err != nil {
				return fmt.Errorf("decode session: %w", err)
			}
			if ss.User == user {
				keys = append(keys, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	return n, err
}
