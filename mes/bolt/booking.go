package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// BookingService stores bookings, writes and releases their calendar
// reservations in the same transactions as their state changes, and records
// the portal notifications those changes call for.
type BookingService struct{ db *DB }

var (
	_ mes.BookingService      = (*BookingService)(nil)
	_ mes.NotificationService = (*BookingService)(nil)
)

// NewBookingService returns the booking service on db.
func NewBookingService(db *DB) *BookingService { return &BookingService{db: db} }

// bookingID formats a booking sequence number as its id.
func bookingID(seq uint64) string { return fmt.Sprintf("BK%06d", seq) }

// bookingSeq parses a booking id; ok is false for anything not made by bookingID.
func bookingSeq(id string) (uint64, bool) {
	if len(id) < 8 || id[:2] != "BK" {
		return 0, false
	}
	n, err := strconv.ParseUint(id[2:], 10, 64)
	if err != nil || n == 0 || bookingID(n) != id {
		return 0, false
	}
	return n, true
}

// CreateBooking implements mes.BookingService. State, quote, reservation,
// batch and transitions the caller sets are replaced: a new booking is
// requested, by its requester.
func (s *BookingService) CreateBooking(ctx context.Context, b *mes.Booking) error {
	if b == nil {
		return mes.Errorf(mes.EINVALID, "booking: missing")
	}
	if err := b.Validate(); err != nil {
		return err
	}
	nb := *b
	nb.Created = s.db.lineNow().UTC()
	nb.State = mes.BookingRequested
	nb.Quote, nb.Reservation, nb.Batch = nil, "", ""
	nb.EarliestStart, nb.Deadline = nb.EarliestStart.UTC(), nb.Deadline.UTC()
	nb.Transitions = []mes.BookingTransition{{To: mes.BookingRequested, By: nb.RequestedBy, At: nb.Created}}
	if nb.Spec != nil {
		// A new bur type is the booking organisation's design.
		spec := *nb.Spec
		spec.Org = nb.Org
		nb.Spec = &spec
	}
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		p, err := findProduct(tx, nb.Product)
		if err == nil && nb.Spec == nil && !p.VisibleTo(nb.Org) {
			// Another organisation's design: to this one it does not exist.
			err = mes.Errorf(mes.ENOTFOUND, "product %q not found", nb.Product)
		}
		switch {
		case nb.Spec == nil && mes.ErrorCode(err) == mes.ENOTFOUND:
			return mes.Errorf(mes.EINVALID, "product: unknown product %q (send a spec for a new bur type)", nb.Product)
		case nb.Spec != nil && err == nil:
			return mes.Errorf(mes.EINVALID, "spec.iso: product %s exists; book it without a spec", nb.Product)
		case nb.Spec == nil && err != nil:
			return err
		case nb.Spec == nil:
			if err := nb.CheckProduct(p); err != nil {
				return err
			}
		}
		bk := tx.Bucket(bucketBookings)
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		nb.ID = bookingID(seq)
		return putJSON(bk, u64(seq), &nb)
	})
	if err != nil {
		return err
	}
	*b = nb
	return nil
}

// FindBooking implements mes.BookingService.
func (s *BookingService) FindBooking(ctx context.Context, id string) (*mes.Booking, error) {
	var b *mes.Booking
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		b, _, err = findBooking(tx, id)
		return err
	})
	return b, err
}

func findBooking(tx *bbolt.Tx, id string) (*mes.Booking, uint64, error) {
	seq, ok := bookingSeq(id)
	var b mes.Booking
	if ok {
		found, err := getJSON(tx.Bucket(bucketBookings), u64(seq), &b)
		if err != nil {
			return nil, 0, err
		}
		ok = found
	}
	if !ok {
		return nil, 0, mes.Errorf(mes.ENOTFOUND, "booking %q not found", id)
	}
	return &b, seq, nil
}

// ListBookings implements mes.BookingService.
func (s *BookingService) ListBookings(ctx context.Context, f mes.BookingFilter) ([]*mes.Booking, error) {
	var bs []*mes.Booking
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketBookings).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var b mes.Booking
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("decode booking %d: %w", getU64(k), err)
			}
			if f.Match(&b) {
				bs = append(bs, &b)
			}
		}
		return nil
	})
	return bs, err
}

