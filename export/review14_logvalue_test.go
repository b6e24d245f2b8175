package export

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// An Exporter and an HTTPStore log through slog as they print: slog's
// JSON handler marshalled them with encoding/json, which calls no String
// method and sees no exported field, so that both logged {}.
func TestExporterAndStoreLogValue(t *testing.T) {
	r := newReceiver(t, ProtocolGRPC, nil)
	r.Start()
	defer r.Stop()
	cfg := testConfig(ProtocolGRPC, r.Endpoint())
	cfg.Headers = map[string]string{"Authorization": "Bearer exp-secret-77"}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, e)
	s, err := NewHTTPStore("http://user:store-secret-88@127.0.0.1:9/b/?sig=store-secret-99", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		buf.Reset()
		slog.New(h).Info("started", "exporter", e, "store", s)
		out := buf.String()
		for _, secret := range []string{"exp-secret-77", "store-secret-88", "store-secret-99"} {
			if strings.Contains(out, secret) {
				t.Errorf("%T logs %s: %s", h, secret, out)
			}
		}
		if strings.Count(out, "export.Exporter{") != 1 || strings.Count(out, "export.HTTPStore{") != 1 || !strings.Contains(out, r.Addr) {
			t.Errorf("%T does not log the exporter and the store as they print: %s", h, out)
		}
	}
}
