package mes

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var bookingT0 = time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)

func validBooking() *Booking {
	return &Booking{Org: "acme", RequestedBy: "ana", Product: "500314001001014", Quantity: 1000,
		QA:            QARequirements{Characteristics: []string{CharHeadDiameter}, Sampling: Sampling{Mode: SamplingAll}},
		EarliestStart: bookingT0, Deadline: bookingT0.Add(30 * 24 * time.Hour)}
}

func TestBookingValidate(t *testing.T) {
	spec := Product{ISO: "500314001002014", Name: "custom", ShankType: "FG",
		Tolerances: map[string]Tolerance{CharHeadDiameter: {Nominal: 1.4, Lower: 1.39, Upper: 1.41}},
		Route:      []Operation{{Number: 10, Group: "FLT", Program: "P", IdealCycleS: 100}}}
	tests := []struct {
		name string
		edit func(b *Booking)
		want string // substring of the message; "" means valid
	}{
		{"valid", func(*Booking) {}, ""},
		{"per lot", func(b *Booking) { b.QA.Sampling = Sampling{Mode: SamplingPerLot, N: 5, Lot: 100} }, ""},
		{"spec", func(b *Booking) { s := spec; b.Spec, b.Product = &s, s.ISO }, ""},
		{"no org", func(b *Booking) { b.Org = " " }, "org"},
		{"no requester", func(b *Booking) { b.RequestedBy = "" }, "requested_by"},
		{"bad iso", func(b *Booking) { b.Product = "12" }, "product"},
		{"zero quantity", func(b *Booking) { b.Quantity = 0 }, "quantity"},
		{"huge quantity", func(b *Booking) { b.Quantity = MaxBookingQuantity + 1 }, "quantity"},
		{"no start", func(b *Booking) { b.EarliestStart = time.Time{} }, "earliest_start"},
		{"deadline first", func(b *Booking) { b.Deadline = b.EarliestStart }, "deadline"},
		{"far deadline", func(b *Booking) { b.Deadline = b.EarliestStart.Add(MaxBookingHorizon + time.Hour) }, "deadline"},
		{"long notes", func(b *Booking) { b.Notes = strings.Repeat("x", MaxBookingNotes+1) }, "notes"},
		{"unknown char", func(b *Booking) { b.QA.Characteristics = []string{"colour"} }, "qa.characteristics[0]"},
		{"twice", func(b *Booking) { b.QA.Characteristics = []string{CharHeadDiameter, CharHeadDiameter} }, "twice"},
		{"no mode", func(b *Booking) { b.QA.Sampling.Mode = "" }, "qa.sampling.mode"},
		{"n with all", func(b *Booking) { b.QA.Sampling.N = 3 }, "qa.sampling"},
		{"n over lot", func(b *Booking) { b.QA.Sampling = Sampling{Mode: SamplingPerLot, N: 11, Lot: 10} }, "qa.sampling.n"},
		{"lot over qty", func(b *Booking) { b.QA.Sampling = Sampling{Mode: SamplingPerLot, N: 1, Lot: 1001} }, "qa.sampling.lot"},
		{"spec iso differs", func(b *Booking) { s := spec; b.Spec = &s }, "spec.iso"},
		{"spec invalid", func(b *Booking) { s := spec; s.Route = nil; b.Spec, b.Product = &s, s.ISO }, "spec.route"},
		{"spec char untoleranced", func(b *Booking) {
			s := spec
			b.Spec, b.Product = &s, s.ISO
			b.QA.Characteristics = []string{CharRadialRunout}
		}, "no tolerance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := validBooking()
			tt.edit(b)
			err := b.Validate()
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, EINVALID, ErrorCode(err))
			assert.Contains(t, ErrorMessage(err), tt.want)
		})
	}
}

func quotedBooking() *Booking {
	b := validBooking()
	b.ID, b.State = "BK000001", BookingRequested
	q := &Quote{Start: bookingT0.Add(5 * 24 * time.Hour), End: bookingT0.Add(7 * 24 * time.Hour), SetupS: 3600,
		Groups: []string{"FLT"}, Quoted: bookingT0, Expires: bookingT0.Add(72 * time.Hour)}
	if err := b.Apply(BookingChange{To: BookingQuoted, By: "system", At: bookingT0, Quote: q}); err != nil {
		panic(err)
	}
	return b
}

