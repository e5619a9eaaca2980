package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// OrgService stores customer organisations keyed by their slug.
type OrgService struct{ db *DB }

var _ mes.OrgService = (*OrgService)(nil)

// NewOrgService returns the organisation service on db.
func NewOrgService(db *DB) *OrgService { return &OrgService{db: db} }

// CreateOrg implements mes.OrgService.
func (s *OrgService) CreateOrg(ctx context.Context, o *mes.Org) error {
	if err := o.Validate(); err != nil {
		return err
	}
	no := *o
	no.Created = s.db.wallNow().UTC()
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOrgs)
		if b.Get([]byte(no.ID)) != nil {
			return mes.Errorf(mes.ECONFLICT, "org %q exists", no.ID)
		}
		return putJSON(b, []byte(no.ID), &no)
	})
	if err != nil {
		return err
	}
	*o = no
	return nil
}

// FindOrg implements mes.OrgService.
func (s *OrgService) FindOrg(ctx context.Context, id string) (*mes.Org, error) {
	var o mes.Org
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		found, err := getJSON(tx.Bucket(bucketOrgs), []byte(id), &o)
		if err == nil && !found {
			err = mes.Errorf(mes.ENOTFOUND, "org %q not found", id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// ListOrgs implements mes.OrgService.
func (s *OrgService) ListOrgs(ctx context.Context) ([]*mes.Org, error) {
	var os []*mes.Org
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		os = nil
		return tx.Bucket(bucketOrgs).ForEach(func(k, v []byte) error {
			var o mes.Org
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("decode org %q: %w", k, err)
			}
			os = append(os, &o)
			return nil
		})
	})
	return os, err
}
