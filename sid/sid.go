package sid

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flowtel/flowtel/internal/hex"
)

// Sentinel errors returned by New, wrapped with the offending value.
var (
	// ErrSub reports an empty or unusable Config.Sub.
	ErrSub = errors.New("sid: invalid sub")
	// ErrLocation reports an empty or unusable Config.Location.
	ErrLocation = errors.New("sid: invalid location")
	// ErrIP reports a Config.IP that is not a dotted IPv4 address.
	ErrIP = errors.New("sid: ip is not IPv4")
	// ErrPort reports a Config.Port shorter than 4 characters or longer
	// than 5, not decimal, or above 65535.
	ErrPort = errors.New("sid: invalid port")
	// ErrPID reports a negative Config.PID.
	ErrPID = errors.New("sid: invalid pid")
	// ErrMalformed reports a string that Parse cannot read as a SID.
	ErrMalformed = errors.New("sid: malformed sid")
)

// Fixed widths of the numeric fields of a SID, in characters.
const (
	pidDigits    = 4
	indexDigits  = 4
	millisDigits = 11
	ipDigits     = 4
	portChars    = 2
	// fixedLen is the length of a SID without sub and location.
	fixedLen = pidDigits + indexDigits + 1 + millisDigits + ipDigits + portChars + 1
	// millisMask keeps the low 44 bits: 11 hex digits.
	millisMask = 1<<(4*millisDigits) - 1
)

// Config identifies the process whose SIDs a Generator issues.
type Config struct {
	// Sub is the service sub-system, e.g. "spf". Required.
	Sub string
	// Location is the data-center location, e.g. "hf". Required.
	Location string
	// IP is the host's dotted IPv4 address; its last two octets enter the SID.
	IP string
	// Port is the service port as configured, 4 or 5 decimal digits (at
	// most 65535); its first two characters enter the SID.
	Port string
	// PID is the process id; its low 8 bits enter the SID. Zero means os.Getpid().
	PID int
	// Now is the clock; nil means time.Now. It is read exactly once per SID.
	Now func() time.Time
}

// Generator issues SIDs. It is safe for concurrent use; see the package doc.
// Make one with New: the zero Generator issues empty SIDs (Len 0).
type Generator struct {
	head  string // sub + %04x(pid & 0xFF)
	mid   string // "@" + location
	tail  string // %02x%02x(octets) + port[:2] + "2"
	now   func() time.Time
	size  int
	index atomic.Uint32
}

// New validates cfg and returns a Generator. It returns an error wrapping
// ErrSub, ErrLocation, ErrIP, ErrPort or ErrPID when cfg would make a
// malformed SID.
func New(cfg Config) (*Generator, error) {
	if err := checkToken(cfg.Sub); err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrSub, cfg.Sub, err)
	}
	if err := checkToken(cfg.Location); err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrLocation, cfg.Location, err)
	}
	addr, err := netip.ParseAddr(cfg.IP)
	if err != nil || !addr.Is4() {
		return nil, fmt.Errorf("%w: %q", ErrIP, cfg.IP)
	}
	if err := checkPort(cfg.Port); err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrPort, cfg.Port, err)
	}
	pid := cfg.PID
	if pid < 0 {
		return nil, fmt.Errorf("%w: %d is negative", ErrPID, pid)
	}
	if pid == 0 {
		pid = os.Getpid()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	octets := addr.As4()

	head := hex.AppendUint(append([]byte(nil), cfg.Sub...), uint64(pid&0xFF), pidDigits)
	tail := hex.AppendUint(nil, uint64(octets[2]), 2)
	tail = hex.AppendUint(tail, uint64(octets[3]), 2)
	tail = append(tail, cfg.Port[:portChars]...)
	tail = append(tail, '2')

	g := &Generator{
		head: string(head),
		mid:  "@" + cfg.Location,
		tail: string(tail),
		now:  now,
		size: len(cfg.Sub) + len(cfg.Location) + fixedLen,
	}
	return g, nil
}

// checkToken accepts non-empty printable ASCII without '@' and spaces, so a
// SID can be split back at its only '@'.
func checkToken(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '@' {
			return fmt.Errorf("byte %#02x at %d is not printable ASCII other than '@'", c, i)
		}
	}
	return nil
}

// checkPort accepts 4 or 5 decimal digits whose value is at most 65535.
func checkPort(s string) error {
	if len(s) < 4 {
		return fmt.Errorf("%d characters, want at least 4", len(s))
	}
	if len(s) > 5 {
		return fmt.Errorf("%d characters, want at most 5", len(s))
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return fmt.Errorf("byte %#02x at %d is not a decimal digit", c, i)
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return fmt.Errorf("%d is above 65535", n)
	}
	return nil
}

