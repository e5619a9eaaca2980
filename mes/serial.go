package mes

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxSerialLen bounds a formatted bur serial: it is laser-marked on the shank
// next to the UDI, so it has to stay short.
const MaxSerialLen = 40

// SerialPattern formats bur serials from a line's pattern such as
// "{batch}-{seq:05}": {batch} is the batch id, {seq} the bur's 1-based
// sequence within the batch, {seq:0N} the same zero-padded to N digits.
// Other characters are copied; only letters, digits, '-', '_', '.' and '/'
// may appear outside the placeholders.
type SerialPattern struct {
	parts []serialPart
}

type serialPart struct {
	lit   string
	field string // "", "batch" or "seq"
	width int    // zero-padding width of seq
}

// ParseSerialPattern checks and compiles pattern. It must contain {seq} (or
// {seq:0N}) exactly once so serials within a batch are unique, and {batch}
// at most once. Errors: EINVALID.
func ParseSerialPattern(pattern string) (SerialPattern, error) {
	var p SerialPattern
	seqs, batches := 0, 0
	rest := pattern
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			i = len(rest)
		}
		if lit := rest[:i]; lit != "" {
			if err := checkSerialChars(lit); err != nil {
				return SerialPattern{}, Errorf(EINVALID, "serial pattern %q: %v", pattern, err)
			}
			p.parts = append(p.parts, serialPart{lit: lit})
		}
		rest = rest[i:]
		if rest == "" {
			break
		}
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return SerialPattern{}, Errorf(EINVALID, "serial pattern %q: unclosed '{'", pattern)
		}
		name, format, _ := strings.Cut(rest[1:j], ":")
		rest = rest[j+1:]
		switch name {
		case "batch":
			if format != "" {
				return SerialPattern{}, Errorf(EINVALID, "serial pattern %q: {batch} takes no format", pattern)
			}
			batches++
			p.parts = append(p.parts, serialPart{field: "batch"})
		case "seq":
			w := 0
			if format != "" {
				n, err := strconv.Atoi(format)
				if err != nil || format[0] != '0' || n < 1 || n > 12 {
					return SerialPattern{}, Errorf(EINVALID, "serial pattern %q: want {seq} or {seq:0N} with N in 1..12, got {seq:%s}", pattern, format)
				}
				w = n
			}
			seqs++
			p.parts = append(p.parts, serialPart{field: "seq", width: w})
		default:
			return SerialPattern{}, Errorf(EINVALID, "serial pattern %q: unknown placeholder {%s}", pattern, name)
		}
	}
	if seqs != 1 {
		return SerialPattern{}, Errorf(EINVALID, "serial pattern %q: must contain {seq} or {seq:0N} exactly once", pattern)
	}
	if batches > 1 {
		return SerialPattern{}, Errorf(EINVALID, "serial pattern %q: {batch} at most once", pattern)
	}
	return p, nil
}

// MustParseSerialPattern is ParseSerialPattern for patterns known to be good; it panics otherwise.
func MustParseSerialPattern(pattern string) SerialPattern {
	p, err := ParseSerialPattern(pattern)
	if err != nil {
		panic(err)
	}
	return p
}

// Format returns the serial of bur seq (1-based) of batch.
// Errors: EINVALID (seq < 1, or the serial would be too long or contain
// characters a laser mark cannot carry).
func (p SerialPattern) Format(batch string, seq int) (string, error) {
	if seq < 1 {
		return "", Errorf(EINVALID, "serial: seq must be ≥ 1, got %d", seq)
	}
	var sb strings.Builder
	for _, part := range p.parts {
		switch part.field {
		case "":
			sb.WriteString(part.lit)
		case "batch":
			sb.WriteString(batch)
		case "seq":
			fmt.Fprintf(&sb, "%0*d", part.width, seq)
		}
	}
	s := sb.String()
	if err := ValidateSerial(s); err != nil {
		return "", err
	}
	return s, nil
}

// ValidateSerial checks that s can be a bur serial: 1..MaxSerialLen
// characters from letters, digits, '-', '_', '.' and '/', neither starting
// with '/' nor containing "..", so a serial in a path walks nowhere.
// Errors: EINVALID.
func ValidateSerial(s string) error {
	if s == "" || len(s) > MaxSerialLen {
		return Errorf(EINVALID, "serial: want 1..%d characters, got %d", MaxSerialLen, len(s))
	}
	if err := checkSerialChars(s); err != nil {
		return Errorf(EINVALID, "serial %q: %v", s, err)
	}
	if strings.Contains(s, "..") || strings.HasPrefix(s, "/") {
		return Errorf(EINVALID, "serial: %q is not a bur serial", s)
	}
	return nil
}

func checkSerialChars(s string) error {
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', strings.ContainsRune("-_./", r):
		default:
			return fmt.Errorf("character %q not allowed", r)
		}
	}
	return nil
}
