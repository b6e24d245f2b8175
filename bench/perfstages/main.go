// Command perfstages attributes a CPU profile of the load generator to the
// stages a span goes through (capture, pipeline, encode, gRPC send,
// receive/count, and the rest: the generator itself, GC, the scheduler)
// and prints, per delivered span, each stage's CPU time beside its floor:
// what the least the stage must do costs on this machine (one clock read,
// a memory copy of the span's encoded bytes, a loopback TCP write of them
// for the send stage and their read for the receive stage), measured here
// in thread CPU time: the first two the least of 40 samples, the loopback
// the least of 5 rounds of writes and reads of 256 KiB, the writer's and
// the reader's threads each (loopbackFloor).
// scripts/perf.sh writes its table into PERFORMANCE.md:
//
//	loadgen -workload synthetic -block -rate 0 -logs=false -json -cpuprofile cpu.prof >run.json
//	go run ./bench/perfstages -bin loadgen -profile cpu.prof -json run.json
//
// A sample goes to the first stage, in the order of the table, that one of
// its stack's frames matches (stages below): encode called by the pipeline
// is encode, a gRPC write of the exporter is send, and GC work, assists
// included, is GC whoever triggered it. The samples come from `go tool
// pprof -traces`, so nothing but the Go toolchain is needed.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/flowtel/flowtel/internal/testkit"
)

// stage is a row of the table: the samples whose stack has a frame
// matching any (and none matching not) go to it.
type stage struct {
	name, covers string
	any, not     *regexp.Regexp
	floor        string // floorClock, floorCopy, floorWrite, floorRead or """"
}

const (
	floorClock = "one monotonic clock read"
	floorCopy  = "memory copy of the span's bytes"
	floorWrite = "loopback TCP write of the span's bytes"
	floorRead  = "loopback TCP read of the span's bytes"
)

var stages = []stage{
	{name: "GC", covers: "background marking, sweeping, assists",
		any: regexp.MustCompile(`^runtime\.(gcBgMarkWorker|bgsweep|bgscavenge|gcAssistAlloc|gcDrain|markroot|gcStart)`)},
	{name: "receive/count", covers: "the embedded receiver: gRPC server, HTTP/2 reads, bench.CountSpans",
		any:   regexp.MustCompile(`^github\.com/flowtel/flowtel/bench\.|^google\.golang\.org/grpc\.\(\*Server\)|^google\.golang\.org/grpc/internal/transport\.(NewServerTransport|\(\*http2Server\)|newHTTP2Server)|^google\.golang\.org/grpc\.\(\*serverStream\)`),
		floor: floorRead},
	{name: "gRPC send", covers: "export's queue and workers, gRPC client, HTTP/2 writes",
		any:   regexp.MustCompile(`^github\.com/flowtel/flowtel/export\.|^google\.golang\.org/grpc\.(\(\*ClientConn\)|invoke|\(\*clientStream\)|newClientStream)|^google\.golang\.org/grpc/internal/transport\.(NewHTTP2Client|newHTTP2Client|\(\*http2Client\))`),
		floor: floorWrite},
	{name: "encode", covers: "encode (OTLP protobuf) and the OTLP sink",
		any:   regexp.MustCompile(`^github\.com/flowtel/flowtel/(encode|otlp)\.`),
		floor: floorCopy},
	{name: "pipeline", covers: "engine off the caller's goroutine: ordering, metrics, release",
		any:   regexp.MustCompile(`^github\.com/flowtel/flowtel/(engine|ringbuf|internal/hdr)\.`),
		not:   regexp.MustCompile(`^main\.`),
		floor: floorCopy},
	{name: "capture", covers: "engine, ringbuf and sid called by the workload's goroutines",
		any:   regexp.MustCompile(`^github\.com/flowtel/flowtel/(engine|ringbuf|sid|genai)\.`),
		floor: floorClock},
	{name: "workload", covers: "the load generator's own code (plans, values, rate)",
		any: regexp.MustCompile(`^main\.`)},
	{name: "runtime", covers: "scheduler, timers, idle spinning, syscalls of no stage",
		any: regexp.MustCompile(`^runtime\.|^internal/runtime`)},
	{name: "other", covers: "the rest"},
}

