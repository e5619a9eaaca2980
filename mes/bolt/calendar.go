package bolt

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// CalendarService is the capacity calendar on bbolt. Reservations are
// indexed by group and blocked start, so the overlap check of a new one is a
// seek and a short cursor scan per group, inside the write transaction that
// stores it.
type CalendarService struct {
	db   *DB
	line *mes.LineConfig
}

var _ mes.CalendarService = (*CalendarService)(nil)

// NewCalendarService returns the calendar on db. line, if not nil, checks
// reservation groups and gives "the whole line" its groups.
func NewCalendarService(db *DB, line *mes.LineConfig) *CalendarService {
	return &CalendarService{db: db, line: line}
}

// reservationID formats a reservation sequence number as its id.
func reservationID(seq uint64) string { return fmt.Sprintf("R%06d", seq) }

// reservationSeq parses a reservation id; ok is false for anything else.
func reservationSeq(id string) (uint64, bool) {
	if len(id) < 7 || id[0] != 'R' {
		return 0, false
	}
	n, err := strconv.ParseUint(id[1:], 10, 64)
	if err != nil || n == 0 || reservationID(n) != id {
		return 0, false
	}
	return n, true
}

func groupPrefix(group string) []byte { return append([]byte(group), sep) }

func reservationIndexKey(group string, start time.Time, seq uint64) []byte {
	return cat(groupPrefix(group), t64(start), u64(seq))
}

// Reserve implements mes.CalendarService.
func (s *CalendarService) Reserve(ctx context.Context, r *mes.Reservation) error {
	if r == nil {
		return mes.Errorf(mes.EINVALID, "reservation: missing")
	}
	nr := *r
	nr.Groups = append([]string(nil), r.Groups...)
	nr.Created = s.db.lineNow().UTC()
	if err := nr.Validate(s.line); err != nil {
		return err
	}
	if err := s.db.update(ctx, func(tx *bbolt.Tx) error { return reserveTx(tx, &nr) }); err != nil {
		return err
	}
	*r = nr
	return nil
}

// reserveTx checks that r's blocked window is free on each of its groups
// and stores it, assigning its ID. Errors: ECONFLICT naming the window it
// meets.
//
// IMPORTANT: check and write share tx, and bbolt has one writer at a time,
// so two overlapping reservations can never both be stored.
func reserveTx(tx *bbolt.Tx, r *mes.Reservation) error {
	bs, be := r.BlockedStart(), r.BlockedEnd()
	for _, g := range r.Groups {
		if other, ok := firstOverlap(tx, g, bs, be); ok {
			return mes.Errorf(mes.ECONFLICT, "calendar: group %s is taken from %s to %s", g,
				other.Start.UTC().Format(time.RFC3339), other.End.UTC().Format(time.RFC3339))
		}
	}
	bk := tx.Bucket(bucketReservations)
	seq, err := bk.NextSequence()
	if err != nil {
		return err
	}
	r.ID = reservationID(seq)
	if err := putJSON(bk, u64(seq), r); err != nil {
		return err
	}
	idx := tx.Bucket(bucketReservationsByGroup)
	for _, g := range r.Groups {
		if err := idx.Put(reservationIndexKey(g, bs, seq), t64(be)); err != nil {
			return err
		}
	}
	return nil
}

