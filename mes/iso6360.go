package mes

import (
	"fmt"
	"strconv"
)

// ISO6360 is a dental rotary instrument number split into its five
// three-digit groups, e.g. 500 314 001 001 014 for a tungsten carbide round
// bur on a standard friction-grip shank with a 1.4 mm head.
type ISO6360 struct {
	Material int // e.g. 500 tungsten carbide, 806/807 diamond
	Shank    int // shank type and overall length, e.g. 314 FG, 204 RA, 103 HP
	Shape    int // shape and cut
	Grit     int // grit or cut variant
	Size     int // nominal head diameter in 0.1 mm, e.g. 14 = 1.4 mm
}

// ISO 1797 shank types, as they appear in Product.ShankType.
const (
	ShankHP = "HP" // straight handpiece, about 2.35 mm
	ShankRA = "RA" // contra-angle (latch), about 2.35 mm
	ShankFG = "FG" // friction grip, about 1.6 mm
)

// ParseISO6360 splits a 15-digit ISO 6360 number into its groups.
// Errors: EINVALID naming the offending group.
func ParseISO6360(s string) (ISO6360, error) {
	if len(s) != 15 {
		return ISO6360{}, Errorf(EINVALID, "iso: want a 15-digit ISO 6360 number, got %q", s)
	}
	var g [5]int
	for i := range g {
		part := s[3*i : 3*i+3]
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || part[0] == '+' || part[0] == '-' {
			return ISO6360{}, Errorf(EINVALID, "iso: want a 15-digit ISO 6360 number, got %q", s)
		}
		g[i] = n
	}
	n := ISO6360{Material: g[0], Shank: g[1], Shape: g[2], Grit: g[3], Size: g[4]}
	switch {
	case n.Material < 100:
		return ISO6360{}, Errorf(EINVALID, "iso: material group %03d is not a material code (100..999)", n.Material)
	case n.ShankType() == "":
		return ISO6360{}, Errorf(EINVALID, "iso: shank group %03d is not a handpiece (1xx), contra-angle (2xx) or friction-grip (3xx) shank", n.Shank)
	case n.Shape == 0:
		return ISO6360{}, Errorf(EINVALID, "iso: shape group 000 is not a shape code")
	case n.Size == 0:
		return ISO6360{}, Errorf(EINVALID, "iso: size group 000: the head diameter must be > 0")
	}
	return n, nil
}

// ShankType returns the ISO 1797 shank type the shank group names
// ("HP", "RA" or "FG"), or "" for an unknown code.
func (n ISO6360) ShankType() string {
	switch n.Shank / 100 {
	case 1:
		return ShankHP
	case 2:
		return ShankRA
	case 3:
		return ShankFG
	}
	return ""
}

// HeadDiameterMM is the nominal head diameter in millimetres.
func (n ISO6360) HeadDiameterMM() float64 { return float64(n.Size) / 10 }

// String formats the number as its 15 digits.
func (n ISO6360) String() string {
	return fmt.Sprintf("%03d%03d%03d%03d%03d", n.Material, n.Shank, n.Shape, n.Grit, n.Size)
}

// validateISO checks p's ISO 6360 number against the rest of the product:
// the shank type and the nominal head diameter must agree with it, because a
// label that says one size while QA measures against another is a recall.
func (p Product) validateISO() error {
	n, err := ParseISO6360(p.ISO)
	if err != nil {
		return err
	}
	if p.ShankType != "" && p.ShankType != n.ShankType() {
		return Errorf(EINVALID, "shank_type: %q does not match the ISO 6360 shank group %03d (%s)", p.ShankType, n.Shank, n.ShankType())
	}
	if t, ok := p.Tolerances[CharHeadDiameter]; ok {
		// Sizes are in 0.1 mm steps; half a step either way still names the same size.
		if d := t.Nominal - n.HeadDiameterMM(); d < -0.05 || d > 0.05 {
			return Errorf(EINVALID, "tolerances.%s: nominal %.3f mm does not match the ISO 6360 size %03d (%.1f mm)",
				CharHeadDiameter, t.Nominal, n.Size, n.HeadDiameterMM())
		}
	}
	return nil
}
