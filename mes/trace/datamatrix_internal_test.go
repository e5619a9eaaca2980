package trace

import (
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/datamatrix"
	dmenc "github.com/makiuchi-d/gozxing/datamatrix/encoder"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// digitMessages are plain (non-GS1) messages that gozxing encodes in ASCII
// encodation, sized to land in symbols of one, four, sixteen and the 36
// regions of 144×144, each padded with several randomised pads.
var digitMessages = []struct {
	name string
	msg  string
}{
	{"12x12 one pad", "12345678"},
	{"14x14 odd digit count", "12345678901"},
	{"32x32 four regions", strings.Repeat("1234567890", 10)},
	{"64x64 sixteen regions", strings.Repeat("0123456789", 45)},
	{"120x120 uneven blocks", strings.Repeat("9876543210", 200)},
	{"144x144", strings.Repeat("5", 2700)},
}

// The pads must match the 253-state randomisation gozxing's own high-level
// encoder applies.
func TestDMPadCodewords_MatchesReferenceEncoder(t *testing.T) {
	for _, tc := range digitMessages {
		t.Run(tc.name, func(t *testing.T) {
			want, err := dmenc.EncodeHighLevel(tc.msg, dmenc.SymbolShapeHint_FORCE_SQUARE, nil, nil)
			require.NoError(t, err)
			cw, err := gs1Codewords(tc.msg)
			require.NoError(t, err)
			cw = cw[1:] // without the FNC1
			require.Less(t, len(cw), len(want), "the message must leave room for pads")
			assert.Equal(t, want[:len(cw)], cw, "digit pairs")
			assert.Equal(t, want, dmPadCodewords(cw, len(want)))
		})
	}
}

// The symbol layout (placement, finder and timing patterns of every region)
// must match gozxing's writer module for module. 144×144 is left out: the
// writer interleaves its error correction as ISO/IEC 16022 describes, not
// as scanners read it (see dm144Interleave).
func TestDMSymbol_MatchesReferenceWriter(t *testing.T) {
	for _, tc := range digitMessages {
		if tc.name == "144x144" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			cw, err := dmenc.EncodeHighLevel(tc.msg, dmenc.SymbolShapeHint_FORCE_SQUARE, nil, nil)
			require.NoError(t, err)
			hints := map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_DATA_MATRIX_SHAPE: dmenc.SymbolShapeHint_FORCE_SQUARE}
			want, err := datamatrix.NewDataMatrixWriter().Encode(tc.msg, gozxing.BarcodeFormat_DATA_MATRIX, 0, 0, hints)
			require.NoError(t, err)

			got, err := dmSymbol(cw)
			require.NoError(t, err)
			require.Equal(t, want.GetWidth(), got.Size())
			require.Equal(t, want.GetHeight(), got.Size())
			diff := 0
			for y := range got.Size() {
				for x := range got.Size() {
					if got.Dark(x, y) != want.Get(x, y) {
						diff++
					}
				}
			}
			assert.Zero(t, diff, "modules differing from the reference writer")
		})
	}
}

func TestDataMatrixDarkRuns(t *testing.T) {
	m := &DataMatrix{size: 4, dark: []bool{
		true, true, false, true,
		false, false, false, false,
		true, true, true, true,
		false, true, true, false,
	}}
	var got [][3]int
	m.darkRuns(func(x, y, n int) { got = append(got, [3]int{x, y, n}) })
	assert.Equal(t, [][3]int{{0, 0, 2}, {3, 0, 1}, {0, 2, 4}, {1, 3, 2}}, got)
}
