package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/quality"
	"github.com/pilotline/pilotline/mes/trace"
)

// VerifyMain is `pilotline verify`: it walks the store's audit chain and
// quality records, or checks a trace bundle offline, and fails (exit code 1)
// on any alteration.
type VerifyMain struct {
	DataDir string
	Bundle  string
	URL     string // a running server verifies its own store
	Token   string // bearer token (qa or admin) for URL

	dataSet        bool
	stdout, stderr io.Writer
}

// NewVerifyMain returns the verify command.
func NewVerifyMain(stdout, stderr io.Writer) *VerifyMain {
	return &VerifyMain{stdout: stdout, stderr: stderr}
}

// errTampered is Run's error when something was altered: the report on
// stdout already says what.
var errTampered = mes.Errorf(mes.ECONFLICT, "verification failed: records were altered (see above)")

// ParseFlags parses and validates the flags.
func (m *VerifyMain) ParseFlags(_ context.Context, args []string) error {
	fs := newFlagSet("verify", "Checks that nothing was altered: with --data, the store's hash-chained audit trail, its\nnonconformances, every finished bur against its disposition's audit entry, and e-signatures\n(each signature's record hash against the batch as stored); with --url and --token, the same\ncheck run by a running pilotline serve on its own store (which it holds locked);\nwith --bundle, a trace bundle offline.\nExit code 0: intact; 1: altered; 2: usage; 3: could not open the store or bundle, or reach\nthe server (nothing was checked).", m.stderr)
	fs.StringVar(&m.DataDir, "data", "./data", "data `DIR` holding pilotline.db (opened read-only)")
	fs.StringVar(&m.Bundle, "bundle", "", "trace bundle `FILE` (zip) to check instead of the store")
	fs.StringVar(&m.URL, "url", "", "base `URL` of a running pilotline serve, e.g. http://127.0.0.1:8080: it verifies its store")
	fs.StringVar(&m.Token, "token", "", "API bearer `TOKEN` (qa or admin) for --url (default $PILOTLINE_TOKEN)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if m.Token == "" {
		m.Token = os.Getenv("PILOTLINE_TOKEN")
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "data" {
			m.dataSet = true
		}
	})
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := 0
	for _, set := range []bool{m.Bundle != "", m.dataSet, m.URL != ""} {
		if set {
			given++
		}
	}
	switch {
	case given > 1:
		return errors.New("--bundle, --data and --url: give one")
	case m.URL != "" && m.Token == "":
		return errors.New("--token: required with --url (or set $PILOTLINE_TOKEN)")
	}
	return nil
}

// Run verifies and prints the report. Any failure but an alteration means
// nothing was checked: exit code exitCannotOpen, never that of "altered".
func (m *VerifyMain) Run(ctx context.Context) error {
	var err error
	switch {
	case m.Bundle != "":
		err = m.verifyBundle()
	case m.URL != "":
		err = m.verifyServer(ctx)
	default:
		err = m.verifyStore(ctx)
	}
	if err != nil && !errors.Is(err, errTampered) {
		var co cannotOpen
		if !errors.As(err, &co) {
			err = cannotOpen{fmt.Errorf("could not verify: %w", err)}
		}
	}
	return err
}

// verifyServer asks a running server to verify its own store.
func (m *VerifyMain) verifyServer(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(m.URL, "/")+"/api/v1/verify", nil)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+m.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return cannotOpen{fmt.Errorf("verify at %s: %w", m.URL, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return cannotOpen{fmt.Errorf("verify at %s: %s: %s", m.URL, resp.Status, strings.TrimSpace(string(b)))}
	}
	var rep quality.StoreReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return cannotOpen{fmt.Errorf("verify at %s: reading the report: %w", m.URL, err)}
	}
	return m.storeReport(m.URL, &rep)
}

func (m *VerifyMain) verifyBundle() error {
	f, err := os.Open(m.Bundle)
	if err != nil {
		return cannotOpen{fmt.Errorf("--bundle: %w", err)}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("--bundle: %w", err)
	}
	rep, err := trace.VerifyBundle(f, st.Size())
	if rep == nil {
		return err
	}
	fmt.Fprintf(m.stdout, "bundle %s: batch %s, %d burs (%d checked against their audit entry), %d signature(s), %d audit entries, chain head seq %d %s\n",
		m.Bundle, rep.Batch, rep.Burs, rep.BursChecked, rep.Signatures, rep.AuditEntries, rep.AuditHead.Seq, rep.AuditHead.Hash)
	if rep.UnauditedBurs > 0 {
		fmt.Fprintf(m.stdout, "  note: %d bur(s) finished before bur dispositions were audited: covered by the record hash and signatures only\n", rep.UnauditedBurs)
	}
	fmt.Fprintf(m.stdout, "record hash %s\n", rep.RecordHash)
	for _, fl := range rep.Files {
		fmt.Fprintf(m.stdout, "  %-8s %s\n", fl.Status, fl.Name)
	}
	return m.result(rep.Problems)
}

func (m *VerifyMain) verifyStore(ctx context.Context) error {
	db, err := openStoreReadOnly(m.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	src, sigs := storeTraceSource(db)
	rep, err := quality.VerifyStore(ctx, src, sigs)
	if err != nil {
		return err
	}
	return m.storeReport(m.DataDir, rep)
}

// storeReport prints the report of the store at where.
func (m *VerifyMain) storeReport(where string, rep *quality.StoreReport) error {
	fmt.Fprintf(m.stdout, "store %s: %d audit entries (head seq %d %s), %d nonconformance(s), %d signature(s), %d burs checked\n",
		where, rep.AuditEntries, rep.AuditHead.Seq, rep.AuditHead.Hash, rep.NCs, rep.Signatures, rep.Burs)
	if rep.UnauditedBurs > 0 {
		fmt.Fprintf(m.stdout, "  note: %d bur(s) finished before bur dispositions were audited: covered by signatures only\n", rep.UnauditedBurs)
	}
	for _, s := range rep.Superseded {
		fmt.Fprintf(m.stdout, "  note: %s\n", s)
	}
	return m.result(rep.Problems)
}

func (m *VerifyMain) result(problems []string) error {
	if len(problems) == 0 {
		fmt.Fprintln(m.stdout, "OK: no alteration found")
		return nil
	}
	fmt.Fprintf(m.stdout, "ALTERED: %d problem(s)\n", len(problems))
	for _, p := range problems {
		fmt.Fprintf(m.stdout, "  - %s\n", p)
	}
	return errTampered
}

// Close has nothing to release.
func (m *VerifyMain) Close() error { return nil }
