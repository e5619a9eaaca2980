package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mes/trace"
)

// exportFormats maps --format to the API's ?format= value.
var exportFormats = map[string]string{
	"csv": "csv", "measurements": "measurements.csv", "json": "json", "pdf": "pdf", "bundle": "bundle",
}

// ExportMain is `pilotline export`: a batch's trace record, from the store
// file (when no server holds it) or from a running server's API.
type ExportMain struct {
	Batch, Format, Out string
	DataDir            string
	URL, Token         string

	stdout, stderr io.Writer
}

// NewExportMain returns the export command.
func NewExportMain(stdout, stderr io.Writer) *ExportMain {
	return &ExportMain{stdout: stdout, stderr: stderr}
}

// ParseFlags parses and validates the flags.
func (m *ExportMain) ParseFlags(_ context.Context, args []string) error {
	fs := newFlagSet("export", "Writes a batch's trace record (record of production): operations CSV, measurements CSV,\nJSON, PDF, or a bundle of them all that `pilotline verify --bundle` checks. While\n`pilotline serve` runs it holds the store's lock: pass --url and --token to export through its API.", m.stderr)
	fs.StringVar(&m.Batch, "batch", "", "batch `ID`, e.g. B000001 (required)")
	fs.StringVar(&m.Format, "format", "bundle", "`FORMAT`: csv, measurements, json, pdf or bundle")
	fs.StringVar(&m.Out, "o", "", "output `FILE` (required; written atomically)")
	fs.StringVar(&m.DataDir, "data", "./data", "data `DIR` holding pilotline.db")
	fs.StringVar(&m.URL, "url", "", "base `URL` of a running pilotline serve, e.g. http://127.0.0.1:8080")
	fs.StringVar(&m.Token, "token", "", "API bearer `TOKEN` for --url (default $PILOTLINE_TOKEN)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if m.Token == "" {
		m.Token = os.Getenv("PILOTLINE_TOKEN")
	}
	switch {
	case m.Batch == "":
		return errors.New("--batch: required")
	case m.Out == "":
		return errors.New("-o: output file required")
	case exportFormats[m.Format] == "":
		return fmt.Errorf("--format: want csv, measurements, json, pdf or bundle, got %q", m.Format)
	case m.URL != "" && m.Token == "":
		return errors.New("--token: required with --url (or set $PILOTLINE_TOKEN)")
	}
	return nil
}

// Run writes the export beside Out and renames it into place.
func (m *ExportMain) Run(ctx context.Context) error {
	err := writeFileAtomic(m.Out, func(w io.Writer) error {
		if m.URL != "" {
			return m.fromAPI(ctx, w)
		}
		return m.fromFile(ctx, w)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "trace record of %s written: %s (%s)\n", m.Batch, m.Out, m.Format)
	return nil
}

// openStoreReadOnly opens the store file for reading while no server holds it.
func openStoreReadOnly(dataDir string) (*bolt.DB, error) {
	path := filepath.Join(dataDir, "pilotline.db")
	if _, err := os.Stat(path); err != nil {
		return nil, cannotOpen{fmt.Errorf("no store at %s: %w", path, err)}
	}
	db, err := bolt.Open(path, bolt.Options{ReadOnly: true})
	if err != nil {
		return nil, cannotOpen{fmt.Errorf("could not open the store %s (if pilotline serve is running, use --url and --token): %w", path, err)}
	}
	return db, nil
}

// storeTraceSource is the trace source on a store file.
func storeTraceSource(db *bolt.DB) (mes.TraceSource, *bolt.SignatureService) {
	sigs := bolt.NewSignatureService(db)
	return mes.TraceSource{Batches: bolt.NewBatchService(db), Products: bolt.NewProductService(db), Burs: bolt.NewBurService(db),
		NCs: bolt.NewNCService(db), Signatures: sigs, Audit: bolt.NewAuditService(db)}, sigs
}

func (m *ExportMain) fromFile(ctx context.Context, w io.Writer) error {
	db, err := openStoreReadOnly(m.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	src, _ := storeTraceSource(db)
	if m.Format == "csv" || m.Format == "measurements" {
		src.Audit = nil // bur rows only: constant memory (see ui.TraceFormat)
	}
	// Offline, the record is as of the line time the store last reached.
	asOf, err := db.LineTime(ctx)
	if err != nil {
		return err
	}
	if asOf.IsZero() {
		asOf = mes.WallClock{}.Now()
	}
	rec, burs, err := src.TraceRecord(ctx, m.Batch, time.Local, asOf.UTC())
	if err != nil {
		return err
	}
	switch m.Format {
	case "csv":
		return trace.WriteOperationsCSV(ctx, w, rec, burs)
	case "measurements":
		return trace.WriteMeasurementsCSV(ctx, w, rec, burs)
	}
	if err := rec.ComputeRecordHash(burs); err != nil {
		return err
	}
	switch m.Format {
	case "json":
		return trace.WriteJSON(ctx, w, rec, burs)
	case "pdf":
		return trace.WritePDF(ctx, w, rec, burs)
	}
	return trace.WriteBundle(ctx, w, rec, burs)
}

func (m *ExportMain) fromAPI(ctx context.Context, w io.Writer) error {
	u := strings.TrimSuffix(m.URL, "/") + "/api/v1/batches/" + url.PathEscape(m.Batch) + "/trace?format=" + url.QueryEscape(exportFormats[m.Format])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+m.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return cannotOpen{fmt.Errorf("export from %s: %w", m.URL, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("export from %s: %s: %s", m.URL, resp.Status, strings.TrimSpace(string(b)))
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// Close has nothing to release.
func (m *ExportMain) Close() error { return nil }
