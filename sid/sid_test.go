package sid

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/testkit"
)

// exampleConfig is the configuration of the original's example SID
// (docs/original.md, SID).
func exampleConfig() Config {
	return Config{
		Sub: "spf", Location: "hf", IP: "127.0.164.187", Port: "20000", PID: 12345,
		Now: func() time.Time { return time.UnixMilli(1640995200000) },
	}
}

func mustNew(t testing.TB, cfg Config) *Generator {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return g
}

func TestExampleVector(t *testing.T) {
	g := mustNew(t, exampleConfig())
	const want = "spf00390001@hf17e12ef9c00a4bb202"
	if got := g.Next(); got != want {
		t.Fatalf("first SID = %q, want %q", got, want)
	}
	if got := string(g.AppendNext(nil)); got != "spf00390002@hf17e12ef9c00a4bb202" {
		t.Fatalf("second SID = %q, want index 0002", got)
	}
	if g.Len() != len(want) {
		t.Fatalf("Len() = %d, want %d", g.Len(), len(want))
	}
}

func TestAppendNextKeepsPrefix(t *testing.T) {
	g := mustNew(t, exampleConfig())
	got := g.AppendNext([]byte("sid="))
	if string(got) != "sid=spf00390001@hf17e12ef9c00a4bb202" {
		t.Fatalf("AppendNext = %q", got)
	}
}

func TestIndexWraps(t *testing.T) {
	g := mustNew(t, exampleConfig())
	g.index.Store(0xFFFE)
	for _, want := range []uint16{0xFFFF, 0x0000, 0x0001} {
		f, err := Parse(g.Next())
		if err != nil {
			t.Fatal(err)
		}
		if f.Index != want {
			t.Fatalf("index = %#04x, want %#04x", f.Index, want)
		}
	}
}

func TestOneClockReadPerSID(t *testing.T) {
	var reads atomic.Int64
	cfg := exampleConfig()
	cfg.Now = func() time.Time { reads.Add(1); return time.UnixMilli(1640995200000) }
	g := mustNew(t, cfg)
	for i := 0; i < 10; i++ {
		g.Next()
		g.AppendNext(nil)
	}
	if got := reads.Load(); got != 20 {
		t.Fatalf("clock read %d times for 20 SIDs", got)
	}
}

func TestDefaults(t *testing.T) {
	g := mustNew(t, Config{Sub: "spf", Location: "hf", IP: "10.0.0.1", Port: "8080"})
	before := time.Now().UnixMilli() & millisMask
	f, err := Parse(g.Next())
	after := time.Now().UnixMilli() & millisMask
	if err != nil {
		t.Fatal(err)
	}
	if f.Millis < uint64(before) || f.Millis > uint64(after) {
		t.Fatalf("millis %d not within [%d, %d]", f.Millis, before, after)
	}
	if want := uint8(osGetpid() & 0xFF); f.PID != want {
		t.Fatalf("pid byte = %#02x, want %#02x", f.PID, want)
	}
}