func main() {
	bin := flag.String("bin", "", "the loadgen binary the profile was taken from")
	prof := flag.String("profile", "", "CPU profile (loadgen -cpuprofile)")
	js := flag.String("json", "", "the loadgen's -json report of the same run (spans exported and bytes encoded)")
	floors := flag.Bool("floors", true, "measure each stage's floor")
	flag.Parse()
	if *bin == "" || *prof == "" || *js == "" {
		fmt.Fprintln(os.Stderr, "usage: perfstages -bin loadgen -profile cpu.prof -json run.json")
		os.Exit(2)
	}
	spans, bytesPerSpan, err := readReport(*js)
	if err != nil {
		fail(err)
	}
	out, err := exec.Command("go", "tool", "pprof", "-traces", *bin, *prof).Output()
	if err != nil {
		fail(fmt.Errorf("go tool pprof -traces: %w", err))
	}
	ns, total, err := attribute(bytes.NewReader(out))
	if err != nil {
		fail(err)
	}
	fl := map[string]float64{}
	if *floors {
		fl[floorClock] = clockFloor()
		fl[floorCopy] = copyFloor(int(bytesPerSpan))
		fl[floorWrite], fl[floorRead] = loopbackFloor(int(bytesPerSpan))
	}
	fmt.Printf("%s spans delivered, %.0f OTLP bytes per span, %.2f s of CPU sampled (%.0f ns per span)\n\n",
		group(spans), bytesPerSpan, float64(total)/1e9, float64(total)/float64(spans))
	fmt.Println("| stage | what it covers | CPU ns/span | share | floor | floor ns/span | × floor |")
	fmt.Println("|---|---|---:|---:|---|---:|---:|")
	for i, s := range stages {
		per := float64(ns[i]) / float64(spans)
		f, x, fns := "", "", ""
		if s.floor != "" {
			f = s.floor
			if v, ok := fl[s.floor]; ok && v > 0 {
				fns = fmt.Sprintf("%.1f", v)
				x = fmt.Sprintf("%.0f×", per/v)
			}
		}
		fmt.Printf("| %s | %s | %.0f | %.1f %% | %s | %s | %s |\n", s.name, s.covers, per, 100*float64(ns[i])/float64(max(total, 1)), f, fns, x)
	}
	fmt.Printf("| total | | %.0f | 100 %% | | | |\n", float64(total)/float64(spans))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "perfstages:", err)
	os.Exit(1)
}

