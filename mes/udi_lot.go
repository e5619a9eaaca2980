package mes

import "strings"

// GS1CharSet82 is the GS1 AI encodable character set 82: the characters a
// lot, serial or other alphanumeric application identifier may hold.
const GS1CharSet82 = gs1CSet82

// LotElementString is the human-readable GS1 element string of the lot's
// UDI, "(01)GTIN-14(11)YYMMDD(10)lot", printed under its carrier; "" when
// the product has no GTIN.
func (r *TraceRecord) LotElementString() string {
	if r.UDIDI == "" {
		return ""
	}
	return "(01)" + r.UDIDI + r.LotPI
}

// LotGS1Data is the lot's UDI as a GS1 DataMatrix carries it after the
// leading FNC1: (01) UDI-DI, (11) date of manufacture and (10) lot, taken
// from UDIDI and LotPI so that the symbol carries exactly what the record
// prints. The lot is the last element string, so no group separator
// follows it. It returns "" and no error when the product has no GTIN.
// Errors: EINVALID when UDIDI is not a GTIN-14, or LotPI is not
// "(11)YYMMDD(10)lot" with a lot of 1..20 characters of GS1 character set 82.
func (r *TraceRecord) LotGS1Data() (string, error) {
	if r.UDIDI == "" {
		return "", nil
	}
	if len(r.UDIDI) != 14 {
		return "", Errorf(EINVALID, "lot udi: udi-di %q: want a GTIN-14", r.UDIDI)
	}
	if err := ValidateGTIN(r.UDIDI); err != nil {
		return "", err
	}
	// LotPI has fixed positions, which keeps a lot holding "(" unambiguous.
	pi := r.LotPI
	if len(pi) < 15 || pi[:4] != "(11)" || strings.Trim(pi[4:10], "0123456789") != "" || pi[10:14] != "(10)" {
		return "", Errorf(EINVALID, "lot udi: production identifier %q: want (11)YYMMDD(10)lot", pi)
	}
	lot := pi[14:]
	if len(lot) > 20 {
		return "", Errorf(EINVALID, "lot udi: (10) %q: want 1..20 characters", lot)
	}
	if i := strings.IndexFunc(lot, func(r rune) bool { return !strings.ContainsRune(gs1CSet82, r) }); i >= 0 {
		return "", Errorf(EINVALID, "lot udi: (10) %q: character %q is not in GS1 character set 82", lot, lot[i])
	}
	return "01" + r.UDIDI + "11" + pi[4:10] + "10" + lot, nil
}
