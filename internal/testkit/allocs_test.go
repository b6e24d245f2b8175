package testkit

import "testing"

var sink []byte

func TestWantAllocs(t *testing.T) {
	WantAllocs(t, 0, func() {})
	WantAllocs(t, 1, func() { sink = make([]byte, 64) })
	buf := make([]byte, 0, 8)
	WantAllocs(t, 0, func() { buf = append(buf[:0], "grows once only"...) })
}