// ChangeBooking implements mes.BookingService. A zero ch.At means now.
func (s *BookingService) ChangeBooking(ctx context.Context, id string, ch mes.BookingChange) (*mes.Booking, error) {
	if ch.At.IsZero() {
		ch.At = s.db.lineNow()
	}
	ch.At = ch.At.UTC()
	var b *mes.Booking
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		var seq uint64
		var err error
		if b, seq, err = findBooking(tx, id); err != nil {
			return err
		}
		if err := b.Apply(ch); err != nil {
			return err
		}
		switch ch.To {
		case mes.BookingAccepted:
			w := b.Quote.Window()
			for _, g := range b.Quote.Groups {
				if other, ok := firstOverlap(tx, g, w.Start, w.End); ok {
					return mes.Errorf(mes.ECONFLICT, "booking %s: the quoted window is no longer free (group %s taken from %s to %s); ask for a new quote",
						b.ID, g, other.Start.Format(time.RFC3339), other.End.Format(time.RFC3339))
				}
			}
		case mes.BookingConfirmed:
			q := b.Quote
			r := &mes.Reservation{Kind: mes.ReservationBooking, Groups: q.Groups, Start: q.Start, End: q.End,
				SetupBefore: mes.Seconds(q.SetupS), SetupAfter: mes.Seconds(q.ChangeoverS),
				Booking: b.ID, Org: b.Org, Product: b.Product, By: ch.By, Created: ch.At}
			if err := r.Validate(nil); err != nil {
				return err
			}
			if err := reserveTx(tx, r); err != nil {
				return fmt.Errorf("booking %s: %w", b.ID, err)
			}
			b.Reservation = r.ID
		case mes.BookingCancelled, mes.BookingDeclined, mes.BookingExpired:
			if b.Reservation != "" {
				if err := releaseTx(tx, b.Reservation); err != nil {
					return err
				}
				b.Reservation = ""
			}
		}
		if err := putJSON(tx.Bucket(bucketBookings), u64(seq), b); err != nil {
			return err
		}
		if n := mes.BookingNotice(b); n != nil {
			return putNotification(tx, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func putNotification(tx *bbolt.Tx, n *mes.Notification) error {
	bk := tx.Bucket(bucketNotifications)
	seq, err := bk.NextSequence()
	if err != nil {
		return err
	}
	n.ID = fmt.Sprintf("N%06d", seq)
	if err := putJSON(bk, u64(seq), n); err != nil {
		return err
	}
	return tx.Bucket(bucketNotificationsByOrg).Put(cat([]byte(n.Org), []byte{sep}, u64(seq)), nil)
}

// ListNotifications implements mes.NotificationService.
func (s *BookingService) ListNotifications(ctx context.Context, org string, limit int) ([]*mes.Notification, error) {
	if limit <= 0 {
		return nil, mes.Errorf(mes.EINVALID, "limit: must be > 0")
	}
	var out []*mes.Notification
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketNotifications)
		add := func(seq []byte) error {
			var n mes.Notification
			if found, err := getJSON(bk, seq, &n); err != nil || !found {
				return err
			}
			out = append(out, &n)
			return nil
		}
		if org == "" {
			c := bk.Cursor()
			for k, _ := c.Last(); k != nil && len(out) < limit; k, _ = c.Prev() {
				if err := add(k); err != nil {
					return err
				}
			}
			return nil
		}
		prefix := cat([]byte(org), []byte{sep})
		c := tx.Bucket(bucketNotificationsByOrg).Cursor()
		// Newest first: start just past the org's last key and walk back.
		k, _ := c.Seek(cat([]byte(org), []byte{sep + 1}))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && len(out) < limit; k, _ = c.Prev() {
			if len(k) != len(prefix)+8 || string(k[:len(prefix)]) != string(prefix) {
				break
			}
			if err := add(k[len(prefix):]); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
