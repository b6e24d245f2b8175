package eino

// Option configures a Handler.
type Option func(*config)

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

func defaultConfig() config {
	return config{maxValue: DefaultMaxValueBytes, maxStream: DefaultMaxStreamBytes, okMessage: "success"}
}

// WithMaxValueBytes bounds each text value the handler records (a tool's
// arguments and result, a query, an output), cut at a UTF-8 boundary
// without copying (default 1024). 0 records none.
func WithMaxValueBytes(n int) Option {
	return func(c *config) { c.maxValue = max(n, 0) }
}

// WithMaxStreamBytes bounds the text the handler gathers from a streamed
// output for the node's output (a model's llm_output), the only buffer it
// keeps per stream (default 4096). 0 gathers none.
func WithMaxStreamBytes(n int) Option {
	return func(c *config) { c.maxStream = max(n, 0) }
}