// Len returns the length in bytes of every SID g issues.
func (g *Generator) Len() int { return g.size }

// Next returns a new SID. It allocates the string.
func (g *Generator) Next() string {
	var buf [64]byte // Fits every SID whose sub and location together take up to 37 bytes, so only the string is allocated.
	return string(g.AppendNext(buf[:0]))
}

// AppendNext appends a new SID to dst and returns the extended slice. It
// allocates only when dst has less than Len bytes of spare capacity.
func (g *Generator) AppendNext(dst []byte) []byte {
	if g.size == 0 {
		return dst // the zero Generator
	}
	dst, _ = g.appendNext(dst)
	return dst
}

// AppendNextAt is AppendNext for a caller that has read the clock already:
// unixMilli, milliseconds since the Unix epoch, is the SID's time, where
// AppendNext reads time.Now (or Config.Now). The engine stamps a run's SID
// with the run's start, which it reads anyway: time.Now was most of a
// SID's cost (see the package doc).
func (g *Generator) AppendNextAt(dst []byte, unixMilli int64) []byte {
	if g.size == 0 {
		return dst // the zero Generator
	}
	return g.appendAt(dst, g.index.Add(1), unixMilli)
}

// appendNext is AppendNext that also returns the 32-bit sequence number the
// index was taken from, so tests can tell SIDs of different index wraps apart.
func (g *Generator) appendNext(dst []byte) ([]byte, uint32) {
	seq := g.index.Add(1)
	return g.appendAt(dst, seq, g.now().UnixMilli()), seq
}

// appendAt appends the SID of index seq at unixMilli.
func (g *Generator) appendAt(dst []byte, seq uint32, unixMilli int64) []byte {
	ms := uint64(unixMilli) & millisMask
	dst = slices.Grow(dst, g.size)
	dst = append(dst, g.head...)
	dst = hex.AppendUint(dst, uint64(uint16(seq)), indexDigits)
	dst = append(dst, g.mid...)
	dst = hex.AppendUint(dst, ms, millisDigits)
	dst = append(dst, g.tail...)
	return dst
}

// Fields are the parts of a SID, as Parse reads them back.
type Fields struct {
	Sub        string
	PID        uint8 // low 8 bits of the process id
	Index      uint16
	Location   string
	Millis     uint64 // low 44 bits of the epoch milliseconds
	IP3, IP4   uint8  // third and fourth IPv4 octets
	PortPrefix string // first two characters of the port
}

// Parse reads a SID back into its fields. It returns an error wrapping
// ErrMalformed when s is not a SID of the package's format.
func Parse(s string) (Fields, error) {
	var f Fields
	at := strings.IndexByte(s, '@')
	if at < 0 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return f, fmt.Errorf("%w %q: want exactly one '@'", ErrMalformed, s)
	}
	left, right := s[:at], s[at+1:]
	const leftFixed = pidDigits + indexDigits
	const rightFixed = millisDigits + ipDigits + portChars + 1
	if len(left) <= leftFixed || len(right) <= rightFixed {
		return f, fmt.Errorf("%w %q: too short", ErrMalformed, s)
	}
	f.Sub = left[:len(left)-leftFixed]
	f.Location = right[:len(right)-rightFixed]
	if checkToken(f.Sub) != nil || checkToken(f.Location) != nil {
		return f, fmt.Errorf("%w %q: sub or location not printable ASCII", ErrMalformed, s)
	}
	nums := left[len(f.Sub):]
	pid, ok1 := hex.ParseUint(nums[:pidDigits])
	idx, ok2 := hex.ParseUint(nums[pidDigits:])
	r := right[len(f.Location):]
	ms, ok3 := hex.ParseUint(r[:millisDigits])
	ip3, ok4 := hex.ParseUint(r[millisDigits : millisDigits+2])
	ip4, ok5 := hex.ParseUint(r[millisDigits+2 : millisDigits+4])
	f.PortPrefix = r[millisDigits+ipDigits : millisDigits+ipDigits+portChars]
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || pid > 0xFF || r[len(r)-1] != '2' || checkPortPrefix(f.PortPrefix) != nil {
		return f, fmt.Errorf("%w %q: bad numeric field", ErrMalformed, s)
	}
	f.PID, f.Index, f.Millis, f.IP3, f.IP4 = uint8(pid), uint16(idx), ms, uint8(ip3), uint8(ip4)
	return f, nil
}

func checkPortPrefix(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return ErrMalformed
		}
	}
	return nil
}
