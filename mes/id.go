package mes

import (
	"regexp"
	"strings"
)

// MaxIDLen is the longest identifier (batch, machine, lot, program, user)
// Pilotline accepts.
const MaxIDLen = 64

// idPattern is what an id may look like: it starts with a letter or digit
// and never contains a slash (nor, checked apart, ".."), so an id taken from
// a path or query cannot walk anywhere it should not.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidID checks identifier v of field (a batch, machine or other id from
// a path, query or body): 1..MaxIDLen letters, digits, '.', '_' and '-',
// starting with a letter or digit, without "..". Serials have their own
// rule (ValidateSerial). Errors: EINVALID naming field.
func ValidID(field, v string) error {
	switch {
	case v == "":
		return Errorf(EINVALID, "%s: required", field)
	case len(v) > MaxIDLen:
		return Errorf(EINVALID, "%s: longer than %d characters", field, MaxIDLen)
	case !idPattern.MatchString(v) || strings.Contains(v, ".."):
		return Errorf(EINVALID, "%s: %q is not a valid id (letters, digits, '.', '_', '-')", field, v)
	}
	return nil
}
