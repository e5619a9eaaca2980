package opcua

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// ApplicationURI is the OPC UA application URI of the Pilotline client. It is
// written into the client certificate's subjectAltName, where servers check it.
const ApplicationURI = "urn:pilotline:client"

// Files of the client's certificate store under Options.DataDir.
const (
	pkiDir   = "pki"
	certFile = "client.crt.pem"
	keyFile  = "client.key.pem"
)

// clientIdentity is the client's certificate (DER) and private key.
type clientIdentity struct {
	certDER  []byte
	key      *rsa.PrivateKey
	certPath string
}

// loadOrCreateIdentity reads the client certificate and key from dataDir/pki,
// creating a self-signed RSA 2048 pair on first start. An existing pair is
// never overwritten: servers that trust it keep trusting it.
func loadOrCreateIdentity(dataDir string) (*clientIdentity, error) {
	dir := filepath.Join(dataDir, pkiDir)
	cp, kp := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)
	id, err := readIdentity(cp, kp)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("client certificate: generate key: %w", err)
	}
	der, err := selfSignedCert(key)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(kp, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	if err := os.WriteFile(cp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	return &clientIdentity{certDER: der, key: key, certPath: cp}, nil
}

func readIdentity(certPath, keyPath string) (*clientIdentity, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	cblk, _ := pem.Decode(cb)
	kblk, _ := pem.Decode(kb)
	if cblk == nil || kblk == nil {
		return nil, fmt.Errorf("client certificate: %s or %s is not PEM", certPath, keyPath)
	}
	if _, err := x509.ParseCertificate(cblk.Bytes); err != nil {
		return nil, fmt.Errorf("client certificate %s: %w", certPath, err)
	}
	key, err := x509.ParsePKCS1PrivateKey(kblk.Bytes)
	if err != nil {
		k8, err8 := x509.ParsePKCS8PrivateKey(kblk.Bytes)
		rk, ok := k8.(*rsa.PrivateKey)
		if err8 != nil || !ok {
			return nil, fmt.Errorf("client key %s: not an RSA key: %w", keyPath, err)
		}
		key = rk
	}
	return &clientIdentity{certDER: cblk.Bytes, key: key, certPath: certPath}, nil
}

func selfSignedCert(key *rsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("client certificate: serial: %w", err)
	}
	appURI, _ := url.Parse(ApplicationURI)
	host, _ := os.Hostname()
	dns := []string{"localhost"}
	if host != "" && host != "localhost" {
		dns = append(dns, host)
	}
	now := wall.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Pilotline MES", Organization: []string{"Pilotline"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{appURI},
		DNSNames:              dns,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	return der, nil
}
