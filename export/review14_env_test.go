package export

import (
	"errors"
	"strings"
	"testing"
)

// A batch size above the default queue, the queue unset, is refused
// naming the variable the user set and the default it exceeds, not a
// queue variable the user never set.
func TestBatchOverDefaultQueueNamesSetVariable(t *testing.T) {
	for _, name := range []string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTLP_TRACE_MAX_EXPORT_BATCH_SIZE"} {
		_, err := FromLookup(lookupOf(map[string]string{name: "4096"}))
		if !errors.Is(err, ErrInvalidEnv) {
			t.Fatalf("%s=4096 without a queue size: %v, want ErrInvalidEnv", name, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, name) || !strings.Contains(msg, "2048") {
			t.Errorf("%s=4096: %q does not name the variable and the default queue size", name, msg)
		}
		for _, unset := range []string{"OTLP_TRACE_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"} {
			if strings.Contains(msg, unset+")") || strings.Contains(msg, "("+unset) {
				t.Errorf("%s=4096: %q names %s as if it were set", name, msg, unset)
			}
		}
	}
	// Both set: the queue's variable is named.
	_, err := FromLookup(lookupOf(map[string]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4096", "OTEL_BSP_MAX_QUEUE_SIZE": "1000"}))
	if err == nil || !strings.Contains(err.Error(), "OTEL_BSP_MAX_QUEUE_SIZE") {
		t.Errorf("batch 4096 over OTEL_BSP_MAX_QUEUE_SIZE=1000: %v", err)
	}
}