func TestNewErrors(t *testing.T) {
	base := exampleConfig()
	tests := []struct {
		name   string
		mutate func(*Config)
		want   error
	}{
		{"empty sub", func(c *Config) { c.Sub = "" }, ErrSub},
		{"sub with @", func(c *Config) { c.Sub = "a@b" }, ErrSub},
		{"sub with space", func(c *Config) { c.Sub = "a b" }, ErrSub},
		{"sub not ASCII", func(c *Config) { c.Sub = "spé" }, ErrSub},
		{"empty location", func(c *Config) { c.Location = "" }, ErrLocation},
		{"location with @", func(c *Config) { c.Location = "@" }, ErrLocation},
		{"location with newline", func(c *Config) { c.Location = "h\nf" }, ErrLocation},
		{"ipv6", func(c *Config) { c.IP = "::1" }, ErrIP},
		{"ipv4 in ipv6", func(c *Config) { c.IP = "::ffff:127.0.0.1" }, ErrIP},
		{"empty ip", func(c *Config) { c.IP = "" }, ErrIP},
		{"host name", func(c *Config) { c.IP = "localhost" }, ErrIP},
		{"short ip", func(c *Config) { c.IP = "127.1" }, ErrIP},
		{"port 3 chars", func(c *Config) { c.Port = "808" }, ErrPort},
		{"empty port", func(c *Config) { c.Port = "" }, ErrPort},
		{"port not decimal", func(c *Config) { c.Port = "80a0" }, ErrPort},
		{"port too big", func(c *Config) { c.Port = "65536" }, ErrPort},
		{"port too long", func(c *Config) { c.Port = "020000" }, ErrPort},
		{"negative pid", func(c *Config) { c.PID = -1 }, ErrPID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.mutate(&cfg)
			g, err := New(cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("New error = %v, want %v", err, tt.want)
			}
			if g != nil {
				t.Fatal("New returned a Generator with an error")
			}
		})
	}
}

// TestConcurrentNoDuplicateWithinWrap issues 1,000,000 SIDs from 8 goroutines
// on the real clock. Two equal SIDs are allowed only when they were issued a
// whole number of index wraps (65536 SIDs) apart in the same millisecond;
// any closer pair would mean a lost or repeated index.
func TestConcurrentNoDuplicateWithinWrap(t *testing.T) {
	const goroutines, perG = 8, 125_000
	g := mustNew(t, Config{Sub: "spf", Location: "hf", IP: "127.0.164.187", Port: "20000"})
	type rec struct {
		sid [32]byte
		seq uint32
	}
	recs := make([]rec, goroutines*perG)
	var wg sync.WaitGroup
	for w := 0; w < goroutines; w++ {
		wg.Go(func() {
			part := recs[w*perG : (w+1)*perG]
			for i := range part {
				b, seq := g.appendNext(part[i].sid[:0])
				if len(b) != 32 {
					t.Errorf("SID %q has length %d, want 32", b, len(b))
					return
				}
				part[i].seq = seq
			}
		})
	}
	wg.Wait()
	seqs := make([]uint32, len(recs))
	for i := range recs {
		seqs[i] = recs[i].seq
	}
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != uint32(i+1) {
			t.Fatalf("sequence %d at position %d: the index skipped or repeated", s, i)
		}
	}
	slices.SortFunc(recs, func(a, b rec) int {
		if c := bytes.Compare(a.sid[:], b.sid[:]); c != 0 {
			return c
		}
		return int(a.seq) - int(b.seq)
	})
	dups := 0
	for i := 1; i < len(recs); i++ {
		if recs[i].sid != recs[i-1].sid {
			continue
		}
		dups++
		if d := recs[i].seq - recs[i-1].seq; d < 1<<16 || d%(1<<16) != 0 {
			t.Fatalf("duplicate SID %q from sequences %d and %d: within one index wrap",
				recs[i].sid[:], recs[i-1].seq, recs[i].seq)
		}
	}
	t.Logf("%d SIDs, %d repeated across index wraps within one millisecond", len(recs), dups)
}

// TestFrozenClockCoversEveryIndex is the worst case of the same clock tick:
// with the clock frozen the SID depends only on the index, so 8 goroutines
// issuing 1,000,000 SIDs must produce each of the 65536 SIDs exactly
// floor or ceil(1,000,000/65536) times, in the counts a gap-free counter gives.
func TestFrozenClockCoversEveryIndex(t *testing.T) {
	const goroutines, perG = 8, 125_000
	g := mustNew(t, exampleConfig())
	counts := make([]atomic.Int32, 1<<16)
	var wg sync.WaitGroup
	for w := 0; w < goroutines; w++ {
		wg.Go(func() {
			var buf [64]byte
			for i := 0; i < perG; i++ {
				b := g.AppendNext(buf[:0])
				f, err := Parse(string(b))
				if err != nil {
					t.Error(err)
					return
				}
				counts[f.Index].Add(1)
			}
		})
	}
	wg.Wait()
	const n = goroutines * perG
	for idx := range counts {
		// Sequences 1..n map to index seq & 0xFFFF.
		want := n >> 16
		if r := n & 0xFFFF; idx >= 1 && idx <= r {
			want++
		}
		if got := int(counts[idx].Load()); got != want {
			t.Fatalf("index %#04x issued %d times, want %d", idx, got, want)
		}
	}
}

