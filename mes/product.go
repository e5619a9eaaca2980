package mes

import (
	"fmt"
	"slices"
	"strings"
)

// Tolerance is a nominal value with its lower and upper specification limits,
// all in millimetres.
type Tolerance struct {
	Nominal float64 `json:"nominal_mm"`
	Lower   float64 `json:"lsl_mm"` // lower specification limit
	Upper   float64 `json:"usl_mm"` // upper specification limit
}

// Contains reports whether v is within the specification limits (inclusive).
func (t Tolerance) Contains(v float64) bool { return v >= t.Lower && v <= t.Upper }

// Product is a dental bur type, keyed by its 15-digit ISO 6360 number.
type Product struct {
	ISO        string               `json:"iso"`                 // ISO 6360 number, 15 digits, e.g. "500314001001014"
	Name       string               `json:"name"`                // English
	NameZH     string               `json:"name_zh,omitempty"`   // Simplified Chinese
	ShankType  string               `json:"shank_type"`          // ISO 1797: "FG", "RA", "HP"
	GTIN       string               `json:"gtin,omitempty"`      // UDI-DI, GS1 AI (01)
	Tolerances map[string]Tolerance `json:"tolerances"`          // characteristic → tolerance
	Route      []Operation          `json:"route"`               // ordered operations
	AutoHold   bool                 `json:"auto_hold,omitempty"` // hold a batch on an SPC rule violation
	// SPCRules names the run rules its control charts are checked against:
	// "nelson" (default when empty), "western_electric" or "aiag".
	SPCRules string `json:"spc_rules,omitempty"`
	// Org is the customer organisation whose design this is (a bur type
	// booked with a spec); empty for the line's own products.
	// IMPORTANT: another organisation never sees, quotes or orders a
	// product with an Org: to it the product does not exist.
	Org string `json:"org,omitempty"`
}

// VisibleTo reports whether a product may be seen, quoted and ordered for
// organisation org (empty: by the platform's staff on no one's behalf).
func (p *Product) VisibleTo(org string) bool { return p.Org == "" || p.Org == org }

// Operation is one step of a product's route.
type Operation struct {
	Number         int     `json:"number"` // 10, 20, …: ascending along the route
	Name           string  `json:"name"`   // English, e.g. "Flutes"
	NameZH         string  `json:"name_zh,omitempty"`
	Group          string  `json:"group"`           // machine group that performs it
	Program        string  `json:"program"`         // NC program name
	ProgramVersion string  `json:"program_version"` // NC program version
	IdealCycleS    float64 `json:"ideal_cycle_s"`   // ISO 22400 PRU: planned runtime per unit, seconds
	// Forms lists the product characteristics this operation forms: a bur
	// failing one of them is scrap of this operation.
	Forms []string `json:"forms,omitempty"`
}

// FormedBy returns the route operation that forms characteristic ch.
func (p *Product) FormedBy(ch string) (Operation, bool) {
	for _, op := range p.Route {
		if slices.Contains(op.Forms, ch) {
			return op, true
		}
	}
	return Operation{}, false
}

// Validate checks the product: its ISO 6360 number, tolerances and route.
// Errors: EINVALID naming the field.
func (p Product) Validate() error {
	if len(p.ISO) != 15 || strings.Trim(p.ISO, "0123456789") != "" {
		return Errorf(EINVALID, "iso: want a 15-digit ISO 6360 number, got %q", p.ISO)
	}
	if err := p.validateISO(); err != nil {
		return err
	}
	if p.Name == "" {
		return Errorf(EINVALID, "name: required")
	}
	for ch, t := range p.Tolerances {
		if !slices.Contains(Characteristics, ch) {
			return Errorf(EINVALID, "tolerances: unknown characteristic %q", ch)
		}
		if !(t.Lower <= t.Nominal && t.Nominal <= t.Upper) || t.Lower == t.Upper {
			return Errorf(EINVALID, "tolerances.%s: want lsl ≤ nominal ≤ usl and lsl < usl", ch)
		}
	}
	if _, ok := SPCRuleSets[p.SPCRules]; p.SPCRules != "" && !ok {
		return Errorf(EINVALID, "spc_rules: want nelson, western_electric or aiag, got %q", p.SPCRules)
	}
	if len(p.Route) == 0 {
		return Errorf(EINVALID, "route: missing (at least one operation)")
	}
	formed := map[string]int{}
	for i, op := range p.Route {
		f := fmt.Sprintf("route[%d]", i)
		for _, ch := range op.Forms {
			if !slices.Contains(Characteristics, ch) {
				return Errorf(EINVALID, "%s.forms: unknown characteristic %q", f, ch)
			}
			if n, dup := formed[ch]; dup {
				return Errorf(EINVALID, "%s.forms: %q is already formed by operation %d", f, ch, n)
			}
			formed[ch] = op.Number
		}
		switch {
		case op.Number <= 0 || (i > 0 && op.Number <= p.Route[i-1].Number):
			return Errorf(EINVALID, "%s.number: must be > 0 and ascending, got %d", f, op.Number)
		case op.Group == "":
			return Errorf(EINVALID, "%s.group: required", f)
		case op.Program == "":
			return Errorf(EINVALID, "%s.program: required", f)
		case op.IdealCycleS <= 0:
			return Errorf(EINVALID, "%s.ideal_cycle_s: must be > 0", f)
		}
	}
	return nil
}
