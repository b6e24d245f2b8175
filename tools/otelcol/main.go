// Command otelcol is the OpenTelemetry Collector flowtel's end-to-end tests
// run: the otlp receiver, the batch processor, and the
// prometheusremotewrite, file and debug exporters. It lives in a module of
// its own so that the Collector's dependencies never enter flowtel's go.mod.
//
// Build it with:
//
//	cd tools/otelcol && go build -o "$HOME/.cache/flowtel-bin/otelcol" .
//
// and run it with --config=tools/otelcol/config.yaml.
package main

import (
	"log"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"
)

func main() {
	set := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol",
			Description: "OpenTelemetry Collector for flowtel's end-to-end tests",
			Version:     "0.165.0-flowtel",
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
			},
		},
	}
	if err := otelcol.NewCommand(set).Execute(); err != nil {
		log.Fatalf("collector run finished with error: %v", err)
	}
}
