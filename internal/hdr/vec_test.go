package hdr

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"unsafe"
)

func TestVecValidates(t *testing.T) {
	if _, err := NewCounterVec(make([]string, 9), 10); !errors.Is(err, ErrTooManyLabels) {
		t.Errorf("9 labels: %v", err)
	}
	if _, err := NewCounterVec([]string{"a"}, 0); !errors.Is(err, ErrInvalidLimit) {
		t.Errorf("limit 0: %v", err)
	}
	if _, err := NewHistogramVec(Config{Digits: 9}, []string{"a"}, 1); !errors.Is(err, ErrInvalidDigits) {
		t.Errorf("digits 9: %v", err)
	}
}

// TestVecLimitAndOverflow adds series concurrently past the limit: exactly
// limit series exist, every add is accounted for in a series or the
// overflow series, and overflowed lookups are counted.
func TestVecLimitAndOverflow(t *testing.T) {
	const limit, keys, per = 10, 25, 40
	v, err := NewCounterVec([]string{"func", "ret"}, limit)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range keys * per {
				k := (i + g) % keys
				lv := LabelValues{fmt.Sprint("f", k), "0"}
				v.With(&lv).Inc()
			}
		})
	}
	wg.Wait()
	if v.Len() != limit {
		t.Fatalf("Len = %d, want %d", v.Len(), limit)
	}
	var total, overflow uint64
	series := 0
	v.Each(func(lv *LabelValues, c *Counter, over bool) {
		if over {
			overflow = c.Value()
			if *lv != (LabelValues{}) {
				t.Errorf("overflow series has labels %v", lv)
			}
			return
		}
		series++
		total += c.Value()
	})
	if series != limit {
		t.Errorf("Each saw %d series", series)
	}
	if total+overflow != 4*keys*per {
		t.Errorf("series %d + overflow %d != %d", total, overflow, 4*keys*per)
	}
	if v.Overflowed() != overflow || overflow == 0 {
		t.Errorf("Overflowed = %d, overflow series = %d", v.Overflowed(), overflow)
	}
	// Same labels give the same series.
	lv := LabelValues{"f0", "0"}
	first := v.With(&lv)
	if second := v.With(&lv); first != second {
		t.Error("With returned different series for the same labels")
	}
}

// TestVecKeepsOwnLabels checks that a series keeps copies of its label
// values: the caller may pass strings over memory it then reuses.
func TestVecKeepsOwnLabels(t *testing.T) {
	v, err := NewVec([]string{"app_id"}, 4, NewCounter)
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("app-1")
	lv := LabelValues{unsafe.String(&buf[0], len(buf))}
	v.With(&lv).Inc()
	copy(buf, "XXXXX")
	lv2 := LabelValues{"app-1"}
	v.With(&lv2).Inc()
	var got []string
	v.Each(func(lv *LabelValues, c *Counter, _ bool) {
		got = append(got, fmt.Sprint(lv[0], "=", c.Value()))
	})
	if len(got) != 1 || got[0] != "app-1=2" {
		t.Errorf("series %v, want [app-1=2]", got)
	}
}