// scanGroup calls fn for each blocked window of group overlapping [from, to),
// in start order, until fn returns false.
func scanGroup(tx *bbolt.Tx, group string, from, to time.Time, fn func(iv mes.Interval, seq uint64) bool) {
	prefix := groupPrefix(group)
	c := tx.Bucket(bucketReservationsByGroup).Cursor()
	k, v := c.Seek(cat(prefix, t64(from)))
	// The one entry before from may reach into the window; none earlier can
	// (windows of a group never overlap).
	pk, pv := k, v
	if pk == nil {
		pk, pv = c.Last()
	} else {
		pk, pv = c.Prev()
	}
	if pk != nil && bytes.HasPrefix(pk, prefix) && len(pk) == len(prefix)+16 {
		if end := getT64(pv); end.After(from) {
			if !fn(mes.Interval{Start: getT64(pk[len(prefix):]), End: end}, getU64(pk[len(prefix)+8:])) {
				return
			}
		}
	}
	if pk != nil || k != nil {
		k, v = c.Seek(cat(prefix, t64(from)))
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+16; k, v = c.Next() {
		start := getT64(k[len(prefix):])
		if !start.Before(to) {
			return
		}
		if !fn(mes.Interval{Start: start, End: getT64(v)}, getU64(k[len(prefix)+8:])) {
			return
		}
	}
}

// firstOverlap returns the first blocked window of group overlapping [from, to).
func firstOverlap(tx *bbolt.Tx, group string, from, to time.Time) (mes.Interval, bool) {
	var got mes.Interval
	found := false
	scanGroup(tx, group, from, to, func(iv mes.Interval, _ uint64) bool {
		got, found = iv, true
		return false
	})
	return got, found
}

// releaseTx deletes a reservation and its index entries; a missing one is no error.
func releaseTx(tx *bbolt.Tx, id string) error {
	seq, ok := reservationSeq(id)
	if !ok {
		return nil
	}
	var r mes.Reservation
	bk := tx.Bucket(bucketReservations)
	if found, err := getJSON(bk, u64(seq), &r); err != nil || !found {
		return err
	}
	idx := tx.Bucket(bucketReservationsByGroup)
	for _, g := range r.Groups {
		if err := idx.Delete(reservationIndexKey(g, r.BlockedStart(), seq)); err != nil {
			return err
		}
	}
	return bk.Delete(u64(seq))
}

// Unreserve implements mes.CalendarService.
func (s *CalendarService) Unreserve(ctx context.Context, id string) error {
	return s.db.update(ctx, func(tx *bbolt.Tx) error {
		seq, ok := reservationSeq(id)
		var r mes.Reservation
		if ok {
			found, err := getJSON(tx.Bucket(bucketReservations), u64(seq), &r)
			if err != nil {
				return err
			}
			ok = found
		}
		if !ok {
			return mes.Errorf(mes.ENOTFOUND, "reservation %q not found", id)
		}
		if r.Kind == mes.ReservationBooking {
			return mes.Errorf(mes.ECONFLICT, "reservation %s belongs to booking %s: cancel the booking instead", id, r.Booking)
		}
		return releaseTx(tx, id)
	})
}

// Reservations implements mes.CalendarService.
func (s *CalendarService) Reservations(ctx context.Context, from, to time.Time) ([]*mes.Reservation, error) {
	if !from.Before(to) {
		return nil, mes.Errorf(mes.EINVALID, "calendar: from must be before to")
	}
	var out []*mes.Reservation
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		seen := map[uint64]bool{}
		var seqs []uint64
		for _, g := range indexGroups(tx) {
			scanGroup(tx, g, from, to, func(_ mes.Interval, seq uint64) bool {
				if !seen[seq] {
					seen[seq] = true
					seqs = append(seqs, seq)
				}
				return true
			})
		}
		bk := tx.Bucket(bucketReservations)
		for _, seq := range seqs {
			var r mes.Reservation
			if found, err := getJSON(bk, u64(seq), &r); err != nil {
				return err
			} else if found {
				out = append(out, &r)
			}
		}
		return nil
	})
	sortReservations(out)
	return out, err
}

// indexGroups lists the groups that have reservations, hopping from one
// group's prefix to the next instead of reading every entry.
func indexGroups(tx *bbolt.Tx) []string {
	var groups []string
	c := tx.Bucket(bucketReservationsByGroup).Cursor()
	for k, _ := c.First(); k != nil; {
		i := bytes.IndexByte(k, sep)
		if i < 0 {
			k, _ = c.Next()
			continue
		}
		g := string(k[:i])
		groups = append(groups, g)
		k, _ = c.Seek(append([]byte(g), sep+1))
	}
	return groups
}

func sortReservations(rs []*mes.Reservation) {
	slices.SortFunc(rs, func(a, b *mes.Reservation) int {
		if c := a.BlockedStart().Compare(b.BlockedStart()); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// Busy implements mes.CalendarService.
func (s *CalendarService) Busy(ctx context.Context, groups []string, from, to time.Time) ([]mes.Interval, error) {
	if !from.Before(to) {
		return nil, nil
	}
	var out []mes.Interval
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		gs := groups
		if len(gs) == 0 {
			gs = indexGroups(tx)
		}
		for _, g := range gs {
			scanGroup(tx, g, from, to, func(iv mes.Interval, _ uint64) bool {
				out = append(out, iv)
				return true
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return mes.MergeIntervals(out), nil
}