// randToken returns a random non-empty printable token without '@' and spaces.
func randToken(r *rand.Rand, max int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:!#$%&*+/=?^`{|}~"
	b := make([]byte, 1+r.IntN(max))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// TestPropertyParseBack renders SIDs from random valid configurations and
// clock readings and checks that Parse gives every field back.
func TestPropertyParseBack(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		var now time.Time
		ms := r.Int64N(1 << 50)
		now = time.UnixMilli(ms)
		o := [4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
		port := fmt.Sprint(1000 + r.IntN(65536-1000))
		cfg := Config{
			Sub: randToken(r, 12), Location: randToken(r, 6),
			IP:   fmt.Sprintf("%d.%d.%d.%d", o[0], o[1], o[2], o[3]),
			Port: port, PID: 1 + r.IntN(1<<22),
			Now: func() time.Time { return now },
		}
		g := mustNew(t, cfg)
		start := r.Uint32()
		g.index.Store(start)
		s := g.Next()
		if len(s) != g.Len() {
			t.Fatalf("%q has length %d, Len() = %d", s, len(s), g.Len())
		}
		f, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		want := Fields{
			Sub: cfg.Sub, PID: uint8(cfg.PID), Index: uint16(start + 1), Location: cfg.Location,
			Millis: uint64(ms) & millisMask, IP3: o[2], IP4: o[3], PortPrefix: port[:2],
		}
		if f != want {
			t.Fatalf("Parse(%q) = %+v, want %+v (config %+v)", s, f, want, cfg)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{
		"", "@", "spf00390001hf17e12ef9c00a4bb202", "spf00390001@hf17e12ef9c00a4bb20@",
		"00390001@hf17e12ef9c00a4bb202", "spf00390001@17e12ef9c00a4bb202",
		"spf0039000g@hf17e12ef9c00a4bb202", "spf00390001@hf17e12ef9c00a4bb203",
		"spf01390001@hf17e12ef9c00a4bb202", "spf00390001@hf17E12ef9c00a4bb202",
		"spf00390001@hf17e12ef9c00a4bbx02",
	} {
		if _, err := Parse(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) error = %v, want ErrMalformed", s, err)
		}
	}
}

// FuzzNew checks that any configuration New accepts yields SIDs that Parse
// reads back to the configured fields, and that New never panics.
func FuzzNew(f *testing.F) {
	f.Add("spf", "hf", "127.0.164.187", "20000", 12345, int64(1640995200000))
	f.Add("a@b", "", "::1", "80", -1, int64(-1))
	f.Fuzz(func(t *testing.T, sub, loc, ip, port string, pid int, ms int64) {
		now := time.UnixMilli(ms)
		g, err := New(Config{Sub: sub, Location: loc, IP: ip, Port: port, PID: pid, Now: func() time.Time { return now }})
		if err != nil {
			return
		}
		s := g.Next()
		fs, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) of a generated SID: %v", s, err)
		}
		if fs.Sub != sub || fs.Location != loc || fs.Index != 1 || fs.PortPrefix != port[:2] || fs.Millis != uint64(ms)&millisMask {
			t.Fatalf("Parse(%q) = %+v, config sub=%q loc=%q port=%q ms=%d", s, fs, sub, loc, port, ms)
		}
	})
}

