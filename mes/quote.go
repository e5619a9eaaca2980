package mes

import (
	"time"
)

// Quote bases: where the per-bur interval of a quote comes from.
const (
	QuoteMeasured = "measured" // cycle times, takt and OEE of the line's recent runs
	QuoteNominal  = "nominal"  // the route's ideal cycle times, the line's target takt and an assumed OEE
)

// Quote is what a run will take and when the line can do it.
//
// The run's duration is SetupS (blocked before the window's Start) plus the
// production time from Start to End: the first bur's way through the route
// (LeadS) and one IntervalS per further good bur, stretched to wall-clock
// time by the shifts' planned share of the day. ChangeoverS is blocked after
// End.
type Quote struct {
	Basis           string    `json:"basis"` // QuoteMeasured or QuoteNominal
	BasisNote       string    `json:"basis_note"`
	BasisFrom       time.Time `json:"basis_from,omitzero"` // the measured period
	BasisTo         time.Time `json:"basis_to,omitzero"`
	Departures      int       `json:"departures"`                // burs that left the line in the measured period
	MeasuredTaktS   float64   `json:"measured_takt_s,omitempty"` // mean interval between departures
	Availability    float64   `json:"availability"`              // line availability used (ISO 22400)
	Quality         float64   `json:"quality"`                   // line quality rate used
	OEE             float64   `json:"oee"`                       // line OEE of the basis period (or assumed)
	BottleneckGroup string    `json:"bottleneck_group"`          // the group that paces the line
	BottleneckS     float64   `json:"bottleneck_s"`              // its cycle time per machine, s per bur
	IntervalS       float64   `json:"interval_s"`                // planned seconds per good bur
	LeadS           float64   `json:"lead_s"`                    // the first bur through the route
	PlannedShare    float64   `json:"planned_share"`             // planned production time per day / 24 h
	SetupS          float64   `json:"setup_s"`                   // set-up before Start
	ChangeoverS     float64   `json:"changeover_s"`              // buffer after End
	LineTimeS       float64   `json:"line_time_s"`               // set-up + production, wall clock
	Groups          []string  `json:"groups"`                    // machine groups reserved (the route's)
	Start           time.Time `json:"start"`                     // production begins
	End             time.Time `json:"end"`                       // production ends
	Quoted          time.Time `json:"quoted"`
	Expires         time.Time `json:"expires"`
}

// Window is the calendar reservation the quote asks for.
func (q *Quote) Window() Interval {
	return Interval{Start: q.Start.Add(-secs(q.SetupS)), End: q.End.Add(secs(q.ChangeoverS))}
}

// fits checks that the quote's window lies within the booking's earliest
// start and deadline. Errors: EINVALID.
func (q *Quote) fits(b *Booking) error {
	switch {
	case q.Start.IsZero() || !q.End.After(q.Start):
		return Errorf(EINVALID, "quote: window missing or empty")
	case q.Start.Add(-secs(q.SetupS)).Before(b.EarliestStart):
		return Errorf(EINVALID, "quote: window starts before the booking's earliest start")
	case q.End.After(b.Deadline):
		return Errorf(EINVALID, "quote: window ends after the booking's deadline")
	case !q.Expires.After(q.Quoted):
		return Errorf(EINVALID, "quote: expiry must follow the quote time")
	case len(q.Groups) == 0:
		return Errorf(EINVALID, "quote: no machine groups")
	}
	return nil
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
