package export

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pki is a throw-away CA with a server and a client certificate, as PEM
// files in a temporary directory.
type pki struct {
	caFile, certFile, keyFile string // CA, client certificate and key
	server                    tls.Certificate
	pool                      *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	var p pki
	p.caFile = filepath.Join(dir, "ca.pem")
	p.certFile = filepath.Join(dir, "client.pem")
	p.keyFile = filepath.Join(dir, "client-key.pem")
	write := func(name string, b []byte) {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	cc, ck := leaf(2, x509.ExtKeyUsageClientAuth)
	write(p.certFile, cc)
	write(p.keyFile, ck)
	sc, sk := leaf(3, x509.ExtKeyUsageServerAuth)
	if p.server, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	return p
}

func TestTLS(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		p := newPKI(t)
		c := newReceiver(t, protocol, nil)
		c.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
		c.Start()
		defer c.Stop()
		endpoint := "https://" + c.Addr

		t.Run("verified with CA file and client certificate", func(t *testing.T) {
			cfg := testConfig(protocol, endpoint)
			cfg.CAFile, cfg.CertFile, cfg.KeyFile = p.caFile, p.certFile, p.keyFile
			cfg.Compression = CompressionGzip
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			produced := produce(t, e, Traces, "tls", 3, 4)
			flush(t, e)
			if st := e.Stats().Signals[Traces]; st.Exported != produced {
				t.Errorf("stats %+v, want %d exported", st, produced)
			}
			shutdown(t, e)
		})
		for _, tc := range []struct {
			name string
			cfg  func(*Config)
		}{
			{"system roots reject the test CA", func(c *Config) { c.CertFile, c.KeyFile = p.certFile, p.keyFile }},
			{"no client certificate", func(c *Config) { c.CAFile = p.caFile }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cfg := testConfig(protocol, endpoint)
				cfg.Retry.MaxElapsedTime = 200 * time.Millisecond
				tc.cfg(&cfg)
				e, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				produced := produce(t, e, Traces, "bad", 2, 4)
				flush(t, e)
				st := e.Stats().Signals[Traces]
				if st.Exported != 0 || st.Dropped != produced {
					t.Errorf("stats %+v, want all %d dropped", st, produced)
				}
				shutdown(t, e)
			})
		}
	})
}