// FuzzParse checks that Parse never panics and that whatever it accepts is
// rendered back to the same string by a Generator with those fields.
func FuzzParse(f *testing.F) {
	f.Add("spf00390001@hf17e12ef9c00a4bb202")
	f.Add("x@y")
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := Parse(s)
		if err != nil {
			return
		}
		now := time.UnixMilli(int64(fs.Millis))
		g, err := New(Config{
			Sub: fs.Sub, Location: fs.Location, IP: fmt.Sprintf("10.0.%d.%d", fs.IP3, fs.IP4),
			Port: fs.PortPrefix + "00", PID: 256 + int(fs.PID), Now: func() time.Time { return now },
		})
		if err != nil {
			return // A port prefix above "65" cannot come from a valid port.
		}
		g.index.Store(uint32(fs.Index) - 1)
		if got := g.Next(); got != s {
			t.Fatalf("round trip of %q gave %q", s, got)
		}
	})
}

func TestAllocs(t *testing.T) {
	g := mustNew(t, exampleConfig())
	buf := make([]byte, 0, 64)
	t.Run("AppendNext", func(t *testing.T) { testkit.WantAllocs(t, 0, func() { buf = g.AppendNext(buf[:0]) }) })
	t.Run("Next", func(t *testing.T) { testkit.WantAllocs(t, 1, func() { sink = g.Next() }) })
	t.Run("AppendNextAt", func(t *testing.T) { testkit.WantAllocs(t, 0, func() { buf = g.AppendNextAt(buf[:0], 1640995200000) }) })
	real := mustNew(t, Config{Sub: "spf", Location: "hf", IP: "127.0.0.1", Port: "20000"})
	t.Run("AppendNext/time.Now", func(t *testing.T) {
		testkit.WantAllocs(t, 0, func() { buf = real.AppendNext(buf[:0]) })
	})
}

func BenchmarkAppendNext(b *testing.B) {
	g := mustNew(b, Config{Sub: "spf", Location: "hf", IP: "127.0.164.187", Port: "20000"})
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 64)
		for b.Loop() {
			buf = g.AppendNext(buf[:0])
		}
	})
	b.Run("frozenclock", func(b *testing.B) {
		f := mustNew(b, exampleConfig())
		b.ReportAllocs()
		buf := make([]byte, 0, 64)
		for b.Loop() {
			buf = f.AppendNext(buf[:0])
		}
	})
	b.Run("at", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 64)
		for b.Loop() {
			buf = g.AppendNextAt(buf[:0], 1640995200000)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 64)
			for pb.Next() {
				buf = g.AppendNext(buf[:0])
			}
		})
	})
}

func BenchmarkNext(b *testing.B) {
	g := mustNew(b, Config{Sub: "spf", Location: "hf", IP: "127.0.164.187", Port: "20000"})
	b.ReportAllocs()
	for b.Loop() {
		sink = g.Next()
	}
}

// sink keeps results alive so the compiler cannot elide their allocation.
var sink string

func osGetpid() int { return os.Getpid() }

// TestAppendNextAt: AppendNextAt writes what AppendNext writes with
// Config.Now at the same millisecond and takes the next index
// (TestAllocs: it allocates nothing with room in dst).
func TestAppendNextAt(t *testing.T) {
	ms := int64(1640995200000)
	g := mustNew(t, exampleConfig()) // Now: ms
	h := mustNew(t, exampleConfig())
	for range 3 {
		want := string(g.AppendNext(nil))
		if got := string(h.AppendNextAt(nil, ms)); got != want {
			t.Fatalf("AppendNextAt = %q, AppendNext = %q", got, want)
		}
	}
	f, err := Parse(string(h.AppendNextAt([]byte("x"), ms+1)[1:]))
	if err != nil || f.Millis != uint64(ms+1)&millisMask || f.Index != 4 {
		t.Fatalf("Parse = %+v, %v", f, err)
	}
	if got := (&Generator{}).AppendNextAt(nil, ms); len(got) != 0 {
		t.Fatalf("zero Generator: %q", got)
	}
}
