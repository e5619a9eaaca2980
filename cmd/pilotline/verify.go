package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/trace"
)

// VerifyMain is `pilotline verify`: it walks the store's audit chain and
// quality records, or checks a trace bundle offline, and fails (exit code 1)
// on any alteration.
type VerifyMain struct {
	DataDir string
	Bundle  string

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
	fs := newFlagSet("verify", "Checks that nothing was altered: with --data, the store's hash-chained audit trail, its\nnonconformances, every finished bur against its disposition's audit entry, and e-signatures\n(each signature's record hash against the batch as stored);\nwith --bundle, a trace bundle offline. Exit code 0: intact; 1: altered; 2: usage.", m.stderr)
	fs.StringVar(&m.DataDir, "data", "./data", "data `DIR` holding pilotline.db (opened read-only)")
	fs.StringVar(&m.Bundle, "bundle", "", "trace bundle `FILE` (zip) to check instead of the store")
	if err := parse(fs, args); err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "data" {
			m.dataSet = true
		}
	})
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if m.Bundle != "" && m.dataSet {
		return errors.New("--bundle and --data: give one")
	}
	return nil
}

// Run verifies and prints the report.
func (m *VerifyMain) Run(ctx context.Context) error {
	if m.Bundle != "" {
		return m.verifyBundle()
	}
	return m.verifyStore(ctx)
}

func (m *VerifyMain) verifyBundle() error {
	f, err := os.Open(m.Bundle)
	if err != nil {
		return fmt.Errorf("--bundle: %w", err)
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
	rep, err := src.VerifyStore(ctx, sigs)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "store %s: %d audit entries (head seq %d %s), %d nonconformance(s), %d signature(s), %d burs checked\n",
		m.DataDir, rep.AuditEntries, rep.AuditHead.Seq, rep.AuditHead.Hash, rep.NCs, rep.Signatures, rep.Burs)
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
