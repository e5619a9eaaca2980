package mes

import "slices"

// CharacteristicPoints are the values of ch measured on burs, in production
// order (measurement time; burs measured at the same time keep their
// order), each attributed to the grinder of the operation that formed ch
// (Product.FormedBy; a product that names none attributes them to the
// bur's last operation).
func (p *Product) CharacteristicPoints(burs []*Bur, ch string) []SPCPoint {
	op := 0
	if o, ok := p.FormedBy(ch); ok {
		op = o.Number
	}
	pts := SPCPoints(burs, ch, op)
	slices.SortStableFunc(pts, func(a, b SPCPoint) int { return a.Time.Compare(b.Time) })
	return pts
}
