package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
)

// GenerateKey makes an ECDSA P-256 key.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// EncodeKey is a private key as PKCS#8 PEM.
func EncodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// CSR makes a certificate request for key (PEM). The engine ignores its
// names; it signs for the host it enrols.
func CSR(key crypto.Signer) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "vwire host"}}, key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// ParseCert reads the first certificate of a PEM text.
func ParseCert(pemText []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, pemText = pem.Decode(pemText)
		if b == nil {
			return nil, errors.New("no certificate in PEM text")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

// Pair makes a tls.Certificate of a certificate (PEM) and its key.
func Pair(certPEM []byte, key crypto.Signer) (tls.Certificate, error) {
	c, err := ParseCert(certPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	return pair(c.Raw, key)
}

func pair(der []byte, key crypto.Signer) (tls.Certificate, error) {
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	if !samePublic(leaf.PublicKey, key.Public()) {
		return tls.Certificate{}, errors.New("certificate and key do not match")
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func samePublic(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// LoadPair reads a certificate and key from PEM files.
func LoadPair(certPath, keyPath string) (tls.Certificate, error) {
	c, _, err := loadPair(certPath, keyPath)
	return c, err
}

func loadPair(certPath, keyPath string) (tls.Certificate, crypto.Signer, error) {
	c, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return tls.Certificate{}, nil, err
		}
	}
	key, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, nil, fmt.Errorf("%s: not a signing key", keyPath)
	}
	return c, key, nil
}

// writePair stores a certificate and its key; the key is written to a
// temporary file first, so that a crash leaves either pair whole.
func writePair(certPath, keyPath string, der []byte, key crypto.Signer) error {
	k, err := EncodeKey(key)
	if err != nil {
		return err
	}
	if err := WriteFile(keyPath, k, 0o600); err != nil {
		return err
	}
	return WriteFile(certPath, encodeCert(der), 0o644)
}

// WriteFile writes data through a temporary file and a rename.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadPool reads a PEM file of CA certificates.
func LoadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return p, nil
}
