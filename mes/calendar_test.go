package mes

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func hours(h float64) time.Time { return bookingT0.Add(time.Duration(h * float64(time.Hour))) }

func TestMergeIntervals(t *testing.T) {
	got := MergeIntervals([]Interval{{hours(5), hours(6)}, {hours(0), hours(2)}, {hours(1), hours(3)}, {hours(3), hours(4)}, {hours(7), hours(8)}})
	assert.Equal(t, []Interval{{hours(0), hours(4)}, {hours(5), hours(6)}, {hours(7), hours(8)}}, got)
	assert.Empty(t, MergeIntervals(nil))
}

func TestEarliestFit(t *testing.T) {
	busy := []Interval{{hours(2), hours(4)}, {hours(6), hours(7)}, {hours(10), hours(20)}}
	tests := []struct {
		name string
		req  FitRequest
		want time.Time
		ok   bool
	}{
		{"before first", FitRequest{NotBefore: hours(0), Deadline: hours(100), Run: 2 * time.Hour}, hours(0), true},
		{"setup and buffer counted", FitRequest{NotBefore: hours(0), Deadline: hours(100), SetupBefore: time.Hour, Run: time.Hour, SetupAfter: time.Hour}, hours(5), false},
		{"gap of two", FitRequest{NotBefore: hours(0), Deadline: hours(100), Run: 2*time.Hour + time.Minute}, hours(7), true},
		{"after the last", FitRequest{NotBefore: hours(0), Deadline: hours(100), Run: 4 * time.Hour}, hours(20), true},
		{"inside busy", FitRequest{NotBefore: hours(3), Deadline: hours(100), Run: time.Hour}, hours(4), true},
		{"setup shifts start", FitRequest{NotBefore: hours(4), Deadline: hours(100), SetupBefore: 30 * time.Minute, Run: time.Hour}, hours(4.5), true},
		{"deadline too soon", FitRequest{NotBefore: hours(0), Deadline: hours(19), Run: 4 * time.Hour}, time.Time{}, false},
		{"exactly to deadline", FitRequest{NotBefore: hours(0), Deadline: hours(24), Run: 4 * time.Hour}, hours(20), true},
		{"exactly between", FitRequest{NotBefore: hours(7), Deadline: hours(10), Run: 3 * time.Hour}, hours(7), true},
		{"buffer may pass deadline", FitRequest{NotBefore: hours(20), Deadline: hours(22), Run: 2 * time.Hour, SetupAfter: 5 * time.Hour}, hours(20), true},
	}
	// "setup and buffer counted": 3 h blocked fits from 7 to 10 (start at 8).
	tests[1].want, tests[1].ok = hours(8), true
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := EarliestFit(busy, tt.req)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
			if ok {
				w := Interval{got.Add(-tt.req.SetupBefore), got.Add(tt.req.Run + tt.req.SetupAfter)}
				for _, b := range busy {
					assert.False(t, w.Overlaps(b), "%v overlaps %v", w, b)
				}
			}
		})
	}
}

func TestReservationValidate(t *testing.T) {
	line := MustLineForTest(t)
	r := &Reservation{Kind: ReservationMaintenance, Start: hours(0), End: hours(2), By: "eng", Groups: []string{"FLT", "SHK", "FLT"}}
	require.NoError(t, r.Validate(line))
	assert.Equal(t, []string{"FLT", "SHK"}, r.Groups)
	whole := &Reservation{Kind: ReservationMaintenance, Start: hours(0), End: hours(2), By: "eng"}
	require.NoError(t, whole.Validate(line))
	assert.Len(t, whole.Groups, len(line.Groups), "no groups means the whole line")

	for name, r := range map[string]*Reservation{
		"kind":          {Kind: "party", Start: hours(0), End: hours(1), By: "eng"},
		"booking id":    {Kind: ReservationBooking, Start: hours(0), End: hours(1), By: "eng"},
		"empty":         {Kind: ReservationMaintenance, Start: hours(1), End: hours(1), By: "eng"},
		"negative":      {Kind: ReservationMaintenance, Start: hours(0), End: hours(1), By: "eng", SetupBefore: -1},
		"too long":      {Kind: ReservationMaintenance, Start: hours(0), End: hours(24 * 121), By: "eng"},
		"unknown group": {Kind: ReservationMaintenance, Start: hours(0), End: hours(1), By: "eng", Groups: []string{"PAINT"}},
		"no actor":      {Kind: ReservationMaintenance, Start: hours(0), End: hours(1)},
	} {
		assert.Equal(t, EINVALID, ErrorCode(r.Validate(line)), name)
	}
}

func TestCustomerView(t *testing.T) {
	rs := []*Reservation{
		{Kind: ReservationBooking, Booking: "BK1", Org: "acme", Product: "500314001001014", Groups: []string{"FLT", "SHK"}, Start: hours(1), End: hours(3), SetupBefore: 1800},
		{Kind: ReservationBooking, Booking: "BK2", Org: "beta", Product: "500314001001014", Groups: []string{"FLT", "SHK"}, Start: hours(3), End: hours(5)},
		{Kind: ReservationMaintenance, Title: "spindle", Groups: []string{"QC"}, Start: hours(8), End: hours(30)},
	}
	busy, free := CustomerView(rs, "beta", hours(0), hours(24))
	assert.Equal(t, []CalendarBlock{
		{Start: hours(0.5), End: hours(3), Groups: []string{"FLT", "SHK"}, Busy: true},
		{Start: hours(3), End: hours(5), Groups: []string{"FLT", "SHK"}, Busy: true, Own: true},
		{Start: hours(8), End: hours(24), Groups: []string{"QC"}, Busy: true},
	}, busy)
	assert.Equal(t, []CalendarBlock{{Start: hours(0), End: hours(0.5)}, {Start: hours(5), End: hours(8)}}, free)

	busy, _ = CustomerView(rs, "gamma", hours(0), hours(24))
	assert.Equal(t, []CalendarBlock{
		{Start: hours(0.5), End: hours(5), Groups: []string{"FLT", "SHK"}, Busy: true},
		{Start: hours(8), End: hours(24), Groups: []string{"QC"}, Busy: true},
	}, busy, "two organisations' runs merge into one busy block")
}
