package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pilotline/pilotline/opcua"
)

// ProbeMain is `pilotline probe`: browse a machine's OPC UA server and
// print the mapping acquisition would use, the first thing an integrator
// runs against a new machine.
type ProbeMain struct {
	Options  opcua.ProbeOptions
	Timeout  time.Duration
	LogLevel string

	stdout, stderr io.Writer
}

// NewProbeMain returns the probe command writing to stdout and stderr.
func NewProbeMain(stdout, stderr io.Writer) *ProbeMain {
	return &ProbeMain{stdout: stdout, stderr: stderr}
}

// ParseFlags parses and validates the flags.
func (m *ProbeMain) ParseFlags(_ context.Context, args []string) error {
	o := &m.Options
	fs := newFlagSet("probe", "Connects to an OPC UA server, finds every machine tool (MachineToolType or a subtype)\nunder Objects/Machines and prints, per machine, the nodes acquisition would read, the\ncapabilities they give, what is missing, and a configuration snippet.", m.stderr)
	fs.StringVar(&o.URL, "url", "", "the server, `opc.tcp://HOST:PORT[/PATH]` (required)")
	fs.StringVar(&o.SecurityPolicy, "security-policy", "None", "None or Basic256Sha256")
	fs.StringVar(&o.SecurityMode, "security-mode", "None", "None, Sign or SignAndEncrypt")
	fs.StringVar(&o.Username, "username", "", "user name; anonymous when empty")
	fs.StringVar(&o.PasswordEnv, "password-env", "", "environment `VAR` holding the password")
	fs.StringVar(&o.DataDir, "data", "./data", "data `DIR`: the OPC UA client certificate (pki/) and the servers trusted (pki/trusted)")
	fs.BoolVar(&o.TrustOnFirstUse, "trust-on-first-use", false, "add the server's certificate to pki/trusted if it is not there yet")
	fs.DurationVar(&m.Timeout, "timeout", time.Minute, "give up after this long")
	fs.StringVar(&m.LogLevel, "log-level", "warn", "log level: debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.URL == "" {
		return errors.New("--url: required")
	}
	if _, err := parseLevel(m.LogLevel); err != nil {
		return err
	}
	c := commonFlags{LogLevel: m.LogLevel}
	o.Logger = c.logger(m.stderr)
	return nil
}

// Run probes the server and prints what it found.
func (m *ProbeMain) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.Timeout)
	defer cancel()
	ms, err := opcua.Probe(ctx, m.Options)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	return opcua.WriteProbe(m.stdout, m.Options.URL, ms)
}

// Close releases nothing.
func (m *ProbeMain) Close() error { return nil }
