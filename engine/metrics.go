package engine

import (
	"context"

	"github.com/flowtel/flowtel/encode"
)

// Metrics folds finished runs into request and node metrics. It is owned
// by the pipeline goroutine.
type Metrics struct{}

func newMetrics(*Engine) *Metrics { return &Metrics{} }

// observeRun is called by the pipeline for every finished run.
func (m *Metrics) observeRun(*encode.Run) {}

// shutdown is called by the pipeline at Shutdown, before the sink is shut
// down: a final collection and export go here.
func (m *Metrics) shutdown(context.Context) error { return nil }
