package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mes/kpi"
	"github.com/pilotline/pilotline/mes/report"
)

// ReportMain is `pilotline report`: a batch's pilot-run report (health
// check and prescription), from the store file or a running server's API.
type ReportMain struct {
	Batch, Format, Out string
	ConfigPath         string
	DataDir            string
	URL, Token         string
	Volume             int

	stdout, stderr io.Writer
}

// NewReportMain returns the report command.
func NewReportMain(stdout, stderr io.Writer) *ReportMain {
	return &ReportMain{stdout: stdout, stderr: stderr}
}

// ParseFlags parses and validates the flags.
func (m *ReportMain) ParseFlags(_ context.Context, args []string) error {
	fs := newFlagSet("report", "Writes a batch's pilot-run report (中试体检报告): the health check and the\nprescription, as JSON, HTML or PDF. While `pilotline serve` runs it holds the store's\nlock: pass --url and --token to build the report through its API.", m.stderr)
	fs.StringVar(&m.Batch, "batch", "", "batch `ID`, e.g. B000001 (required)")
	fs.StringVar(&m.Format, "format", "pdf", "`FORMAT`: json, html or pdf")
	fs.StringVar(&m.Out, "o", "", "output `FILE` (required; written atomically)")
	fs.StringVar(&m.ConfigPath, "config", "", "line configuration `FILE` (JSON); default: the embedded 25-grinder line")
	fs.StringVar(&m.DataDir, "data", "./data", "data `DIR` holding pilotline.db")
	fs.StringVar(&m.URL, "url", "", "base `URL` of a running pilotline serve, e.g. http://127.0.0.1:8080")
	fs.StringVar(&m.Token, "token", "", "API bearer `TOKEN` for --url (default $PILOTLINE_TOKEN)")
	fs.IntVar(&m.Volume, "volume", 0, "good burs a `YEAR` the prescription targets; 0: the line's takt all year")
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
	case m.Format != "json" && m.Format != "html" && m.Format != "pdf":
		return fmt.Errorf("--format: want json, html or pdf, got %q", m.Format)
	case m.Volume < 0:
		return fmt.Errorf("--volume: must not be negative, got %d", m.Volume)
	case m.URL != "" && m.Token == "":
		return errors.New("--token: required with --url (or set $PILOTLINE_TOKEN)")
	}
	return nil
}

// Run writes the report beside Out and renames it into place.
func (m *ReportMain) Run(ctx context.Context) error {
	err := writeFileAtomic(m.Out, func(w io.Writer) error {
		if m.URL != "" {
			return m.fromAPI(ctx, w)
		}
		return m.fromFile(ctx, w)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "report of %s written: %s (%s)\n", m.Batch, m.Out, m.Format)
	return nil
}

func (m *ReportMain) fromFile(ctx context.Context, w io.Writer) error {
	flags := commonFlags{ConfigPath: m.ConfigPath}
	line, err := flags.loadLine()
	if err != nil {
		return errUsage{fmt.Errorf("--config: %w", err)}
	}
	db, err := openStoreReadOnly(m.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	batches := bolt.NewBatchService(db)
	b, err := batches.FindBatch(ctx, m.Batch)
	if err != nil {
		return err
	}
	events := bolt.NewEventStore(db)
	src := report.Sources{
		Line: line, Products: bolt.NewProductService(db), Burs: bolt.NewBurService(db), Events: events,
		OEE: func(ctx context.Context, q kpi.Query) (*kpi.Report, error) {
			demand, err := batches.ListBatches(ctx, mes.BatchFilter{States: []mes.BatchState{mes.BatchReleased, mes.BatchRunning}})
			if err != nil {
				return nil, err
			}
			return kpi.Compute(ctx, kpi.Input{Line: line, Events: events, Batches: demand}, q)
		},
	}
	// Offline, the report is as of the line time the store last reached.
	asOf, err := db.LineTime(ctx)
	if err != nil {
		return err
	}
	if asOf.IsZero() {
		asOf = mes.WallClock{}.Now()
	}
	r, err := src.Report(ctx, b, m.Volume, asOf.UTC())
	if err != nil {
		return err
	}
	switch m.Format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "html":
		return report.WriteHTML(w, r)
	}
	return report.WritePDF(w, r)
}

func (m *ReportMain) fromAPI(ctx context.Context, w io.Writer) error {
	q := url.Values{"format": {m.Format}}
	if m.Volume > 0 {
		q.Set("volume", strconv.Itoa(m.Volume))
	}
	u := strings.TrimSuffix(m.URL, "/") + "/api/v1/batches/" + url.PathEscape(m.Batch) + "/report?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+m.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return cannotOpen{fmt.Errorf("report from %s: %w", m.URL, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("report from %s: %s: %s", m.URL, resp.Status, strings.TrimSpace(string(b)))
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// Close has nothing to release.
func (m *ReportMain) Close() error { return nil }
