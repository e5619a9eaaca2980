package trace_test

import (
	"fmt"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/datamatrix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/trace"
)

// renderDataMatrix draws m at px pixels a module with a quiet zone of
// quiet modules, black on white.
func renderDataMatrix(t *testing.T, m *trace.DataMatrix, px, quiet int) *image.Gray {
	t.Helper()
	side := (m.Size() + 2*quiet) * px
	img := image.NewGray(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			c := color.Gray{Y: 255}
			if m.Dark(x/px-quiet, y/px-quiet) {
				c.Y = 0
			}
			img.SetGray(x, y, c)
		}
	}
	return img
}

// decodeDataMatrix locates and reads a Data Matrix in img with gozxing's
// reader and returns the transmitted text and the symbology identifier.
func decodeDataMatrix(t *testing.T, img image.Image) (text, symbology string) {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	res, err := datamatrix.NewDataMatrixReader().Decode(bmp, nil)
	require.NoError(t, err)
	id, _ := res.GetResultMetadata()[gozxing.ResultMetadataType_SYMBOLOGY_IDENTIFIER].(string)
	return res.GetText(), id
}

func TestGS1DataMatrix_RoundTrip(t *testing.T) {
	rec, burs := fixtureRecord(t, 6)
	lot, err := rec.LotGS1Data()
	require.NoError(t, err)
	bur := rec.UDI(burs[5])
	require.NoError(t, bur.Validate())

	tests := []struct {
		name string
		data string
		size int // the smallest square symbol that holds the data
	}{
		{"GTIN only", "0104012345000016", 16},
		{"lot of the fixture batch", lot, 18}, // 18 codewords: fills 18×18 exactly, no pad
		{"bur with serial after a separator", bur.GS1Data(), 22},
		{"all numeric", "01040123450000161126030210123456789012", 20},
		{"odd digit count", "01040123450000161012345", 18},
		{"set 82 punctuation and lower case", "0104012345000016" + "10" + `!"%&'()*+,-./:;<=>?_az` + "\x1d21" + "x", 24},
		{"four data regions", "0104012345000016" + "10" + strings.Repeat("L", 20) + "\x1d21" + strings.Repeat("s", 20), 32},
		{"sixteen data regions", "0104012345000016" + "240" + strings.Repeat("A", 250), 64},
		{"largest symbol, full", "91" + strings.Repeat("z", 1556), 144}, // FNC1 + 91 + 1556 = 1558 codewords
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := trace.GS1DataMatrix(tc.data)
			require.NoError(t, err)
			assert.Equal(t, tc.size, m.Size())

			text, id := decodeDataMatrix(t, renderDataMatrix(t, m, 4, 2))
			// The leading FNC1 and every separator come back as ASCII 29.
			assert.Equal(t, "\x1d"+tc.data, text)
			assert.Equal(t, "]d2", id, "FNC1 in first position: GS1 DataMatrix")
		})
	}
}

// A symbol read upside down and mirrored row order must still be found:
// the finder pattern, not the image orientation, fixes the reading.
func TestGS1DataMatrix_RotatedImage(t *testing.T) {
	rec, _ := fixtureRecord(t, 3)
	lot, err := rec.LotGS1Data()
	require.NoError(t, err)
	m, err := trace.GS1DataMatrix(lot)
	require.NoError(t, err)
	img := renderDataMatrix(t, m, 5, 3)
	b := img.Bounds()
	rot := image.NewGray(b)
	for y := range b.Dy() {
		for x := range b.Dx() {
			rot.SetGray(b.Dx()-1-x, b.Dy()-1-y, img.GrayAt(x, y))
		}
	}
	text, id := decodeDataMatrix(t, rot)
	assert.Equal(t, "\x1d"+lot, text)
	assert.Equal(t, "]d2", id)
}

func TestGS1DataMatrix_Errors(t *testing.T) {
	tests := []struct {
		name, data, msg string
	}{
		{"empty", "", "no data"},
		{"too long for 144x144", "91" + strings.Repeat("z", 1557), "do not fit"},
		{"hash sign", "10AB#C", "not in GS1 character set 82"},
		{"space", "10AB C", "not in GS1 character set 82"},
		{"non-ASCII", "10ÄB", "not in GS1 character set 82"},
		{"other control character", "10AB\x1e21C", "not in GS1 character set 82"},
		{"leading separator", "\x1d10AB", "group separator"},
		{"trailing separator", "10AB\x1d", "group separator"},
		{"doubled separator", "10AB\x1d\x1d21C", "group separator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := trace.GS1DataMatrix(tc.data)
			require.Error(t, err)
			assert.Nil(t, m)
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
			assert.Contains(t, mes.ErrorMessage(err), tc.msg)
		})
	}
}

func TestDataMatrix_FinderAndTiming(t *testing.T) {
	m, err := trace.GS1DataMatrix("0104012345000016")
	require.NoError(t, err)
	n := m.Size()
	for i := range n {
		assert.True(t, m.Dark(0, i), "left finder, row %d", i)
		assert.True(t, m.Dark(i, n-1), "bottom finder, column %d", i)
		assert.Equal(t, i%2 == 0, m.Dark(i, 0), "top timing, column %d", i)
		assert.Equal(t, i%2 == 1, m.Dark(n-1, i), "right timing, row %d", i)
	}
	assert.False(t, m.Dark(-1, 0), "quiet zone")
	assert.False(t, m.Dark(n, n-1), "quiet zone")
}

func ExampleGS1DataMatrix() {
	// (01) GTIN-14 and (10) lot: the lot is last, so no separator follows it.
	m, err := trace.GS1DataMatrix("0104012345000016" + "10" + "B000001")
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Size(), "x", m.Size(), "modules")
	fmt.Print(m)
	// Output:
	// 18 x 18 modules
	// #.#.#.#.#.#.#.#.#.
	// ##.##....#..##...#
	// #...#..##...##..#.
	// #.##.###..#.#.####
	// ###...#...#.#.##..
	// #.#.#.#.#........#
	// #.###.....#.##.##.
	// #..#..##.####.##.#
	// ##...####..#.##...
	// ##.#..#.###.#....#
	// #.#.#####.##..#.#.
	// #.#..#.#..##..##.#
	// #..#####.....#....
	// #...........###.##
	// ##.##.##..#..##.#.
	// #.##..######.#####
	// ##....#...#...#...
	// ##################
}

// BenchmarkGS1DataMatrix encodes a lot's UDI (18 codewords, 18×18).
func BenchmarkGS1DataMatrix(b *testing.B) {
	for b.Loop() {
		if _, err := trace.GS1DataMatrix("01040123450000161126030210B000001"); err != nil {
			b.Fatal(err)
		}
	}
}
