package trace

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	_ "time/tzdata" // so a bundle's time zone loads on any machine

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/quality"
)

// Names of the files in a bundle.
const (
	BundleOperationsCSV   = "operations.csv"
	BundleMeasurementsCSV = "measurements.csv"
	BundleJSON            = "record.json"
	BundlePDF             = "record.pdf"
	BundleAuditHead       = "audit-head.json"
	BundleManifest        = "manifest.sha256"
)

// WriteBundle writes a zip of the record's exports: operations.csv,
// measurements.csv, record.json, record.pdf, audit-head.json (the audit
// chain head when exported) and manifest.sha256, which lists the SHA-256
// of every other file in the format of `sha256sum`, so an auditor can check
// it with standard tools as well as with VerifyBundle.
//
// It ranges over burs once per file (and once more to compute the record
// hash when rec.RecordHash is empty).
//
// IMPORTANT: burs must be re-iterable: each range starts again at the
// first bur (a store-backed sequence opens a new read transaction per range).
func WriteBundle(ctx context.Context, w io.Writer, rec *mes.TraceRecord, burs iter.Seq2[*mes.Bur, error]) error {
	if rec.RecordHash == "" {
		if err := rec.ComputeRecordHash(burs); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
	}
	zw := zip.NewWriter(w)
	var manifest strings.Builder
	add := func(name string, write func(io.Writer) error) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: rec.GeneratedAt})
		if err != nil {
			return err
		}
		h := sha256.New()
		if err := write(io.MultiWriter(fw, h)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(&manifest, "%x  %s\n", h.Sum(nil), name)
		return nil
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{BundleOperationsCSV, func(w io.Writer) error { return WriteOperationsCSV(ctx, w, rec, burs) }},
		{BundleMeasurementsCSV, func(w io.Writer) error { return WriteMeasurementsCSV(ctx, w, rec, burs) }},
		{BundleJSON, func(w io.Writer) error { return WriteJSON(ctx, w, rec, burs) }},
		{BundlePDF, func(w io.Writer) error { return WritePDF(ctx, w, rec, burs) }},
		{BundleAuditHead, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(rec.AuditHead)
		}},
	}
	for _, f := range files {
		if err := add(f.name, f.write); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
	}
	if err := add(BundleManifest, func(w io.Writer) error {
		_, err := io.WriteString(w, manifest.String())
		return err
	}); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// Bundle file states in a BundleReport.
const (
	FileOK       = "ok"
	FileAltered  = "altered"  // its SHA-256 differs from the manifest's
	FileMissing  = "missing"  // in the manifest, not in the zip
	FileUnlisted = "unlisted" // in the zip, not in the manifest
)

// BundleFile is one file of a bundle as VerifyBundle found it.
type BundleFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"` // as computed ("" when missing)
	Status string `json:"status"`
}

// BundleReport is what VerifyBundle checked and found.
type BundleReport struct {
	OK            bool          `json:"ok"`
	Batch         string        `json:"batch"`
	Files         []BundleFile  `json:"files"`
	RecordHash    string        `json:"record_hash"` // recomputed from record.json
	Burs          int           `json:"burs"`
	BursChecked   int           `json:"burs_checked"`   // checked against the audit entry of their disposition (quality.CheckBur)
	UnauditedBurs int           `json:"unaudited_burs"` // finished before the batch's first bur entry: covered by the record hash and signatures only
	Signatures    int           `json:"signatures"`
	AuditEntries  int           `json:"audit_entries"`
	AuditHead     mes.ChainHead `json:"audit_head"`
	Problems      []string      `json:"problems"` // each names what was altered
}