func TestBookingApply(t *testing.T) {
	at := bookingT0.Add(time.Hour)
	start := bookingT0.Add(5 * 24 * time.Hour)
	tests := []struct {
		name  string
		path  []BookingState // reached first, with at
		ch    BookingChange
		code  string
		state BookingState
	}{
		{"accept", nil, BookingChange{To: BookingAccepted, By: "ana", At: at}, "", BookingAccepted},
		{"accept expired", nil, BookingChange{To: BookingAccepted, By: "ana", At: bookingT0.Add(72 * time.Hour)}, ECONFLICT, BookingQuoted},
		{"confirm before accept", nil, BookingChange{To: BookingConfirmed, By: "eng", At: at}, ECONFLICT, BookingQuoted},
		{"confirm", []BookingState{BookingAccepted}, BookingChange{To: BookingConfirmed, By: "eng", At: at}, "", BookingConfirmed},
		{"confirm after start", []BookingState{BookingAccepted}, BookingChange{To: BookingConfirmed, By: "eng", At: start}, ECONFLICT, BookingAccepted},
		{"cancel before lock-out", []BookingState{BookingAccepted, BookingConfirmed},
			BookingChange{To: BookingCancelled, By: "ana", At: start.Add(-49 * time.Hour), LockOut: 48 * time.Hour}, "", BookingCancelled},
		{"cancel in lock-out", []BookingState{BookingAccepted, BookingConfirmed},
			BookingChange{To: BookingCancelled, By: "ana", At: start.Add(-48 * time.Hour), LockOut: 48 * time.Hour}, ECONFLICT, BookingConfirmed},
		{"staff cancel in lock-out", []BookingState{BookingAccepted, BookingConfirmed},
			BookingChange{To: BookingCancelled, By: "eng", At: start.Add(-time.Hour)}, "", BookingCancelled},
		{"decline confirmed", []BookingState{BookingAccepted, BookingConfirmed}, BookingChange{To: BookingDeclined, By: "eng", At: at}, ECONFLICT, BookingConfirmed},
		{"cancel running", []BookingState{BookingAccepted, BookingConfirmed, BookingScheduled, BookingRunning},
			BookingChange{To: BookingCancelled, By: "eng", At: at}, ECONFLICT, BookingRunning},
		{"deliver completed", []BookingState{BookingAccepted, BookingConfirmed, BookingScheduled, BookingRunning, BookingCompleted},
			BookingChange{To: BookingDelivered, By: "eng", At: at}, "", BookingDelivered},
		{"nothing leaves delivered", []BookingState{BookingAccepted, BookingConfirmed, BookingScheduled, BookingRunning, BookingCompleted, BookingDelivered},
			BookingChange{To: BookingCancelled, By: "eng", At: at}, ECONFLICT, BookingDelivered},
		{"batch once", []BookingState{BookingAccepted, BookingConfirmed, BookingScheduled},
			BookingChange{To: BookingScheduled, By: "scheduler", At: at}, ECONFLICT, BookingScheduled},
		{"record batch", []BookingState{BookingAccepted, BookingConfirmed, BookingScheduled},
			BookingChange{To: BookingScheduled, By: "scheduler", At: at, Batch: "B000001"}, "", BookingScheduled},
		{"requote without quote", nil, BookingChange{To: BookingQuoted, By: "eng", At: at}, EINVALID, BookingQuoted},
		{"no actor", nil, BookingChange{To: BookingAccepted, At: at}, EINVALID, BookingQuoted},
		{"no time", nil, BookingChange{To: BookingAccepted, By: "ana"}, EINVALID, BookingQuoted},
		{"unknown state", nil, BookingChange{To: "lost", By: "ana", At: at}, EINVALID, BookingQuoted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := quotedBooking()
			for _, s := range tt.path {
				require.NoError(t, b.Apply(BookingChange{To: s, By: "x", At: at}))
			}
			before := len(b.Transitions)
			err := b.Apply(tt.ch)
			assert.Equal(t, tt.code, ErrorCode(err))
			assert.Equal(t, tt.state, b.State)
			if tt.code != "" {
				assert.Len(t, b.Transitions, before, "unchanged on error")
				return
			}
			last := b.Transitions[len(b.Transitions)-1]
			assert.Equal(t, BookingTransition{From: last.From, To: tt.ch.To, By: tt.ch.By, At: tt.ch.At, Reason: tt.ch.Reason}, last)
		})
	}
}

func TestBookingApplyQuoteMustFit(t *testing.T) {
	b := validBooking()
	b.State = BookingRequested
	q := &Quote{Start: b.Deadline.Add(-time.Hour), End: b.Deadline.Add(time.Hour), Groups: []string{"FLT"},
		Quoted: bookingT0, Expires: bookingT0.Add(time.Hour)}
	err := b.Apply(BookingChange{To: BookingQuoted, By: "eng", At: bookingT0, Quote: q})
	assert.Equal(t, EINVALID, ErrorCode(err))
	assert.Contains(t, ErrorMessage(err), "deadline")
	assert.Nil(t, b.Quote)
}

func TestBookingNotice(t *testing.T) {
	b := quotedBooking()
	n := BookingNotice(b)
	require.NotNil(t, n)
	assert.Equal(t, "acme", n.Org)
	assert.Equal(t, BookingQuoted, n.State)
	assert.Contains(t, n.Message, "2026-04-04T08:00:00Z")
	require.NoError(t, b.Apply(BookingChange{To: BookingAccepted, By: "ana", At: bookingT0}))
	assert.Nil(t, BookingNotice(b), "the customer's own acceptance needs no notice")
	assert.Nil(t, BookingNotice(&Booking{}))
}
