// Package trace writes a batch's record of production for auditors and
// customers: two CSV files (bur × operation, and measurements), the whole
// nested record as JSON, a PDF record of production / certificate of
// conformity with Chinese and English labels, and a zip bundle of all of
// them with a SHA-256 manifest and the audit-chain head that VerifyBundle
// checks offline.
//
// Every writer takes the burs as an iterator and handles one bur at a time,
// so CSV and JSON exports of a batch of any size run in constant memory.
// The PDF embeds DroidSansFallbackFull.ttf (Apache-2.0, see fonts/NOTICE.txt)
// for its CJK glyphs, so it renders the same on any machine.
//
// The lot's UDI is printed as a GS1 DataMatrix (ECC 200, FNC1 first) with
// its element string; GS1DataMatrix encodes it in ASCII encodation, using
// gozxing's error correction and module placement. Each bur's UDI is
// printed as its element string in the record's appendix.
package trace
