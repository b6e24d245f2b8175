package eino

import (
	"errors"
	"fmt"
)

// Option configures a Handler.
type Option func(*config) error

type config struct {
	maxValue  int
	maxStream int
	okMessage string
}

// Defaults of the options.
const (
	DefaultMaxValueBytes  = 1024
	DefaultMaxStreamBytes = 4096
)

// ErrInvalidOption is wrapped by the error NewHandler returns for an
// option it refuses.
var ErrInvalidOption = errors.New("eino: invalid option")

func defaultConfig() config {
	return config{maxValue: DefaultMaxValueBytes, maxStream: DefaultMaxStreamBytes, okMessage: "success"}
}

// WithMaxValueBytes bounds each text value the handler records (a tool's
// arguments and result, a query, an output), cut at a UTF-8 boundary
// without copying (default 1024). 0 records none; a negative n is refused.
func WithMaxValueBytes(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: max value bytes %d is negative", ErrInvalidOption, n)
		}
		c.maxValue = n
		return nil
	}
}

// WithMaxStreamBytes bounds the text the handler gathers from a streamed
// output for the node's output (a model's llm_output), the only buffer it
// keeps per stream (default 4096). 0 gathers none; a negative n is refused.
func WithMaxStreamBytes(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: max stream bytes %d is negative", ErrInvalidOption, n)
		}
		c.maxStream = n
		return nil
	}
}
