package export

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// TestTLSFileSettingBase64DERNotPrinted puts a private key's DER, in
// base64 without PEM armour (as a secret store may hand it out), where a
// TLS file's path goes: FromLookup's error, New's error and the printed
// Config must not show it. The PEM check (-----BEGIN, or its base64)
// missed it, and the path was printed whole ("cannot read \"MIG...\"").
func TestTLSFileSettingBase64DERNotPrinted(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range []any{ec, rk} {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, base64.StdEncoding.EncodeToString(der), base64.RawURLEncoding.EncodeToString(der))
	}
	der, _ := x509.MarshalECPrivateKey(ec)
	keys = append(keys, base64.StdEncoding.EncodeToString(der))
	for _, key := range keys {
		// Any 24 bytes of it would be a leak.
		probe := key[len(key)/2 : len(key)/2+24]
		for _, name := range []string{"OTEL_EXPORTER_OTLP_CLIENT_KEY", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CERTIFICATE"} {
			env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4317", name: key}
			_, err := FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err == nil || strings.Contains(err.Error(), probe) || !strings.Contains(err.Error(), name) {
				t.Errorf("%s: FromLookup = %v, want an error naming it without the key", name, err)
			}
		}
		c := Config{Endpoint: "https://collector:4317", CertFile: "/nonexistent/client.crt", KeyFile: key}
		if _, err := New(c); err == nil || strings.Contains(err.Error(), probe) {
			t.Errorf("New = %v, want an error without the key", err)
		}
		for _, s := range []string{c.String(), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
			if strings.Contains(s, probe) {
				t.Errorf("the printed Config shows the key: %s", s)
			}
		}
	}
}
