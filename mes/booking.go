package mes

import (
	"context"
	"slices"
	"strings"
	"time"
)

// BookingState is the state of a customer's booking of a pilot run.
//
//	requested → quoted → accepted → confirmed → scheduled → running → completed → delivered
//
// plus declined (by an engineer), cancelled (by the customer before the
// lock-out window, by staff at any time before the run) and expired (a quote
// or an accepted booking whose time ran out).
type BookingState string

// Booking states.
const (
	BookingRequested BookingState = "requested"
	BookingQuoted    BookingState = "quoted"
	BookingAccepted  BookingState = "accepted"  // by the customer
	BookingConfirmed BookingState = "confirmed" // by an engineer: the window is reserved on the calendar
	BookingScheduled BookingState = "scheduled" // inside the lock-out window: frozen in the line's plan
	BookingRunning   BookingState = "running"   // its batch is on the line
	BookingCompleted BookingState = "completed" // its batch completed
	BookingDelivered BookingState = "delivered"
	BookingDeclined  BookingState = "declined"
	BookingCancelled BookingState = "cancelled"
	BookingExpired   BookingState = "expired"
)

// BookingStates lists every booking state in lifecycle order.
var BookingStates = []BookingState{BookingRequested, BookingQuoted, BookingAccepted, BookingConfirmed,
	BookingScheduled, BookingRunning, BookingCompleted, BookingDelivered, BookingDeclined, BookingCancelled, BookingExpired}

// bookingTransitions lists, for each state, the states a booking may move to.
// quoted → quoted is a re-quote; scheduled → scheduled records the batch
// made for the run while it waits for an engineer to release it.
var bookingTransitions = map[BookingState][]BookingState{
	BookingRequested: {BookingQuoted, BookingDeclined, BookingCancelled},
	BookingQuoted:    {BookingQuoted, BookingAccepted, BookingDeclined, BookingCancelled, BookingExpired},
	BookingAccepted:  {BookingConfirmed, BookingDeclined, BookingCancelled, BookingExpired},
	BookingConfirmed: {BookingScheduled, BookingCancelled},
	BookingScheduled: {BookingScheduled, BookingRunning, BookingCancelled},
	BookingRunning:   {BookingCompleted},
	BookingCompleted: {BookingDelivered},
}

// Valid reports whether s is a known booking state.
func (s BookingState) Valid() bool { return slices.Contains(BookingStates, s) }

// Terminal reports whether no transition leaves s.
func (s BookingState) Terminal() bool { return s.Valid() && len(bookingTransitions[s]) == 0 }

// Reserved reports whether a booking in state s holds a window on the calendar.
func (s BookingState) Reserved() bool {
	return s == BookingConfirmed || s == BookingScheduled || s == BookingRunning
}

// CanTransitionBooking reports whether a booking may move from state from to state to.
func CanTransitionBooking(from, to BookingState) bool {
	return slices.Contains(bookingTransitions[from], to)
}

// Sampling modes of a booking's QA.
const (
	SamplingAll    = "all"     // every bur is measured (100 %)
	SamplingPerLot = "per_lot" // N burs of every lot
)

// Sampling is how many burs QA measures.
type Sampling struct {
	Mode string `json:"mode"`        // SamplingAll or SamplingPerLot
	N    int    `json:"n,omitempty"` // burs per lot (per_lot only)
	Lot  int    `json:"lot,omitempty"`
}

// QARequirements are the characteristics the customer needs measured and
// reported, and how many burs are measured.
type QARequirements struct {
	Characteristics []string `json:"characteristics"` // subset of Characteristics, each toleranced by the product
	Sampling        Sampling `json:"sampling"`
}

// BookingTransition is one recorded change of a booking's state.
type BookingTransition struct {
	From   BookingState `json:"from,omitempty"`
	To     BookingState `json:"to"`
	By     string       `json:"by"` // user id, or "system"
	At     time.Time    `json:"at"`
	Reason string       `json:"reason,omitempty"`
}

