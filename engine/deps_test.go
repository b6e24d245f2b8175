package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the capture core lean: package engine links no
// gRPC, no OpenTelemetry, no exporter and no HTTP server (those live in
// otlp, propagation, otelbridge and promhttp), and at most 100 packages in
// all, the standard library's included.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		switch {
		case strings.HasPrefix(d, "google.golang.org/grpc"),
			strings.HasPrefix(d, "go.opentelemetry.io/"),
			strings.HasPrefix(d, "google.golang.org/protobuf"),
			d == "github.com/flowtel/flowtel/export",
			d == "net/http":
			t.Errorf("engine depends on %s", d)
		}
	}
	if len(deps) > 100 {
		t.Errorf("engine links %d packages, want at most 100", len(deps))
	}
}