// readReport returns the spans the run exported and its encoded bytes per
// exported span (trace requests only, with -logs=false).
func readReport(path string) (spans uint64, bytesPerSpan float64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	var r struct {
		Exported      uint64 `json:"exported"`
		ExportedBytes uint64 `json:"exported_bytes"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	if r.Exported == 0 {
		return 0, 0, fmt.Errorf("%s: no span exported (a flowtel-only run's report is needed)", path)
	}
	return r.Exported, float64(r.ExportedBytes) / float64(r.Exported), nil
}

// attribute reads `go tool pprof -traces` output and returns the
// nanoseconds of each stage and in all.
func attribute(r io.Reader) (ns []int64, total int64, err error) {
	ns = make([]int64, len(stages))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var v int64
	var frames []string
	flush := func() {
		if v != 0 {
			ns[classify(frames)] += v
			total += v
		}
		v, frames = 0, frames[:0]
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		// A sample's first line is its value and its leaf frame.
		if v == 0 && len(f) >= 2 {
			if d, err := time.ParseDuration(f[0]); err == nil {
				v = int64(d)
				frames = append(frames, f[1])
				continue
			}
		}
		if v != 0 {
			frames = append(frames, f[0])
		}
	}
	flush()
	if total == 0 {
		return nil, 0, fmt.Errorf("no samples in the profile")
	}
	return ns, total, sc.Err()
}

// classify returns the index of the stage of a stack, leaf first.
func classify(frames []string) int {
	for i, s := range stages {
		if s.any == nil {
			return i
		}
		hit, excluded := false, false
		for _, f := range frames {
			if s.any.MatchString(f) {
				hit = true
			}
			if s.not != nil && s.not.MatchString(f) {
				excluded = true
			}
		}
		if hit && !excluded {
			return i
		}
	}
	return len(stages) - 1
}

// clockFloor returns the thread CPU nanoseconds of one monotonic clock
// read, time.Since of a fixed time, as the engine reads its clock (one
// vDSO call; time.Now makes two), the least of 40 samples (other
// processes' work is not counted).
func clockFloor() float64 {
	base := time.Now()
	var d time.Duration
	ns := leastPer(func(int) { d += time.Since(base) })
	if d == 0 {
		return 0
	}
	return ns
}

// copyFloor returns the thread CPU nanoseconds of copying n bytes.
func copyFloor(n int) float64 {
	src, dst := make([]byte, n), make([]byte, n)
	return leastPer(func(int) { copy(dst, src) })
}

// leastPer returns the least thread CPU time of one call of f over 40
// samples of 100,000 calls.
func leastPer(f func(int)) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const per = 100_000
	return float64(testkit.LeastCPU(40, per, f)) / per
}

// loopbackFloor returns the thread CPU nanoseconds of writing n bytes to a
// loopback TCP connection and of reading them on the other end, each the
// least of loopbackRounds rounds: the system calls gRPC makes for a
// request on loopback, without gRPC. The writer's thread also pays the
// kernel's delivery of the bytes to the reader's socket (loopback runs the
// receive path in the sender's system call), as the exporter's writes do
// in the loadgen's profile. The sizes are grpc-go's in the loadgen (strace
// -f of a 3 s run, -logs=false: the client's writes averaged 218 KB, up to
// the 256 KiB of its write buffer, the receiver's reads 239 KB, up to its
// 256 KiB read buffer): writes of 256 KiB read with a 256 KiB buffer.
// Until session 10 one floor, both ends in the process's CPU time, stood
// beside both stages, and its reader read with io.Copy into io.Discard, in
// 8 KiB, 32 reads a request, which put it 40-70 % above what a reader of
// the receiver's size pays (process CPU, least of 8 rounds, AMD EPYC: 291
// ns a span of 707 bytes against 174).
func loopbackFloor(n int) (write, read float64) {
	for range loopbackRounds {
		w, r := loopbackRound(n)
		if w > 0 && (write == 0 || w < write) {
			write = w
		}
		if r > 0 && (read == 0 || r < read) {
			read = r
		}
	}
	return write, read
}

// loopbackRounds is the rounds of loopbackFloor, loopbackBytes the bytes
// each sends, loopbackIO the size of each write and read.
const (
	loopbackRounds = 5
	loopbackBytes  = 64 << 20
	loopbackIO     = 256 << 10
)

// loopbackRound is one round of loopbackFloor, each end on a thread of its
// own; it returns zeros if the connection failed.
func loopbackRound(n int) (write, read float64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0
	}
	defer ln.Close()
	type result struct{ bytes, cpu int64 }
	done := make(chan result, 1) // the reader never blocks on it, whatever the writer met
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c, err := ln.Accept()
		if err != nil {
			done <- result{}
			return
		}
		defer c.Close()
		buf := make([]byte, loopbackIO)
		var got int64
		cpu0 := testkit.ThreadCPU()
		for {
			k, err := c.Read(buf)
			got += int64(k)
			if err != nil {
				break
			}
		}
		done <- result{got, testkit.ThreadCPU() - cpu0}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, 0
	}
	buf := make([]byte, loopbackIO)
	cpu0 := testkit.ThreadCPU()
	for sent := 0; sent < loopbackBytes; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			c.Close()
			<-done
			return 0, 0
		}
	}
	c.Close()
	wcpu := testkit.ThreadCPU() - cpu0
	r := <-done
	if r.bytes == 0 {
		return 0, 0
	}
	return float64(wcpu) / float64(r.bytes) * float64(n), float64(r.cpu) / float64(r.bytes) * float64(n)
}

// group formats n with thousands separators.
func group(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
