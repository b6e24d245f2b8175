package export

import (
	"context"
	"errors"
	"testing"
)

// TestZeroHTTPStore: the zero HTTPStore refuses values and closes (both
// dereferenced nil).
func TestZeroHTTPStore(t *testing.T) {
	var s HTTPStore
	if err := s.Put(context.Background(), "key", []byte("v")); !errors.Is(err, ErrLargeFieldStore) {
		t.Errorf("Put: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