func (r *BundleReport) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// VerifyBundle re-hashes every file of a bundle and checks:
//   - each file against the manifest (altered, missing, unlisted files);
//   - the CSV files against record.json, by regenerating them;
//   - the record hash recomputed from record.json against the record's
//     RecordHash and against every signature (21 CFR 11.70 binding), and
//     each signature against its own "sign" audit entry;
//   - every audit entry's hash, the chain links between consecutive
//     entries, and the entries and record.json against audit-head.json;
//   - every bur against the latest audit entry of its disposition
//     (quality.CheckBur), finished burs without one, and bur entries whose
//     bur is not in the record;
//   - that record.json holds each field once, before its burs.
//
// The PDF is checked against the manifest only. The bundle proves its
// content matches the plant's audit chain at AuditHead; compare that head
// with the plant's (`pilotline verify`) to rule out a bundle rebuilt whole.
//
// A readable bundle always returns a report; when anything was altered the
// error is ECONFLICT listing the problems. Errors: EINVALID (not a zip).
func VerifyBundle(r io.ReaderAt, size int64) (*BundleReport, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, mes.Errorf(mes.EINVALID, "bundle: not a zip file: %v", err)
	}
	rep := &BundleReport{}
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	listed := map[string]string{}
	if mf, ok := files[BundleManifest]; !ok {
		rep.problem("%s missing: nothing to check the files against", BundleManifest)
	} else if listed, err = readManifest(mf); err != nil {
		rep.problem("%s unreadable: %v", BundleManifest, err)
	}

	names := make([]string, 0, len(files))
	for n := range files {
		if n != BundleManifest {
			names = append(names, n)
		}
	}
	for n := range listed {
		if _, ok := files[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		bf := BundleFile{Name: n}
		want, isListed := listed[n]
		if f, ok := files[n]; ok {
			sum, err := hashZipFile(f)
			if err != nil {
				rep.problem("%s unreadable: %v", n, err)
			}
			bf.SHA256 = sum
		}
		switch {
		case bf.SHA256 == "" && isListed:
			bf.Status = FileMissing
			rep.problem("%s missing from the bundle", n)
		case !isListed:
			bf.Status = FileUnlisted
			rep.problem("%s is not in the manifest (added)", n)
		case bf.SHA256 != want:
			bf.Status = FileAltered
			rep.problem("%s altered: SHA-256 %s, manifest says %s", n, bf.SHA256, want)
		default:
			bf.Status = FileOK
		}
		rep.Files = append(rep.Files, bf)
	}

	var head mes.ChainHead
	if f, ok := files[BundleAuditHead]; !ok {
		rep.problem("%s missing", BundleAuditHead)
	} else if err := readJSONFile(f, &head); err != nil {
		rep.problem("%s unreadable: %v", BundleAuditHead, err)
	}
	rep.AuditHead = head
	if f, ok := files[BundleJSON]; !ok {
		rep.problem("%s missing", BundleJSON)
	} else {
		verifyRecord(rep, f, files, head)
	}
	rep.OK = len(rep.Problems) == 0
	if !rep.OK {
		return rep, mes.Errorf(mes.ECONFLICT, "bundle altered: %s", strings.Join(rep.Problems, "; "))
	}
	return rep, nil
}

