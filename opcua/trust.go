package opcua

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// The server trust list, laid out as OPC UA applications lay theirs out:
// DataDir/pki/trusted holds the certificates (DER or PEM) of the servers
// Pilotline talks to over a secure channel, DataDir/pki/rejected the ones it
// refused, so an administrator can move a file from one to the other.
const (
	trustedDir  = "trusted"
	rejectedDir = "rejected"
)

// trustServer checks a server's certificate against the trust list. With
// tofu (trust on first use) an unknown certificate is added to it and
// newly is its file; otherwise it is written to rejected and the error
// names it and where to put it.
func (id *clientIdentity) trustServer(der []byte, tofu bool) (newly string, err error) {
	if len(der) == 0 {
		return "", fmt.Errorf("the server sent no certificate for a secure channel")
	}
	pki := filepath.Dir(id.certPath)
	trusted, rejected := filepath.Join(pki, trustedDir), filepath.Join(pki, rejectedDir)
	entries, err := os.ReadDir(trusted)
	if err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("trust list %s: %w", trusted, err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(trusted, e.Name()))
		if err != nil {
			continue
		}
		if blk, _ := pem.Decode(b); blk != nil {
			b = blk.Bytes
		}
		if bytes.Equal(b, der) {
			return "", nil
		}
	}
	sum := sha1.Sum(der)
	thumb := hex.EncodeToString(sum[:])
	name := thumb
	if c, err := x509.ParseCertificate(der); err == nil && c.Subject.CommonName != "" {
		name = fmt.Sprintf("%q (SHA-1 %s)", c.Subject.CommonName, thumb)
	}
	file := thumb + ".der"
	dir := rejected
	if tofu {
		dir = trusted
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("trust list: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), der, 0o644); err != nil {
		return "", fmt.Errorf("trust list: %w", err)
	}
	if tofu {
		return filepath.Join(trusted, file), nil
	}
	return "", fmt.Errorf("server certificate %s is not trusted: move %s to %s/ to trust it (or set acquisition.trust_on_first_use)",
		name, filepath.Join(rejected, file), trusted)
}
