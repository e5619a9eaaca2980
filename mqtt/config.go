package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/pilotline/pilotline/mes"
)

// Namespace is the Sparkplug B topic namespace.
const Namespace = "spBv1.0"

// Config is a validated plant-bus configuration with its defaults applied.
type Config struct {
	URL        string
	ClientID   string
	Username   string
	Password   string
	TLS        *tls.Config // nil: the system's roots for ssl:// and wss://
	Enterprise string
	Site       string
	Area       string
	Line       string
	TwinURL    string
	QueueMax   int
}

// NewConfig validates the configuration's "mqtt" section for line, with
// brokerURL (from --mqtt) overriding its URL, and applies the defaults.
// Errors: EINVALID naming the field.
func NewConfig(line *mes.LineConfig, brokerURL string) (Config, error) {
	var pb mes.PlantBus
	if line.MQTT != nil {
		pb = *line.MQTT
	}
	if brokerURL != "" {
		pb.URL = brokerURL
	}
	c := Config{
		URL: pb.URL, ClientID: pb.ClientID, Username: pb.Username,
		Enterprise: pb.Enterprise, Site: pb.Site, Area: pb.Area, Line: pb.Line,
		TwinURL: pb.TwinURL, QueueMax: pb.QueueMax,
	}
	if err := ValidBrokerURL(c.URL); err != nil {
		return Config{}, err
	}
	defaults := []struct {
		field string
		v     *string
		def   string
	}{
		{"enterprise", &c.Enterprise, "pilotline"},
		{"site", &c.Site, "site"},
		{"area", &c.Area, "grinding"},
		{"line", &c.Line, slug(line.Name)},
	}
	for _, d := range defaults {
		if *d.v == "" {
			*d.v = d.def
		}
		if err := validLevel(d.field, *d.v); err != nil {
			return Config{}, err
		}
	}
	if c.ClientID == "" {
		c.ClientID = "pilotline-" + c.Line
	}
	if c.QueueMax < 0 {
		return Config{}, mes.Errorf(mes.EINVALID, "mqtt.queue_max: must be ≥ 0, got %d", c.QueueMax)
	}
	if pb.PasswordEnv != "" {
		pw, ok := os.LookupEnv(pb.PasswordEnv)
		if !ok {
			return Config{}, mes.Errorf(mes.EINVALID, "mqtt.password_env: $%s is not set", pb.PasswordEnv)
		}
		c.Password = pw
	}
	if pb.CAFile != "" {
		pem, err := os.ReadFile(pb.CAFile)
		if err != nil {
			return Config{}, mes.Errorf(mes.EINVALID, "mqtt.ca_file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return Config{}, mes.Errorf(mes.EINVALID, "mqtt.ca_file: no PEM certificate in %s", pb.CAFile)
		}
		c.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return c, nil
}

// ValidBrokerURL checks an MQTT broker URL: tcp, mqtt, ssl, tls, mqtts, ws
// or wss with a host and a port. Errors: EINVALID.
func ValidBrokerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return mes.Errorf(mes.EINVALID, "mqtt url: want tcp://HOST:PORT (or ssl://, ws://, wss://), got %q", s)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return mes.Errorf(mes.EINVALID, "mqtt url %q: scheme must be tcp, mqtt, ssl, tls, mqtts, ws or wss", s)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return mes.Errorf(mes.EINVALID, "mqtt url %q: want a host and a port", s)
	}
	return nil
}

// GroupID is the Sparkplug group of the line: its site and area.
func (c Config) GroupID() string { return c.Site + ":" + c.Area }

// NodeID is the Sparkplug edge node id: the line.
func (c Config) NodeID() string { return c.Line }

// UNSRoot is the line's place in the unified namespace:
// {enterprise}/{site}/{area}/{line}.
func (c Config) UNSRoot() string {
	return strings.Join([]string{c.Enterprise, c.Site, c.Area, c.Line}, "/")
}

// SparkplugTopic is spBv1.0/{group}/{type}/{node}[/{device}].
func (c Config) SparkplugTopic(msgType, device string) string {
	t := Namespace + "/" + c.GroupID() + "/" + msgType + "/" + c.NodeID()
	if device != "" {
		t += "/" + device
	}
	return t
}

// validLevel checks one level of the hierarchy: a non-empty topic level
// without MQTT's separators and wildcards (nor ':', which joins site and
// area in the Sparkplug group).
func validLevel(field, v string) error {
	if v == "" || strings.ContainsAny(v, "/+#:\x00") || strings.TrimSpace(v) != v {
		return mes.Errorf(mes.EINVALID, "mqtt.%s: %q must be non-empty, without / + # : or surrounding spaces", field, v)
	}
	return nil
}

// slug is name in lower case with runs of anything but letters and digits
// as one '-'.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 && r != 0xFFFD {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		return "line"
	}
	return b.String()
}

func (c Config) String() string { return fmt.Sprintf("%s as %s (%s)", c.URL, c.ClientID, c.UNSRoot()) }
