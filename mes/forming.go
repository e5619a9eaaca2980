package mes

import "slices"

// FormingGroups names, for each QA characteristic, the machine group whose
// operation forms it: a measured value is charted against the grinder that
// performed that operation on the bur (from its genealogy), not against the
// inspection station that measured it. Radial runout of the head against
// the shank is set by the last grinding operation, neck and tip.
var FormingGroups = map[string]string{
	CharShankDiameter: "SHK",
	CharHeadDiameter:  "HEAD",
	CharWorkingLength: "FLT",
	CharOverallLength: "NECK",
	CharRadialRunout:  "NECK",
}

// FormingOperation is the route operation that forms characteristic ch:
// the operation of the group FormingGroups names; false when the route has
// none (then a value is attributed to the bur's last operation).
func (p *Product) FormingOperation(ch string) (Operation, bool) {
	g, ok := FormingGroups[ch]
	if !ok {
		return Operation{}, false
	}
	for _, op := range p.Route {
		if op.Group == g {
			return op, true
		}
	}
	return Operation{}, false
}

// CharacteristicPoints are the values of ch measured on burs, in production
// order (measurement time; burs measured at the same time keep their
// order), each attributed to the grinder of the operation that formed ch.
func (p *Product) CharacteristicPoints(burs []*Bur, ch string) []SPCPoint {
	op := 0
	if o, ok := p.FormingOperation(ch); ok {
		op = o.Number
	}
	pts := SPCPoints(burs, ch, op)
	slices.SortStableFunc(pts, func(a, b SPCPoint) int { return a.Time.Compare(b.Time) })
	return pts
}
