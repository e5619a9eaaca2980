package mes

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Reservation kinds.
const (
	ReservationBooking     = "booking"     // a customer's confirmed run
	ReservationMaintenance = "maintenance" // blocked out by an engineer
)

// Reservation is a window of the capacity calendar during which some of the
// line's machine groups belong to one run or to maintenance. The groups are
// blocked from Start − SetupBefore to End + SetupAfter: the set-up buffers
// before and after belong to the reservation too.
//
// IMPORTANT: two reservations sharing a group never overlap in their blocked
// windows. The store checks and writes in one write transaction, so no
// interleaving can break this.
type Reservation struct {
	ID          string    `json:"id"` // assigned by the store, e.g. "R000001"
	Kind        string    `json:"kind"`
	Groups      []string  `json:"groups"` // machine groups, sorted; the whole line is every group
	Start       time.Time `json:"start"`  // production (or maintenance) begins
	End         time.Time `json:"end"`
	SetupBefore Seconds   `json:"setup_before_s"`
	SetupAfter  Seconds   `json:"setup_after_s"`
	Booking     string    `json:"booking,omitempty"` // ReservationBooking only
	Org         string    `json:"org,omitempty"`     // the booking's organisation
	Product     string    `json:"product,omitempty"`
	Title       string    `json:"title,omitempty"` // maintenance: what is done
	By          string    `json:"by"`
	Created     time.Time `json:"created"`
}

// Seconds is a duration carried in JSON as seconds.
type Seconds float64

// Duration converts s.
func (s Seconds) Duration() time.Duration { return time.Duration(float64(s) * float64(time.Second)) }

// BlockedStart is when the groups stop being free.
func (r *Reservation) BlockedStart() time.Time { return r.Start.Add(-r.SetupBefore.Duration()) }

// BlockedEnd is when the groups are free again.
func (r *Reservation) BlockedEnd() time.Time { return r.End.Add(r.SetupAfter.Duration()) }

// MaxReservation bounds the length of one reservation's blocked window.
const MaxReservation = 120 * 24 * time.Hour

// Validate checks the reservation against the line (nil skips the group
// check) and normalises its groups (sorted, unique; none means every group
// of the line). Errors: EINVALID naming the field.
func (r *Reservation) Validate(line *LineConfig) error {
	switch {
	case r.Kind != ReservationBooking && r.Kind != ReservationMaintenance:
		return Errorf(EINVALID, "kind: want %q or %q, got %q", ReservationBooking, ReservationMaintenance, r.Kind)
	case r.Kind == ReservationBooking && r.Booking == "":
		return Errorf(EINVALID, "booking: required for a booking reservation")
	case r.Start.IsZero() || r.End.IsZero():
		return Errorf(EINVALID, "start, end: required")
	case !r.End.After(r.Start):
		return Errorf(EINVALID, "end: must be after start")
	case r.SetupBefore < 0 || r.SetupAfter < 0:
		return Errorf(EINVALID, "setup_before_s, setup_after_s: must be ≥ 0")
	case r.BlockedEnd().Sub(r.BlockedStart()) > MaxReservation:
		return Errorf(EINVALID, "end: a reservation blocks at most %d days", int(MaxReservation.Hours()/24))
	case strings.TrimSpace(r.By) == "":
		return Errorf(EINVALID, "by: required")
	}
	if len(r.Groups) == 0 && line != nil {
		for _, g := range line.Groups {
			r.Groups = append(r.Groups, g.ID)
		}
	}
	if len(r.Groups) == 0 {
		return Errorf(EINVALID, "groups: at least one machine group")
	}
	slices.Sort(r.Groups)
	r.Groups = slices.Compact(r.Groups)
	for i, g := range r.Groups {
		if g == "" || strings.IndexByte(g, 0) >= 0 {
			return Errorf(EINVALID, "groups[%d]: bad group id %q", i, g)
		}
		if line != nil && !slices.ContainsFunc(line.Groups, func(lg Group) bool { return lg.ID == g }) {
			return Errorf(EINVALID, "groups[%d]: unknown machine group %q", i, g)
		}
	}
	return nil
}

// Interval is a half-open window of time [Start, End).
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Overlaps reports whether the two half-open windows share an instant.
func (a Interval) Overlaps(b Interval) bool { return a.Start.Before(b.End) && b.Start.Before(a.End) }

