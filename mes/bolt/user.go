package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// storedUser is a user as stored: mes.User keeps its password hash out of
// JSON so it never reaches an API response; the store needs it.
type storedUser struct {
	mes.User
	PasswordHash string `json:"password_hash"`
}

func (su *storedUser) user() *mes.User {
	u := su.User
	u.PasswordHash = su.PasswordHash
	return &u
}

// UserService stores users keyed by their login name.
type UserService struct{ db *DB }

var _ mes.UserService = (*UserService)(nil)

// NewUserService returns the user service on db.
func NewUserService(db *DB) *UserService { return &UserService{db: db} }

// CreateUser implements mes.UserService. A customer's organisation must exist.
func (s *UserService) CreateUser(ctx context.Context, u *mes.User) error {
	return s.create(ctx, u, false)
}

// CreateFirstAdmin implements mes.UserService.
func (s *UserService) CreateFirstAdmin(ctx context.Context, u *mes.User) error {
	if u != nil && u.Role != mes.RoleAdmin {
		return mes.Errorf(mes.EINVALID, "role: the first user is an admin")
	}
	return s.create(ctx, u, true)
}

func (s *UserService) create(ctx context.Context, u *mes.User, onlyFirstAdmin bool) error {
	if err := u.Validate(); err != nil {
		return err
	}
	nu := *u
	nu.Created = s.db.wallNow().UTC()
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if onlyFirstAdmin {
			admin, err := anyAdmin(b)
			if err != nil {
				return err
			}
			if admin {
				return mes.Errorf(mes.ECONFLICT, "setup: an admin exists already")
			}
		}
		if b.Get([]byte(nu.ID)) != nil {
			return mes.Errorf(mes.ECONFLICT, "user %q exists", nu.ID)
		}
		if nu.Org != "" && tx.Bucket(bucketOrgs).Get([]byte(nu.Org)) == nil {
			return mes.Errorf(mes.EINVALID, "org: no organisation %q", nu.Org)
		}
		return putJSON(b, []byte(nu.ID), &storedUser{User: nu, PasswordHash: nu.PasswordHash})
	})
	if err != nil {
		return err
	}
	*u = nu
	return nil
}

func anyAdmin(b *bbolt.Bucket) (bool, error) {
	found := false
	err := b.ForEach(func(k, v []byte) error {
		var su storedUser
		if err := json.Unmarshal(v, &su); err != nil {
			return fmt.Errorf("decode user %q: %w", k, err)
		}
		found = found || su.Role == mes.RoleAdmin
		return nil
	})
	return found, err
}

// FindUser implements mes.UserService.
func (s *UserService) FindUser(ctx context.Context, id string) (*mes.User, error) {
	var u *mes.User
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		u, err = findUser(tx, id)
		return err
	})
	return u, err
}

func findUser(tx *bbolt.Tx, id string) (*mes.User, error) {
	var su storedUser
	found, err := getJSON(tx.Bucket(bucketUsers), []byte(id), &su)
	if err != nil {
		return nil, err
	} else if !found {
		return nil, mes.Errorf(mes.ENOTFOUND, "user %q not found", id)
	}
	return su.user(), nil
}

// ListUsers implements mes.UserService.
func (s *UserService) ListUsers(ctx context.Context, f mes.UserFilter) ([]*mes.User, error) {
	var us []*mes.User
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		us = nil
		return tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			var su storedUser
			if err := json.Unmarshal(v, &su); err != nil {
				return fmt.Errorf("decode user %q: %w", k, err)
			}
			if (f.Org == "" || su.Org == f.Org) && (f.Role == "" || su.Role == f.Role) {
				us = append(us, su.user())
			}
			return nil
		})
	})
	return us, err
}

// UpdateUser implements mes.UserService. The id and creation time cannot
// change; a customer's new organisation must exist.
func (s *UserService) UpdateUser(ctx context.Context, id string, fn func(u *mes.User) error) (*mes.User, error) {
	var out *mes.User
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		u, err := findUser(tx, id)
		if err != nil {
			return err
		}
		created := u.Created
		if err := fn(u); err != nil {
			return err
		}
		u.ID, u.Created = id, created
		if err := u.Validate(); err != nil {
			return err
		}
		if u.Org != "" && tx.Bucket(bucketOrgs).Get([]byte(u.Org)) == nil {
			return mes.Errorf(mes.EINVALID, "org: no organisation %q", u.Org)
		}
		out = u
		return putJSON(tx.Bucket(bucketUsers), []byte(id), &storedUser{User: *u, PasswordHash: u.PasswordHash})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
