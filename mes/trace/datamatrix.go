package trace

import (
	"fmt"
	"strings"

	dmenc "github.com/makiuchi-d/gozxing/datamatrix/encoder"

	"github.com/pilotline/pilotline/mes"
)

// Codewords of ECC 200 ASCII encodation (ISO/IEC 16022 §5.2.3).
const (
	dmPad    = 129 // first pad; the following pads are randomised
	dmDigits = 130 // 130+nn encodes the digit pair nn
	dmFNC1   = 232
	dmGS     = 0x1d // group separator in GS1 data: encoded as FNC1
)

// DataMatrix is a square ECC 200 Data Matrix symbol: its finder and timing
// patterns and data modules, without the quiet zone.
type DataMatrix struct {
	size int
	dark []bool // row-major, row 0 at the top
}

// Size is the number of modules along each side (10 … 144).
func (m *DataMatrix) Size() int { return m.size }

// Dark reports whether the module in column x, row y (0,0 at the top left)
// is dark. Modules outside the symbol are light: they are quiet zone.
func (m *DataMatrix) Dark(x, y int) bool {
	if x < 0 || y < 0 || x >= m.size || y >= m.size {
		return false
	}
	return m.dark[y*m.size+x]
}

// GS1DataMatrix encodes GS1 data as a GS1 DataMatrix: the smallest square
// ECC 200 symbol that holds it, in ASCII encodation, with FNC1 in first
// position so that readers report the symbology identifier ]d2.
//
// data is the element string as mes.UDI.GS1Data writes it: application
// identifiers without parentheses and a group separator (ASCII 29) after a
// variable-length field that another element string follows. Each
// separator is encoded as FNC1, which the GS1 General Specifications
// require and readers transmit as ASCII 29.
//
// Errors: EINVALID when data is empty, holds a character outside GS1
// character set 82, has a separator first, last or doubled, or needs more
// than the 1,558 data codewords of a 144×144 symbol.
func GS1DataMatrix(data string) (*DataMatrix, error) {
	cw, err := gs1Codewords(data)
	if err != nil {
		return nil, err
	}
	return dmSymbol(cw)
}

// dmSymbol builds the smallest square symbol for the data codewords cw:
// pads, error correction, module placement and the region frames.
func dmSymbol(cw []byte) (*DataMatrix, error) {
	info, _ := dmenc.SymbolInfo_Lookup(len(cw), dmenc.SymbolShapeHint_FORCE_SQUARE, nil, nil, false)
	if info == nil {
		return nil, mes.Errorf(mes.EINVALID, "gs1 datamatrix: %d data codewords do not fit the largest symbol (144×144, 1558 codewords)", len(cw))
	}
	cw = dmPadCodewords(cw, info.GetDataCapacity())
	all, err := dmenc.ErrorCorrection_EncodeECC200(cw, info)
	if err != nil {
		return nil, fmt.Errorf("gs1 datamatrix: error correction: %w", err)
	}
	if info.GetSymbolWidth() == 144 {
		all = dm144Interleave(all, info.GetDataCapacity())
	}
	place := dmenc.NewDefaultPlacement(all, info.GetSymbolDataWidth(), info.GetSymbolDataHeight())
	place.Place()
	return dmLayout(place, info), nil
}

// dm144Interleave reorders the error correction codewords of a 144×144
// symbol from the interleaving ISO/IEC 16022 describes to the one the
// industry prints and most scanners (gozxing's among them) read: the
// interleave of the ten blocks runs on from the data into the error
// correction, so the first error correction codeword after the 1,558 data
// codewords belongs to block 9, not block 1. The two cannot be told apart
// in a symbol, so a symbol follows the convention its readers expect.
func dm144Interleave(cw []byte, dataCap int) []byte {
	const blocks = 10
	out := make([]byte, len(cw))
	copy(out, cw[:dataCap])
	for k := range len(cw) - dataCap {
		m, j := k/blocks, k%blocks
		out[dataCap+k] = cw[dataCap+m*blocks+(j+dataCap%blocks)%blocks]
	}
	return out
}

// gs1Codewords encodes FNC1 and data in ASCII encodation: digit pairs in
// one codeword each, separators as FNC1, other characters as value+1.
func gs1Codewords(data string) ([]byte, error) {
	if data == "" {
		return nil, mes.Errorf(mes.EINVALID, "gs1 datamatrix: no data")
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == dmGS {
			if i == 0 || i == len(data)-1 || data[i-1] == dmGS {
				return nil, mes.Errorf(mes.EINVALID, "gs1 datamatrix: group separator at %d: want one only between element strings", i)
			}
			continue
		}
		if !strings.ContainsRune(mes.GS1CharSet82, rune(c)) {
			return nil, mes.Errorf(mes.EINVALID, "gs1 datamatrix: character %q at %d is not in GS1 character set 82", data[i], i)
		}
	}
	cw := make([]byte, 0, len(data)/2+2)
	cw = append(cw, dmFNC1)
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == dmGS:
			cw = append(cw, dmFNC1)
		case isDigit(c) && i+1 < len(data) && isDigit(data[i+1]):
			cw = append(cw, dmDigits+(c-'0')*10+(data[i+1]-'0'))
			i++
		default:
			cw = append(cw, c+1)
		}
	}
	return cw, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// dmPadCodewords fills cw up to capacity: one plain pad, then pads
// randomised by their 1-based position (253-state algorithm, ISO/IEC 16022
// Annex B), so that long runs of pads do not print as a flat pattern.
func dmPadCodewords(cw []byte, capacity int) []byte {
	if len(cw) < capacity {
		cw = append(cw, dmPad)
	}
	for len(cw) < capacity {
		pos := len(cw) + 1
		v := dmPad + (149*pos)%253 + 1
		if v > 254 {
			v -= 254
		}
		cw = append(cw, byte(v))
	}
	return cw
}

// dmLayout frames each data region of the placed codewords with its
// finder pattern (solid left column and bottom row) and timing pattern
// (alternating top row and right column).
func dmLayout(place *dmenc.DefaultPlacement, info *dmenc.SymbolInfo) *DataMatrix {
	n := info.GetSymbolWidth()
	rw, rh := info.GetMatrixWidth(), info.GetMatrixHeight() // data region, without its frame
	m := &DataMatrix{size: n, dark: make([]bool, n*n)}
	for y := range n {
		ry, by := y/(rh+2), y%(rh+2)
		for x := range n {
			rx, bx := x/(rw+2), x%(rw+2)
			var d bool
			switch {
			case by == rh+1, bx == 0:
				d = true
			case by == 0:
				d = bx%2 == 0
			case bx == rw+1:
				d = by%2 == 1
			default:
				d = place.GetBit(rx*rw+bx-1, ry*rh+by-1)
			}
			m.dark[y*n+x] = d
		}
	}
	return m
}

// String draws the symbol in text, one row a line, '#' for a dark module,
// for logs and test failures.
func (m *DataMatrix) String() string {
	var b strings.Builder
	for y := range m.size {
		for x := range m.size {
			if m.Dark(x, y) {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// darkRuns calls fn for every horizontal run of dark modules: row y,
// columns x to x+n-1. The PDF draws one rectangle a run, which keeps the
// content stream small and leaves no hairline seams between modules.
func (m *DataMatrix) darkRuns(fn func(x, y, n int)) {
	for y := range m.size {
		for x := 0; x < m.size; {
			if !m.Dark(x, y) {
				x++
				continue
			}
			start := x
			for x < m.size && m.Dark(x, y) {
				x++
			}
			fn(start, y, x-start)
		}
	}
}
