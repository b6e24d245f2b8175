package export

import (
	"testing"
	"time"
)

// TestFromLookupBLRP checks the batch log record processor's variables: a
// run's trace log leaves with its spans, so each bounds the setting both
// share (the smaller wins) and the export timeout bounds the logs'
// request timeout; invalid values are refused by name.
func TestFromLookupBLRP(t *testing.T) {
	c, err := FromLookup(lookupOf(map[string]string{
		"OTEL_BSP_SCHEDULE_DELAY":         "2000",
		"OTEL_BLRP_SCHEDULE_DELAY":        "250",
		"OTEL_BLRP_MAX_QUEUE_SIZE":        "1000",
		"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "100",
		"OTEL_BLRP_EXPORT_TIMEOUT":        "1500",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := TraceBatchConfig{MaxQueueSize: 1000, ScheduleDelay: 250 * time.Millisecond, MaxExportBatchSize: 100, ExportTimeout: defaultTraceExportTimeout}
	if c.TraceBatch != want || c.QueueSpans != 1000 || c.Logs.Timeout != 1500*time.Millisecond {
		t.Errorf("trace batch %+v, queue %d, logs timeout %v; want %+v, 1000, 1.5s", c.TraceBatch, c.QueueSpans, c.Logs.Timeout, want)
	}
	// Larger than the span processor's settings, they change nothing; the
	// logs' timeout is bounded as set.
	c, err = FromLookup(lookupOf(map[string]string{
		"OTEL_BSP_MAX_QUEUE_SIZE":         "500",
		"OTEL_BLRP_MAX_QUEUE_SIZE":        "4096",
		"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "4096",
		"OTEL_BLRP_SCHEDULE_DELAY":        "60000",
		"OTEL_BLRP_EXPORT_TIMEOUT":        "60000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want = TraceBatchConfig{MaxQueueSize: 500, ScheduleDelay: defaultTraceScheduleDelay, MaxExportBatchSize: 500, ExportTimeout: defaultTraceExportTimeout}
	if c.TraceBatch != want || c.Logs.Timeout != DefaultTimeout {
		t.Errorf("trace batch %+v, logs timeout %v; want %+v and %v", c.TraceBatch, c.Logs.Timeout, want, DefaultTimeout)
	}
	wantEnvRefused(t, map[string]string{
		"OTEL_BLRP_MAX_QUEUE_SIZE=0":                                       "OTEL_BLRP_MAX_QUEUE_SIZE",
		"OTEL_BLRP_SCHEDULE_DELAY=soon":                                    "OTEL_BLRP_SCHEDULE_DELAY",
		"OTEL_BLRP_EXPORT_TIMEOUT=-1":                                      "OTEL_BLRP_EXPORT_TIMEOUT",
		"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE=1e3":                              "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
		"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE=300,OTEL_BLRP_MAX_QUEUE_SIZE=200": "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=1000,OTEL_BLRP_MAX_QUEUE_SIZE=200": "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
		"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE=1<<20":                            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
		"OTEL_BLRP_MAX_QUEUE_SIZE=99999999999":                             "OTEL_BLRP_MAX_QUEUE_SIZE",
	})
}
