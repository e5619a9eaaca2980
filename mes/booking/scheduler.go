package booking

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// Scheduler defaults.
const (
	DefaultSchedulerInterval = 15 * time.Second
	DefaultBookingLockOut    = 48 * time.Hour
	// SchedulerActor is who the scheduler's transitions are recorded by.
	SchedulerActor = "scheduler"
)

// Scheduler moves bookings along with the clock and the line: it
// expires stale quotes, freezes confirmed runs into the plan when their
// lock-out window begins, makes (and, with AutoRelease, releases) each run's
// batch when its window starts, and follows the batch to completion.
//
// Each pass reads the state afresh and every step is a state transition the
// store refuses twice, so a pass after a crash or a concurrent engineer
// action repeats nothing.
type Scheduler struct {
	Bookings mes.BookingService
	Batches  mes.BatchService
	Products mes.ProductService // creates a new bur type's product before its batch
	Logger   *slog.Logger
	Interval time.Duration // between passes; default DefaultSchedulerInterval
	// LockOut is how long before a run's start it is frozen (confirmed →
	// scheduled); use the same value as the portal's cancellation lock-out.
	// Default DefaultBookingLockOut.
	LockOut time.Duration
	// AutoRelease releases a run's batch to the line when its window
	// starts; false leaves the planned batch for an engineer to release.
	AutoRelease bool
	// Clock is line time, the time base of bookings and batches. Nil: the
	// host's clock.
	Clock *mes.LineClock
}

// Run makes a pass every Interval until ctx is done, and returns nil then.
// A failed pass is logged and retried at the next tick.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(orDefault(s.Interval, DefaultSchedulerInterval))
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.logger().Error("booking scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Scheduler) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// Tick makes one pass over the open bookings. It returns the first error
// but still tries every booking.
func (s *Scheduler) Tick(ctx context.Context) error {
	now := s.Clock.Now().UTC()
	bs, err := s.Bookings.ListBookings(ctx, mes.BookingFilter{States: []mes.BookingState{
		mes.BookingQuoted, mes.BookingAccepted, mes.BookingConfirmed, mes.BookingScheduled, mes.BookingRunning}})
	if err != nil {
		return fmt.Errorf("scheduler: list bookings: %w", err)
	}
	var first error
	for _, b := range bs {
		if err := s.advance(ctx, b, now); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.logger().Warn("booking scheduler", "booking", b.ID, "state", b.State, "err", err)
			if first == nil {
				first = fmt.Errorf("scheduler: booking %s: %w", b.ID, err)
			}
		}
	}
	return first
}

// advance moves one booking as far as the clock and its batch allow.
func (s *Scheduler) advance(ctx context.Context, b *mes.Booking, now time.Time) error {
	change := func(to mes.BookingState, reason, batch string) error {
		nb, err := s.Bookings.ChangeBooking(ctx, b.ID, mes.BookingChange{To: to, By: SchedulerActor, Reason: reason, At: now, Batch: batch})
		if err != nil {
			return err
		}
		*b = *nb
		return nil
	}
	switch b.State {
	case mes.BookingQuoted:
		if !now.Before(b.Quote.Expires) {
			return change(mes.BookingExpired, "the quote was not accepted before it expired", "")
		}
		return nil
	case mes.BookingAccepted:
		if !now.Before(b.Quote.Start) {
			return change(mes.BookingExpired, "not confirmed before the quoted window started", "")
		}
		return nil
	case mes.BookingConfirmed:
		if now.Before(b.Quote.Start.Add(-orDefault(s.LockOut, DefaultBookingLockOut))) {
			return nil
		}
		if err := change(mes.BookingScheduled, "lock-out window reached: frozen in the line's plan", ""); err != nil {
			return err
		}
	}
	if b.State == mes.BookingScheduled && b.Batch == "" {
		if now.Before(b.Quote.Start) {
			return nil
		}
		batch, err := s.makeBatch(ctx, b, now)
		if err != nil {
			return err
		}
		if batch.State == mes.BatchPlanned {
			return change(mes.BookingScheduled, "window started: batch "+batch.ID+" waits for release by an engineer", batch.ID)
		}
		if err := change(mes.BookingRunning, "window started: batch "+batch.ID+" released to the line", batch.ID); err != nil {
			return err
		}
	}
	if b.Batch == "" || (b.State != mes.BookingScheduled && b.State != mes.BookingRunning) {
		return nil
	}
	batch, err := s.Batches.FindBatch(ctx, b.Batch)
	if err != nil {
		return err
	}
	if b.State == mes.BookingScheduled {
		switch batch.State {
		case mes.BatchReleased, mes.BatchRunning, mes.BatchHeld, mes.BatchCompleted, mes.BatchQAReleased, mes.BatchRejected:
			if err := change(mes.BookingRunning, "batch "+batch.ID+" is on the line", ""); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	switch batch.State {
	case mes.BatchCompleted, mes.BatchQAReleased, mes.BatchRejected:
		return change(mes.BookingCompleted, fmt.Sprintf("batch %s %s: %d good, %d scrap", batch.ID, batch.State, batch.Completed, batch.Scrap), "")
	}
	return nil
}

// makeBatch creates the booking's batch (and a new bur type's product), or
// finds the one an interrupted earlier pass made.
func (s *Scheduler) makeBatch(ctx context.Context, b *mes.Booking, now time.Time) (*mes.Batch, error) {
	existing, err := s.Batches.ListBatches(ctx, mes.BatchFilter{Org: b.Org})
	if err != nil {
		return nil, err
	}
	for _, x := range existing {
		// Only this booking's batch has its product, quantity and window.
		if x.Product == b.Product && x.Quantity == b.Quantity && x.PlannedStart.Equal(b.Quote.Start) && x.PlannedEnd.Equal(b.Quote.End) {
			return x, nil
		}
	}
	if b.Spec != nil {
		if _, err := s.Products.FindProduct(ctx, b.Product); mes.ErrorCode(err) == mes.ENOTFOUND {
			p := *b.Spec
			if err := s.Products.CreateProduct(ctx, &p); err != nil && mes.ErrorCode(err) != mes.ECONFLICT {
				return nil, fmt.Errorf("create product %s: %w", b.Product, err)
			}
		} else if err != nil {
			return nil, err
		}
	}
	state := mes.BatchPlanned
	if s.AutoRelease {
		state = mes.BatchReleased
	}
	batch := &mes.Batch{Product: b.Product, Quantity: b.Quantity, GoodRequired: true, Org: b.Org,
		PlannedStart: b.Quote.Start, PlannedEnd: b.Quote.End, State: state,
		Transitions: []mes.Transition{{By: SchedulerActor, Reason: "booking " + b.ID, At: now}}}
	if err := s.Batches.CreateBatch(ctx, batch); err != nil {
		return nil, fmt.Errorf("create batch: %w", err)
	}
	return batch, nil
}
