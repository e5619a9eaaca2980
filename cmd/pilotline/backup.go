package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// BackupMain is `pilotline backup`: a consistent copy of the store, either
// from the file (when no server holds it) or from a running server's API.
type BackupMain struct {
	DataDir string
	Out     string
	URL     string
	Token   string // bearer token for URL

	stdout, stderr io.Writer
}

// NewBackupMain returns the backup command.
func NewBackupMain(stdout, stderr io.Writer) *BackupMain {
	return &BackupMain{stdout: stdout, stderr: stderr}
}

// ParseFlags parses and validates the flags.
func (m *BackupMain) ParseFlags(_ context.Context, args []string) error {
	fs := newFlagSet("backup", "Writes a consistent copy of the store to a file. While `pilotline serve` runs it holds\nthe store's lock: pass --url and --token (an admin's) to copy through its API (GET /api/v1/backup) instead.", m.stderr)
	fs.StringVar(&m.DataDir, "data", "./data", "data `DIR` holding pilotline.db")
	fs.StringVar(&m.Out, "o", "", "output `FILE` (required; written atomically)")
	fs.StringVar(&m.URL, "url", "", "base `URL` of a running pilotline serve, e.g. http://127.0.0.1:8080")
	fs.StringVar(&m.Token, "token", "", "API bearer `TOKEN` of an admin for --url (default $PILOTLINE_TOKEN)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if m.Token == "" {
		m.Token = os.Getenv("PILOTLINE_TOKEN")
	}
	switch {
	case m.Out == "":
		return errors.New("-o: output file required")
	case m.URL != "" && m.Token == "":
		return errors.New("--token: required with --url (or set $PILOTLINE_TOKEN)")
	}
	return nil
}

// Run writes the backup to a temporary file beside Out and renames it into
// place, so a failed backup never leaves a truncated file behind.
func (m *BackupMain) Run(ctx context.Context) error {
	var n int64
	err := writeFileAtomic(m.Out, func(w io.Writer) (err error) {
		if m.URL != "" {
			n, err = m.fromAPI(ctx, w)
		} else {
			n, err = m.fromFile(ctx, w)
		}
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "backup written: %s (%d bytes)\n", m.Out, n)
	return nil
}

func (m *BackupMain) fromFile(ctx context.Context, w io.Writer) (int64, error) {
	db, err := openStoreReadOnly(m.DataDir)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return db.Backup(ctx, w)
}

func (m *BackupMain) fromAPI(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(m.URL, "/")+"/api/v1/backup", nil)
	if err != nil {
		return 0, fmt.Errorf("--url: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+m.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, cannotOpen{fmt.Errorf("backup from %s: %w", m.URL, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("backup from %s: %s: %s", m.URL, resp.Status, strings.TrimSpace(string(b)))
	}
	return io.Copy(w, resp.Body)
}

// Close has nothing to release.
func (m *BackupMain) Close() error { return nil }
