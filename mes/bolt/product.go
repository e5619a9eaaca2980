package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// ProductService stores products keyed by their ISO 6360 number.
type ProductService struct{ db *DB }

var _ mes.ProductService = (*ProductService)(nil)

// NewProductService returns the product service on db.
func NewProductService(db *DB) *ProductService { return &ProductService{db: db} }

// CreateProduct implements mes.ProductService.
func (s *ProductService) CreateProduct(ctx context.Context, p *mes.Product) error {
	if p == nil {
		return mes.Errorf(mes.EINVALID, "product: missing")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	return s.db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketProducts)
		if b.Get([]byte(p.ISO)) != nil {
			return mes.Errorf(mes.ECONFLICT, "product %s exists", p.ISO)
		}
		return putJSON(b, []byte(p.ISO), p)
	})
}

// FindProduct implements mes.ProductService.
func (s *ProductService) FindProduct(ctx context.Context, iso string) (*mes.Product, error) {
	var p *mes.Product
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		p, err = findProduct(tx, iso)
		return err
	})
	return p, err
}

func findProduct(tx *bbolt.Tx, iso string) (*mes.Product, error) {
	var p mes.Product
	found, err := getJSON(tx.Bucket(bucketProducts), []byte(iso), &p)
	if err != nil {
		return nil, err
	} else if !found {
		return nil, mes.Errorf(mes.ENOTFOUND, "product %q not found", iso)
	}
	return &p, nil
}

// ListProducts implements mes.ProductService.
func (s *ProductService) ListProducts(ctx context.Context) ([]*mes.Product, error) {
	var ps []*mes.Product
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketProducts).ForEach(func(k, v []byte) error {
			var p mes.Product
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("decode product %q: %w", k, err)
			}
			ps = append(ps, &p)
			return nil
		})
	})
	return ps, err
}