// Booking is an enterprise's request for a pilot run on the line and its
// way through quote, acceptance, the calendar and production.
type Booking struct {
	ID          string `json:"id"`  // assigned by the store, e.g. "BK000001"
	Org         string `json:"org"` // customer organisation (tenant)
	RequestedBy string `json:"requested_by"`
	// Product is the ISO 6360 number of the bur type. With Spec nil it names
	// an existing product; with Spec set it is the new type's number.
	Product       string         `json:"product"`
	Spec          *Product       `json:"spec,omitempty"` // a new bur type: nominals, tolerances, route
	Quantity      int            `json:"quantity"`
	QA            QARequirements `json:"qa"`
	EarliestStart time.Time      `json:"earliest_start"`
	Deadline      time.Time      `json:"deadline"`
	Notes         string         `json:"notes,omitempty"`

	State       BookingState        `json:"state"`
	Quote       *Quote              `json:"quote,omitempty"`
	Reservation string              `json:"reservation,omitempty"` // calendar reservation id while Reserved
	Batch       string              `json:"batch,omitempty"`       // the batch made for the run
	Transitions []BookingTransition `json:"transitions"`
	Created     time.Time           `json:"created"`
}

// Booking limits.
const (
	MaxBookingQuantity = 100000
	MaxBookingNotes    = 2000
	// MaxBookingHorizon bounds how far ahead a deadline may lie.
	MaxBookingHorizon = 3 * 365 * 24 * time.Hour
)

// Validate checks a new booking request: organisation, requester, product
// or spec, quantity, QA requirements and the window. Whether an existing
// product exists is the store's check. Errors: EINVALID naming the field.
func (b *Booking) Validate() error {
	switch {
	case strings.TrimSpace(b.Org) == "":
		return Errorf(EINVALID, "org: required")
	case strings.TrimSpace(b.RequestedBy) == "":
		return Errorf(EINVALID, "requested_by: required")
	case b.Product == "":
		return Errorf(EINVALID, "product: required (an ISO 6360 number)")
	case len(b.Product) != 15 || strings.Trim(b.Product, "0123456789") != "":
		return Errorf(EINVALID, "product: want a 15-digit ISO 6360 number, got %q", b.Product)
	case b.Quantity <= 0 || b.Quantity > MaxBookingQuantity:
		return Errorf(EINVALID, "quantity: must be 1..%d, got %d", MaxBookingQuantity, b.Quantity)
	case b.EarliestStart.IsZero():
		return Errorf(EINVALID, "earliest_start: required")
	case b.Deadline.IsZero():
		return Errorf(EINVALID, "deadline: required")
	case !b.Deadline.After(b.EarliestStart):
		return Errorf(EINVALID, "deadline: must be after earliest_start")
	case b.Deadline.Sub(b.EarliestStart) > MaxBookingHorizon:
		return Errorf(EINVALID, "deadline: more than %d days after earliest_start", int(MaxBookingHorizon.Hours()/24))
	case len(b.Notes) > MaxBookingNotes:
		return Errorf(EINVALID, "notes: longer than %d bytes", MaxBookingNotes)
	}
	tolerances := map[string]Tolerance{}
	if b.Spec != nil {
		if b.Spec.ISO != b.Product {
			return Errorf(EINVALID, "spec.iso: must equal product (%s), got %q", b.Product, b.Spec.ISO)
		}
		if err := b.Spec.Validate(); err != nil {
			return Errorf(EINVALID, "spec.%s", ErrorMessage(err))
		}
		if len(b.Spec.Tolerances) == 0 {
			return Errorf(EINVALID, "spec.tolerances: a new bur type needs at least one toleranced characteristic")
		}
		tolerances = b.Spec.Tolerances
	}
	return b.QA.validate(b.Spec != nil, tolerances, b.Quantity)
}

// validate checks the QA requirements. The characteristics of an existing
// product are checked against its tolerances by CheckProduct.
func (q QARequirements) validate(haveTolerances bool, tol map[string]Tolerance, quantity int) error {
	seen := map[string]bool{}
	for i, ch := range q.Characteristics {
		switch {
		case !slices.Contains(Characteristics, ch):
			return Errorf(EINVALID, "qa.characteristics[%d]: unknown characteristic %q (want one of %s)", i, ch, strings.Join(Characteristics, ", "))
		case seen[ch]:
			return Errorf(EINVALID, "qa.characteristics[%d]: %q listed twice", i, ch)
		case haveTolerances && tol[ch] == (Tolerance{}):
			return Errorf(EINVALID, "qa.characteristics[%d]: %q has no tolerance in the spec", i, ch)
		}
		seen[ch] = true
	}
	s := q.Sampling
	switch s.Mode {
	case SamplingAll:
		if s.N != 0 || s.Lot != 0 {
			return Errorf(EINVALID, "qa.sampling: n and lot apply to per_lot sampling only")
		}
	case SamplingPerLot:
		if s.Lot <= 0 || s.Lot > quantity {
			return Errorf(EINVALID, "qa.sampling.lot: must be 1..quantity (%d), got %d", quantity, s.Lot)
		}
		if s.N <= 0 || s.N > s.Lot {
			return Errorf(EINVALID, "qa.sampling.n: must be 1..lot (%d), got %d", s.Lot, s.N)
		}
	default:
		return Errorf(EINVALID, "qa.sampling.mode: want %q or %q, got %q", SamplingAll, SamplingPerLot, s.Mode)
	}
	return nil
}