// verifyRecord checks record.json against itself, the CSVs, the signatures
// and the audit chain head.
func verifyRecord(rep *BundleReport, f *zip.File, files map[string]*zip.File, head mes.ChainHead) {
	rc, err := f.Open()
	if err != nil {
		rep.problem("%s unreadable: %v", BundleJSON, err)
		return
	}
	defer rc.Close()

	// The header comes before the burs in record.json, but ReadJSON hands
	// over the header last: buffer nothing, and start the hashers on the
	// first bur from a header peeked at separately.
	hdr, err := peekHeader(f)
	if err != nil {
		rep.problem("%s unreadable: %v", BundleJSON, err)
		return
	}
	if loc, err := time.LoadLocation(hdr.TimeZone); err == nil {
		hdr.Location = loc
	}
	hasher := mes.NewBatchRecordHasher(&hdr.Batch, &hdr.Product, hdr.Nonconformances)
	opsSum, measSum := sha256.New(), sha256.New()
	ops, meas := newCSVHash(opsSum, newOpsCSV(hdr)), newCSVHash(measSum, newMeasCSV(hdr))
	burs := newBurAuditCheck(hdr.Audit)
	// The audit entries are taken from the header line alone: decoding
	// them once is enough, when they are nowhere else in the file.
	rec, seen, err := readJSON(rc, func(b *mes.Bur) error {
		rep.Burs++
		burs.check(rep, b)
		hasher.AddBur(b)
		if err := ops.add(b); err != nil {
			return err
		}
		return meas.add(b)
	}, map[string]bool{"audit": true})
	if err != nil {
		rep.problem("%s unreadable: %v", BundleJSON, err)
		return
	}
	if seen.count["audit"] > 1 || seen.afterBurs["audit"] {
		rep.problem("%s: fields repeated after the burs (content appended): audit", BundleJSON)
	}
	rep.Batch = rec.Batch.ID
	// The checks above used the header line, the record returned by ReadJSON
	// its last value of each field: a field repeated after the burs would
	// show a JSON reader other content than the one verified.
	if !sameHeader(hdr, rec) {
		rep.problem("%s: fields repeated after the burs differ from its header (content appended)", BundleJSON)
	}
	rec.Audit = hdr.Audit
	burs.finish(rep, rec.Batch.ID)
	rep.RecordHash = hasher.Sum()
	if rec.RecordHash != rep.RecordHash {
		rep.problem("%s: content does not match its record hash %s (recomputed %s): burs, batch, product or NCs altered", BundleJSON, rec.RecordHash, rep.RecordHash)
	}

	for name, h := range map[string]*csvHash{BundleOperationsCSV: ops, BundleMeasurementsCSV: meas} {
		want, err := h.sum()
		if err != nil {
			rep.problem("%s: cannot regenerate: %v", name, err)
			continue
		}
		zf, ok := files[name]
		if !ok {
			continue // reported as missing already
		}
		got, err := hashZipFile(zf)
		if err == nil && got != want {
			rep.problem("%s does not match %s (altered, or regenerated from other data)", name, BundleJSON)
		}
	}

	rep.Signatures = len(rec.Signatures)
	signEntries := map[string]mes.AuditEntry{}
	for _, e := range rec.Audit {
		if e.Action == mes.AuditSign && e.ObjectType == mes.AuditObjectSignature {
			signEntries[e.ObjectID] = e
		}
	}
	for _, s := range rec.Signatures {
		if err := s.VerifyBinding(rep.RecordHash); err != nil {
			rep.problem("signature %s (%s, %s): bound to record hash %s, record is %s", s.ID, s.PrintedName, s.Meaning, s.RecordHash, rep.RecordHash)
		}
		if e, ok := signEntries[s.ID]; ok {
			if err := quality.CheckSignature(s, e); err != nil {
				rep.problem("%s", mes.ErrorMessage(err))
			}
		}
	}

	rep.AuditEntries = len(rec.Audit)
	if rec.AuditHead.Seq != head.Seq || rec.AuditHead.Hash != head.Hash {
		rep.problem("%s head seq %d %s differs from %s seq %d %s", BundleJSON, rec.AuditHead.Seq, rec.AuditHead.Hash, BundleAuditHead, head.Seq, head.Hash)
	}
	verifyAuditSegment(rep, rec.Batch.ID, rec.Audit, head)
}

// verifyAuditSegment checks a batch's audit entries: a subset of the plant's
// chain, so its links are checked only between consecutive entries, while
// the batch's own chain (BatchPrevHash) shows entries removed in between.
func verifyAuditSegment(rep *BundleReport, batch string, entries []mes.AuditEntry, head mes.ChainHead) {
	var prev *mes.AuditEntry
	for i := range entries {
		e := &entries[i]
		if h, err := e.ComputeHash(); err != nil || h != e.Hash {
			rep.problem("audit entry seq %d altered: content does not match its hash", e.Seq)
		}
		switch {
		case e.Batch != batch:
			rep.problem("audit entry seq %d belongs to batch %q, not %s", e.Seq, e.Batch, batch)
		case prev == nil && e.BatchPrevHash != mes.AuditGenesisHash:
			rep.problem("audit entries of batch %s before seq %d missing (removed)", batch, e.Seq)
		case prev != nil && e.BatchPrevHash != prev.Hash:
			rep.problem("audit entries of batch %s between seq %d and %d missing (removed)", batch, prev.Seq, e.Seq)
		}
		if prev != nil {
			switch {
			case e.Seq <= prev.Seq:
				rep.problem("audit entry seq %d follows seq %d (reordered or duplicated)", e.Seq, prev.Seq)
			case e.Seq == prev.Seq+1 && e.PrevHash != prev.Hash:
				rep.problem("audit entry seq %d does not link to seq %d", e.Seq, prev.Seq)
			}
		}
		switch {
		case e.Seq > head.Seq:
			rep.problem("audit entry seq %d is beyond the chain head seq %d", e.Seq, head.Seq)
		case e.Seq == head.Seq && e.Hash != head.Hash:
			rep.problem("audit entry seq %d is the chain head but its hash differs from it", e.Seq)
		}
		prev = e
	}
}