// MergeIntervals sorts the intervals by start and merges those that overlap
// or touch. The slice is reordered in place and its storage reused.
func MergeIntervals(iv []Interval) []Interval {
	slices.SortFunc(iv, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	out := iv[:0]
	for _, v := range iv {
		if n := len(out); n > 0 && !v.Start.After(out[n-1].End) {
			if v.End.After(out[n-1].End) {
				out[n-1].End = v.End
			}
			continue
		}
		out = append(out, v)
	}
	return out
}

// FitRequest asks for the earliest window of a run on the calendar.
type FitRequest struct {
	NotBefore   time.Time     // the set-up may begin no earlier
	Deadline    time.Time     // production must end by then
	SetupBefore time.Duration // blocked before production
	Run         time.Duration // production
	SetupAfter  time.Duration // blocked after production (may pass the deadline)
}

// EarliestFit returns the earliest production start s such that the blocked
// window [s − SetupBefore, s + Run + SetupAfter) meets none of busy (sorted
// and merged, see MergeIntervals) and s − SetupBefore ≥ NotBefore and
// s + Run ≤ Deadline. ok is false when no such window exists.
func EarliestFit(busy []Interval, r FitRequest) (start time.Time, ok bool) {
	need := r.SetupBefore + r.Run + r.SetupAfter
	at := r.NotBefore // candidate blocked start
	i, _ := slices.BinarySearchFunc(busy, at, func(v Interval, t time.Time) int {
		if !v.End.After(t) {
			return -1
		}
		return 1
	})
	for ; i < len(busy); i++ {
		if at.Add(r.SetupBefore + r.Run).After(r.Deadline) {
			return time.Time{}, false
		}
		if !at.Add(need).After(busy[i].Start) {
			break // fits before this busy block
		}
		if busy[i].End.After(at) {
			at = busy[i].End
		}
	}
	s := at.Add(r.SetupBefore)
	if s.Add(r.Run).After(r.Deadline) {
		return time.Time{}, false
	}
	return s, true
}

// CalendarService is the line's capacity calendar.
type CalendarService interface {
	// Reserve validates r, assigns ID and Created and stores it, unless its
	// blocked window overlaps a reservation sharing a group.
	// Errors: EINVALID, ECONFLICT (overlap, naming the other window).
	Reserve(ctx context.Context, r *Reservation) error
	// Unreserve deletes a maintenance reservation. Errors: ENOTFOUND,
	// ECONFLICT (a booking's reservation: cancel the booking instead).
	Unreserve(ctx context.Context, id string) error
	// Reservations returns the reservations whose blocked windows overlap
	// [from, to), ordered by blocked start.
	Reservations(ctx context.Context, from, to time.Time) ([]*Reservation, error)
	// Busy returns the merged blocked windows of the given groups (all
	// groups when none) that overlap [from, to).
	Busy(ctx context.Context, groups []string, from, to time.Time) ([]Interval, error)
}

// CalendarBlock is a busy or free block of the calendar as a customer sees
// it: when, which groups, and whether the run is the customer's own — never
// whose or which product.
type CalendarBlock struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Groups []string  `json:"groups,omitempty"`
	Busy   bool      `json:"busy"`
	Own    bool      `json:"own,omitempty"`
}

// CustomerView reduces reservations to busy blocks for org's users (its
// own runs marked Own) and the whole line's free blocks within [from, to).
// Busy blocks of different reservations that share groups are merged, so the
// view tells when the line is taken and nothing about by whom.
func CustomerView(rs []*Reservation, org string, from, to time.Time) (busy, free []CalendarBlock) {
	type key struct {
		groups string
		own    bool
	}
	byKey := map[key][]Interval{}
	var all []Interval
	for _, r := range rs {
		iv := Interval{Start: r.BlockedStart(), End: r.BlockedEnd()}
		if iv.Start.Before(from) {
			iv.Start = from
		}
		if iv.End.After(to) {
			iv.End = to
		}
		if !iv.Start.Before(iv.End) {
			continue
		}
		k := key{strings.Join(r.Groups, ","), r.Kind == ReservationBooking && org != "" && r.Org == org}
		byKey[k] = append(byKey[k], iv)
		all = append(all, iv)
	}
	for k, ivs := range byKey {
		for _, iv := range MergeIntervals(ivs) {
			busy = append(busy, CalendarBlock{Start: iv.Start, End: iv.End, Groups: strings.Split(k.groups, ","), Busy: true, Own: k.own})
		}
	}
	slices.SortFunc(busy, func(a, b CalendarBlock) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(strings.Join(a.Groups, ","), strings.Join(b.Groups, ","))
	})
	at := from
	for _, iv := range MergeIntervals(all) {
		if iv.Start.After(at) {
			free = append(free, CalendarBlock{Start: at, End: iv.Start})
		}
		at = iv.End
	}
	if at.Before(to) {
		free = append(free, CalendarBlock{Start: at, End: to})
	}
	return busy, free
}
