package trace

import _ "embed"

// latinFont prints Latin, Greek and symbols; cjkFont has the Chinese
// glyphs but no Latin ones. fpdf subsets both into each PDF.
var (
	//go:embed fonts/DejaVuSansCondensed.ttf
	latinFont []byte
	//go:embed fonts/DroidSansFallbackFull.ttf
	cjkFont []byte
)

// Fonts returns the Latin and CJK fonts the record's PDF prints with, so
// that a batch's other PDFs (the pilot-run report) print the same way.
func Fonts() (latin, cjk []byte) { return latinFont, cjkFont }