func TestTLSConfigErrors(t *testing.T) {
	p := newPKI(t)
	for name, cfg := range map[string]Config{
		"missing CA file":   {Endpoint: "https://127.0.0.1:1", CAFile: filepath.Join(t.TempDir(), "none.pem")},
		"CA file not PEM":   {Endpoint: "https://127.0.0.1:1", CAFile: p.keyFile + ".x"},
		"cert without key":  {Endpoint: "https://127.0.0.1:1", CertFile: p.certFile},
		"key is not a cert": {Endpoint: "https://127.0.0.1:1", CertFile: p.keyFile, KeyFile: p.keyFile},
	} {
		if name == "CA file not PEM" {
			if err := os.WriteFile(cfg.CAFile, []byte("not pem"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// TestTLSFilesNotRegular: a certificate or key variable naming a device
// or a named pipe (a mistake, or a path swapped under the process) is
// refused with an error naming it. FromLookup opened the pipe, waiting
// for a writer that never comes, and New read /dev/zero without end.
func TestTLSFilesNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "ca.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	p := newPKI(t)
	for _, path := range []string{"/dev/zero", fifo} {
		for _, name := range []string{"OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_KEY", "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE"} {
			_, err := FromLookup(lookupOf(map[string]string{name: path}))
			if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), name) {
				t.Fatalf("%s=%s: %v, want an error naming it", name, path, err)
			}
		}
		for name, cfg := range map[string]Config{
			"CAFile":   {Endpoint: "https://127.0.0.1:1", CAFile: path},
			"CertFile": {Endpoint: "https://127.0.0.1:1", CertFile: path, KeyFile: p.keyFile},
			"KeyFile":  {Endpoint: "https://127.0.0.1:1", CertFile: p.certFile, KeyFile: path},
		} {
			if _, err := New(cfg); !errors.Is(err, ErrTLS) {
				t.Errorf("%s %s: New returned %v, want an error wrapping ErrTLS", name, path, err)
			}
		}
	}
}

// TestTLSIPv6Zone: an endpoint that is an IPv6 address with a zone
// (https://[fe80::1%25eth0]:4318) is verified against the address, the
// zone left out. The zone names an interface of this host, no part of the
// receiver's address or certificate, and net/http sends none in a Host
// header (RFC 6874); in the TLS ServerName it made crypto/tls verify
// "::1%lo" as a DNS name, which no certificate holds: every export failed
// ("certificate is valid for localhost, not ::1%lo").
func TestTLSIPv6Zone(t *testing.T) {
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		l.Close()
	}
	forEachProtocol(t, func(t *testing.T, protocol string) {
		p := newPKI(t)
		r := newReceiver(t, protocol, nil)
		r.Addr = "[::1]:0"
		r.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
		r.Start()
		defer r.Stop()
		port := r.Addr[strings.LastIndexByte(r.Addr, ':')+1:]
		for _, ep := range []string{"https://[::1%25lo]:" + port, "[::1%25lo]:" + port} {
			cfg := testConfig(protocol, ep)
			cfg.CAFile = p.caFile
			cfg.Retry.MaxElapsedTime = 2 * time.Second
			e, log := newLogged(t, cfg)
			produced := produce(t, e, Traces, "zone", 1, 2)
			flush(t, e)
			shutdown(t, e)
			if st := e.Stats().Signals[Traces]; st.Exported != produced {
				t.Errorf("%s: stats %+v, want %d exported; reported: %v", ep, st, produced, log.all())
			}
		}
	})
	c := Config{Endpoint: "https://[fe80::1%25eth0]:4318"}
	s, err := c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.targets[Traces].tls.ServerName; got != "fe80::1" {
		t.Errorf("ServerName %q, want fe80::1", got)
	}
}

// TestTLSKeyContentNotPrinted: a private key pasted where its file's path
// goes (the variable holding the PEM data, or its base64, as a Kubernetes
// secret gives it) was printed whole by the error refusing it (os.Stat's,
// quoting the path) and by the Config's String.
func TestTLSKeyContentNotPrinted(t *testing.T) {
	p := newPKI(t)
	pemKey, err := os.ReadFile(p.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(pemKey), "\n")
	body := lines[1] // the key's first bytes, base64
	for _, key := range []string{string(pemKey), strings.TrimSpace(string(pemKey)), base64.StdEncoding.EncodeToString(pemKey)} {
		secret := body
		if !strings.HasPrefix(key, "-----") {
			secret = key[20:60]
		}
		for _, name := range []string{"OTEL_EXPORTER_OTLP_CLIENT_KEY", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CERTIFICATE"} {
			_, err := FromLookup(lookupOf(map[string]string{name: key, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": p.certFile}))
			if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), secret) {
				t.Errorf("%s: FromLookup returned %v, want an error naming the variable, not the key", name, err)
			}
		}
		for _, c := range []Config{
			{Endpoint: "https://127.0.0.1:1", CertFile: p.certFile, KeyFile: key},
			{Endpoint: "https://127.0.0.1:1", Logs: SignalConfig{CertFile: p.certFile, KeyFile: key}},
			{Endpoint: "https://127.0.0.1:1", CAFile: key},
		} {
			_, err := New(c)
			if !errors.Is(err, ErrTLS) || strings.Contains(err.Error(), secret) {
				t.Errorf("New returned %v, want ErrTLS without the key", err)
			}
			b, _ := json.Marshal(c)
			for _, out := range []string{c.String(), fmt.Sprintf("%+v", c), string(b)} {
				if strings.Contains(out, secret) {
					t.Errorf("the Config prints the key: %s", out)
				}
			}
		}
	}
}

// TestTLSPathLineBreak: a TLS file's path read from a file with its line
// break (os.ReadFile of a mounted setting) is refused as pemData, whose
// message said only "holds PEM data", sending the user to look for a key
// that is not there: it names the line break too.
func TestTLSPathLineBreak(t *testing.T) {
	p := newPKI(t)
	_, err := New(Config{Endpoint: "https://127.0.0.1:1", CAFile: p.caFile + "\n"})
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "line break") || !strings.Contains(err.Error(), "CAFile") {
		t.Errorf("New returned %v, want ErrTLS naming CAFile and the line break", err)
	}
}