// burAuditCheck checks a record's burs, as they stream, against the latest
// audit entry of each bur's disposition: the store's check (VerifyStore)
// with what a record carries, its own batch's entries.
type burAuditCheck struct {
	entries []mes.AuditEntry
	last    map[string]burEntry // serial → its latest bur entry
	// from is the time of the batch's first bur entry (zero: none). The
	// store compares with its first bur entry of any batch; since then every
	// bur has an entry at its finish time, so a bur of this batch finished
	// at or after the batch's first entry had one.
	from time.Time
}

type burEntry struct {
	i    int // index in entries
	seen bool
}

func newBurAuditCheck(audit []mes.AuditEntry) *burAuditCheck {
	c := &burAuditCheck{entries: audit, last: map[string]burEntry{}}
	for i, e := range audit {
		if e.ObjectType != mes.AuditObjectBur {
			continue
		}
		if c.from.IsZero() {
			c.from = e.Time
		}
		c.last[e.ObjectID] = burEntry{i: i}
	}
	return c
}

func (c *burAuditCheck) check(rep *BundleReport, b *mes.Bur) {
	be, ok := c.last[b.Serial]
	switch {
	case ok && be.seen:
		rep.problem("bur %s is in %s more than once (bur duplicated)", b.Serial, BundleJSON)
	case ok:
		c.last[b.Serial] = burEntry{i: be.i, seen: true}
		rep.BursChecked++
		if err := quality.CheckBur(b, c.entries[be.i]); err != nil {
			rep.problem("%s", mes.ErrorMessage(err))
		}
	case b.Disposition == mes.BurInProcess:
	case c.from.IsZero() || b.Finished.Before(c.from):
		rep.UnauditedBurs++
	default:
		rep.problem("bur %s is %s but has no audit entry of its disposition (record altered or entry removed)", b.Serial, b.Disposition)
	}
}

// finish reports the bur entries whose bur never came.
func (c *burAuditCheck) finish(rep *BundleReport, batch string) {
	var gone []string
	for serial, be := range c.last {
		if !be.seen {
			gone = append(gone, serial)
		}
	}
	slices.Sort(gone)
	for _, serial := range gone {
		rep.problem("bur %s of audit entry seq %d is not in %s of batch %s (bur removed from the record)",
			serial, c.entries[c.last[serial].i].Seq, BundleJSON, batch)
	}
}

// sameHeader reports whether two decodings of a record's header hold the
// same content, compared in their JSON encoding, which normalises what
// decoding keeps verbatim. The audit entries are left out: the verifier
// decodes them from the header line only (see verifyRecord).
func sameHeader(a, b *mes.TraceRecord) bool {
	ca, cb := *a, *b
	ca.Audit, cb.Audit = nil, nil
	ja, erra := json.Marshal(&ca)
	jb, errb := json.Marshal(&cb)
	return erra == nil && errb == nil && bytes.Equal(ja, jb)
}

func peekHeader(f *zip.File) (*mes.TraceRecord, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// WriteJSON puts the header on the first line, before the burs.
	br := bufio.NewReaderSize(rc, 64<<10)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	line = append(bytes.TrimSuffix(bytes.TrimSpace(line), []byte(`,"burs":[`)), '}')
	var rec mes.TraceRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// csvHash regenerates a CSV export into a hash, bur by bur.
type csvHash struct {
	h   hash.Hash
	cw  *csv.Writer
	rw  rowWriter
	err error
}

func newCSVHash(h hash.Hash, rw rowWriter) *csvHash {
	cw := csv.NewWriter(h)
	cw.UseCRLF = true
	c := &csvHash{h: h, cw: cw, rw: rw}
	c.err = cw.Write(rw.header())
	return c
}

func (c *csvHash) add(b *mes.Bur) error {
	if c.err == nil {
		c.err = c.rw.rows(c.cw, b)
	}
	return c.err
}

func (c *csvHash) sum() (string, error) {
	c.cw.Flush()
	if c.err != nil {
		return "", c.err
	}
	if err := c.cw.Error(); err != nil {
		return "", err
	}
	return hex.EncodeToString(c.h.Sum(nil)), nil
}

func readManifest(f *zip.File) (map[string]string, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 || name == "" {
			return nil, fmt.Errorf("bad line %q", sc.Text())
		}
		out[name] = sum
	}
	return out, sc.Err()
}

func hashZipFile(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readJSONFile(f *zip.File, v any) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return json.NewDecoder(rc).Decode(v)
}
