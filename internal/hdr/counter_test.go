package hdr

import (
	"sync"
	"testing"
)

func TestCounterConcurrent(t *testing.T) {
	c := NewCounter()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10_000 {
				c.Inc()
			}
			c.Add(5)
		})
	}
	wg.Wait()
	if got := c.Value(); got != 8*10_005 {
		t.Fatalf("Value = %d, want %d", got, 8*10_005)
	}
}