// CheckProduct checks the booking's QA characteristics against the
// tolerances of the existing product p it names. Errors: EINVALID.
func (b *Booking) CheckProduct(p *Product) error {
	for i, ch := range b.QA.Characteristics {
		if _, ok := p.Tolerances[ch]; !ok {
			return Errorf(EINVALID, "qa.characteristics[%d]: product %s has no tolerance for %q", i, p.ISO, ch)
		}
	}
	return nil
}

// RunStart is when the run's production begins: the quoted window's start,
// or the zero time before a quote.
func (b *Booking) RunStart() time.Time {
	if b.Quote == nil {
		return time.Time{}
	}
	return b.Quote.Start
}

// BookingChange is one requested transition of a booking.
type BookingChange struct {
	To     BookingState
	By     string // user id, or "system"
	Reason string
	At     time.Time
	// Quote is the new quote (To = quoted).
	Quote *Quote
	// LockOut, for To = cancelled, refuses a cancellation at or after the
	// run's start minus LockOut. Zero (staff) lifts the rule.
	LockOut time.Duration
	// Batch records the batch made for the run (To = scheduled or running).
	Batch string
}

// Apply checks ch against the booking's state machine and rules and applies
// it, recording who, when and why. The calendar side of a change (checking
// the window on accept, reserving on confirm, releasing on leaving the
// calendar) is the store's, in the same transaction.
//
// Errors: EINVALID (unknown state, no actor or time, a quote missing or
// wrong), ECONFLICT (not allowed from the current state, an expired quote,
// the lock-out window); the booking is unchanged on error.
//
// IMPORTANT: this is the only way a booking's State changes, so every
// change is in Transitions.
func (b *Booking) Apply(ch BookingChange) error {
	if !ch.To.Valid() {
		return Errorf(EINVALID, "state: unknown booking state %q", ch.To)
	}
	if strings.TrimSpace(ch.By) == "" {
		return Errorf(EINVALID, "by: who changes the booking is required")
	}
	if ch.At.IsZero() {
		return Errorf(EINVALID, "at: the time of the change is required")
	}
	if !CanTransitionBooking(b.State, ch.To) {
		return Errorf(ECONFLICT, "booking %s is %s: cannot move to %s", b.ID, b.State, ch.To)
	}
	switch ch.To {
	case BookingQuoted:
		if ch.Quote == nil {
			return Errorf(EINVALID, "quote: required to quote a booking")
		}
		if err := ch.Quote.fits(b); err != nil {
			return err
		}
	case BookingAccepted:
		if !ch.At.Before(b.Quote.Expires) {
			return Errorf(ECONFLICT, "booking %s: the quote expired at %s; ask for a new quote", b.ID, b.Quote.Expires.UTC().Format(time.RFC3339))
		}
	case BookingConfirmed:
		if !ch.At.Before(b.Quote.Start) {
			return Errorf(ECONFLICT, "booking %s: the quoted window started at %s; quote again", b.ID, b.Quote.Start.UTC().Format(time.RFC3339))
		}
	case BookingScheduled:
		if b.State == BookingScheduled && (ch.Batch == "" || b.Batch != "") {
			return Errorf(ECONFLICT, "booking %s is scheduled: only its batch can be recorded, once", b.ID)
		}
	case BookingCancelled:
		if start := b.RunStart(); ch.LockOut > 0 && !start.IsZero() && !ch.At.Before(start.Add(-ch.LockOut)) {
			return Errorf(ECONFLICT, "booking %s: cancellation closed %s before the run's start (%s); ask the line engineer",
				b.ID, ch.LockOut, start.UTC().Format(time.RFC3339))
		}
	}
	if ch.To == BookingQuoted {
		q := *ch.Quote
		b.Quote = &q
	}
	if ch.Batch != "" {
		b.Batch = ch.Batch
	}
	b.Transitions = append(b.Transitions, BookingTransition{From: b.State, To: ch.To, By: ch.By, At: ch.At.UTC(), Reason: ch.Reason})
	b.State = ch.To
	return nil
}

