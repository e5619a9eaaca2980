package mes

import (
	"fmt"
	"strings"
)

// Evaluate compares a measurement with the product's tolerances and returns
// one result per toleranced characteristic (in Characteristics order), the
// disposition (good when every characteristic passes, otherwise scrap) and,
// for scrap, a reason naming each failing characteristic.
//
// A toleranced characteristic the station did not report fails: a bur
// nobody measured is not a good bur.
func Evaluate(p *Product, m Measurement) ([]CharResult, BurDisposition, string) {
	var results []CharResult
	var fails []string
	for _, ch := range Characteristics {
		t, ok := p.Tolerances[ch]
		if !ok {
			continue
		}
		v, measured := m.Values[ch]
		r := CharResult{Characteristic: ch, Value: v, Nominal: t.Nominal, Lower: t.Lower, Upper: t.Upper}
		r.Pass = measured && t.Contains(v)
		results = append(results, r)
		switch {
		case !measured:
			fails = append(fails, ch+" not measured")
		case v < t.Lower:
			fails = append(fails, fmt.Sprintf("%s %.4g mm < LSL %.4g mm", ch, v, t.Lower))
		case v > t.Upper:
			fails = append(fails, fmt.Sprintf("%s %.4g mm > USL %.4g mm", ch, v, t.Upper))
		}
	}
	if len(fails) > 0 {
		return results, BurScrap, "out of tolerance: " + strings.Join(fails, "; ")
	}
	return results, BurGood, ""
}

// AbortReason is the scrap reason of a bur whose job on machine ended by an alarm.
func AbortReason(machine string, op Operation) string {
	return fmt.Sprintf("cycle aborted on %s during operation %d (%s)", machine, op.Number, op.Name)
}
