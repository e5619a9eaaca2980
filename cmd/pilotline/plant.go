package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mqtt"
	"github.com/pilotline/pilotline/mqtt/plant"
)

// PlantMain is `pilotline plant`: the plant view over the MQTT broker.
type PlantMain struct {
	Broker      string
	HTTPAddr    string
	ClientID    string
	Username    string
	PasswordEnv string
	CAFile      string
	LogLevel    string

	stdout, stderr io.Writer
	logger         *slog.Logger
	tls            *tls.Config
	password       string
	view           *plant.View
	ready          chan struct{}
}

// NewPlantMain returns the plant command writing to stdout and stderr.
func NewPlantMain(stdout, stderr io.Writer) *PlantMain {
	return &PlantMain{stdout: stdout, stderr: stderr, ready: make(chan struct{})}
}

// Ready is closed once the page listens.
func (m *PlantMain) Ready() <-chan struct{} { return m.ready }

// ParseFlags parses and validates the flags.
func (m *PlantMain) ParseFlags(_ context.Context, args []string) error {
	fs := newFlagSet("plant", "Serves the plant view: every line publishing to the MQTT broker as a Sparkplug B edge node,\nas live cards linking to each line's own twin. Keeps no store; prints the page's URL.", m.stderr)
	fs.StringVar(&m.Broker, "mqtt", "", "the plant's MQTT broker `URL` (tcp://HOST:1883, ssl://HOST:8883); required")
	fs.StringVar(&m.HTTPAddr, "http", "127.0.0.1:8090", "plant view listen `ADDR`; port 0 = any free port")
	fs.StringVar(&m.ClientID, "client-id", "", "MQTT client id (default: pilotline-plant- and a number)")
	fs.StringVar(&m.Username, "username", "", "MQTT user name")
	fs.StringVar(&m.PasswordEnv, "password-env", "", "environment `VAR` holding the MQTT password")
	fs.StringVar(&m.CAFile, "ca-file", "", "PEM CA bundle `FILE` for ssl:// and wss:// brokers (default: the system's)")
	fs.StringVar(&m.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if m.Broker == "" {
		return errors.New("--mqtt: the broker URL is required, e.g. --mqtt tcp://127.0.0.1:1883")
	}
	if err := mqtt.ValidBrokerURL(m.Broker); err != nil {
		return fmt.Errorf("--mqtt: %s", mes.ErrorMessage(err))
	}
	lvl, err := parseLevel(m.LogLevel)
	if err != nil {
		return err
	}
	if m.PasswordEnv != "" {
		pw, ok := os.LookupEnv(m.PasswordEnv)
		if !ok {
			return fmt.Errorf("--password-env: $%s is not set", m.PasswordEnv)
		}
		m.password = pw
	}
	if m.CAFile != "" {
		pem, err := os.ReadFile(m.CAFile)
		if err != nil {
			return fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--ca-file: no PEM certificate in %s", m.CAFile)
		}
		m.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	m.logger = slog.New(slog.NewTextHandler(m.stderr, &slog.HandlerOptions{Level: lvl}))
	return nil
}

// Run serves the plant view until ctx is done.
func (m *PlantMain) Run(ctx context.Context) error {
	v, err := plant.New(plant.Options{Broker: m.Broker, ClientID: m.ClientID, Username: m.Username, Password: m.password,
		TLS: m.tls, Addr: m.HTTPAddr, Logger: m.logger})
	if err != nil {
		return err
	}
	if err := v.Open(); err != nil {
		return err
	}
	m.view = v
	close(m.ready)
	fmt.Fprintf(m.stdout, "Pilotline plant view: %s (broker %s)\n", v.URL(), m.Broker)
	v.Run(ctx)
	return nil
}

// URL is the page's base URL, valid once Ready is closed.
func (m *PlantMain) URL() string { return m.view.URL() }

// Close disconnects and stops the page.
func (m *PlantMain) Close() error {
	if m.view == nil {
		return nil
	}
	return m.view.Close()
}