// BookingFilter selects bookings. Zero fields match everything.
type BookingFilter struct {
	Org    string
	States []BookingState
}

// Match reports whether b passes the filter.
func (f BookingFilter) Match(b *Booking) bool {
	return (f.Org == "" || b.Org == f.Org) && (len(f.States) == 0 || slices.Contains(f.States, b.State))
}

// BookingService stores bookings and their state machine, together with
// the capacity calendar (a booking's reservation is written and released in
// the same transaction as its state change).
type BookingService interface {
	// CreateBooking validates b, checks that an existing product exists (or
	// that a spec's ISO number is new), assigns ID, Created and
	// State=requested and stores it. Errors: EINVALID.
	CreateBooking(ctx context.Context, b *Booking) error
	// FindBooking returns one booking. Errors: ENOTFOUND.
	FindBooking(ctx context.Context, id string) (*Booking, error)
	// ListBookings returns bookings matching f, newest first.
	ListBookings(ctx context.Context, f BookingFilter) ([]*Booking, error)
	// ChangeBooking applies ch (see Booking.Apply). Accepting checks that the
	// quoted window is still free; confirming reserves it; cancelling,
	// declining or expiring releases any reservation; each in the same write
	// transaction as the state change, together with the portal notification
	// the change calls for. Errors: ENOTFOUND, EINVALID, ECONFLICT (state,
	// expired quote, lock-out, window taken).
	ChangeBooking(ctx context.Context, id string, ch BookingChange) (*Booking, error)
}

// Notification is a portal message to a customer organisation about one of
// its bookings.
type Notification struct {
	ID        string       `json:"id"`
	Org       string       `json:"org"`
	Booking   string       `json:"booking"`
	State     BookingState `json:"state"` // the state the booking entered
	Message   string       `json:"message"`
	MessageZH string       `json:"message_zh"`
	At        time.Time    `json:"at"`
}

// NotificationService lists portal notifications.
type NotificationService interface {
	// ListNotifications returns the newest notifications of org (every
	// organisation's when org is ""), newest first, at most limit.
	ListNotifications(ctx context.Context, org string, limit int) ([]*Notification, error)
}

// BookingNotice returns the notification the booking's latest transition
// calls for, or nil when it calls for none.
func BookingNotice(b *Booking) *Notification {
	if len(b.Transitions) == 0 {
		return nil
	}
	t := b.Transitions[len(b.Transitions)-1]
	n := &Notification{Org: b.Org, Booking: b.ID, State: t.To, At: t.At}
	switch t.To {
	case BookingQuoted:
		n.Message = "Booking " + b.ID + " has a quote; accept it before " + b.Quote.Expires.UTC().Format(time.RFC3339) + "."
		n.MessageZH = "预约 " + b.ID + " 已报价，请在 " + b.Quote.Expires.UTC().Format(time.RFC3339) + " 前接受。"
	case BookingConfirmed:
		n.Message = "Booking " + b.ID + " is confirmed for " + b.Quote.Start.UTC().Format(time.RFC3339) + "."
		n.MessageZH = "预约 " + b.ID + " 已确认，开始时间 " + b.Quote.Start.UTC().Format(time.RFC3339) + "。"
	case BookingDeclined:
		n.Message = "Booking " + b.ID + " was declined: " + t.Reason
		n.MessageZH = "预约 " + b.ID + " 被拒绝：" + t.Reason
	case BookingCancelled:
		n.Message = "Booking " + b.ID + " was cancelled: " + t.Reason
		n.MessageZH = "预约 " + b.ID + " 已取消：" + t.Reason
	case BookingExpired:
		n.Message = "Booking " + b.ID + " expired: " + t.Reason
		n.MessageZH = "预约 " + b.ID + " 已过期：" + t.Reason
	case BookingRunning:
		n.Message = "The run of booking " + b.ID + " started on the line (batch " + b.Batch + ")."
		n.MessageZH = "预约 " + b.ID + " 已在产线上开始生产（批次 " + b.Batch + "）。"
	case BookingCompleted:
		n.Message = "The run of booking " + b.ID + " is completed (batch " + b.Batch + ")."
		n.MessageZH = "预约 " + b.ID + " 的生产已完成（批次 " + b.Batch + "）。"
	case BookingDelivered:
		n.Message = "Booking " + b.ID + " was delivered."
		n.MessageZH = "预约 " + b.ID + " 已交付。"
	default:
		return nil
	}
	return n
}
