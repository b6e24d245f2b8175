package encode

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
)

// AppendRunLog appends the run trace log JSON of r to dst and returns the
// extended slice, in the original's shape with every value written whole:
// it is AppendRunLogOptions(dst, r, nil). It does not allocate beyond
// growing dst.
//
// The run trace log is the original's per-run JSON document ("WorkflowLog"
// with its "NodeLog" entries). Its fields, their order and their units are
// the original's (docs/original.md), so that consumers of the original's
// Kafka topic read flowtel's output unchanged:
//
//	{"service_id":…,"flow_id":…,"sid":…,"app_id":…,"uid":…,"bot_id":…,
//	 "chat_id":…,"sub":…,"caller":…,"log_caller":…,"question":…,"answer":…,
//	 "start_time":ms,"end_time":ms,"duration":ms,"first_frame_duration":ms,
//	 "srv":{…},"srv_tag":{…},"status":{"code":n,"message":…},
//	 "usage":{"question_tokens":n,"prompt_tokens":n,"completion_tokens":n,
//	 "total_tokens":n},"version":"v2.0.0","trace":[node records…]}
//
// The run's first_frame_duration is Run.FirstFrameMillis, written -1.0
// when there is none, as the original's float default. The trace holds the
// nodes in r.Nodes' order, which the engine makes the order nodes finished
// in (the original appends a node's record when it ends). The objects
// data.input, data.output, data.config, srv and srv_tag hold each key
// once, as the original's Python dicts: a key given twice (Node.Input
// called again with it) is written at its first place with its last
// value. A node record is
//
//	{"id":32 hex,"sid":…,"node_id":…,"node_type":…,"node_name":…,
//	 "func_id":…,"func_type":…,"func_name":…,"next_log_ids":[…],
//	 "start_time":ms,"end_time":ms,"duration":ms,"first_frame_duration":ms,
//	 "node_first_cost_time":seconds,"llm_output":…,"running_status":bool,
//	 "data":{"input":{…},"output":{…},"config":{…},"usage":{…}},
//	 "logs":["{\"level\": \"INFO\", \"message\": …, \"time\": \"2006-01-02 15:04:05\"}"…]}
//
// next_log_ids holds the ids of the executions that follow the node: for
// each node id of Node.Next, the id of the execution of that node in the
// run that started first at or after the node's start (the node itself
// excluded). A node id with no such execution is left out: the log holds
// only ids a consumer can join on (the span keeps the node ids, as
// next_node_ids). node_first_cost_time is Node.FirstTokenCostNano in
// seconds rounded to two decimals and written as Python writes a float
// (1.25, 1.2, 0.0), or -1 when it was not set. Each logs entry is, as the
// original's, a string holding the JSON text of {"level", "message",
// "time"}, with Python's separators and the time in the zone of
// RunLogOptions.Location (default the host's local zone), to the second;
// RunLogOptions.StructuredLogs writes objects with epoch milliseconds
// instead. The message of an exception event is the error's text.
//
// Departures from the original, each deliberate (docs/original.md lists
// them all with their reasons):
//   - Times are whole epoch milliseconds (floor of the nanoseconds) and every
//     duration is the difference of the two millisecond times it spans, so
//     end_time - start_time == duration holds exactly in the JSON.
//   - A node's id is the hex of the run's TraceID[0:8] followed by the hex
//     of the node's SpanID: 32 hex characters like the original's, unique,
//     and it names the node's span.
//   - An incomplete run (closed by the engine's idle timeout) writes the
//     engine's message as status.message when Run.Message is empty, and
//     ends its status object with "incomplete":true. An incomplete node
//     (closed by its run's end) has no status object in the original's
//     schema, so it ends its own object with "status_message":… and
//     "incomplete":true. Complete records never carry these fields.
//   - The JSON is compact (no spaces after ':' and ','), and strings are
//     escaped per RFC 8259; each maximal run of invalid UTF-8 bytes becomes
//     one U+FFFD (the rule of strings.ToValidUTF8, as in the OTLP
//     encoders), and U+2028 and U+2029 are escaped so the JSON is also
//     valid JavaScript. HTML characters are not escaped: the log is not
//     embedded in HTML, and escaping them costs bytes and time.
//   - Float values are written as Python writes them (2.0, 1e-05), but
//     NaN and ±Inf, which JSON cannot represent, become null. Bytes become
//     base64 strings (standard alphabet, padded, as encoding/json), which
//     the original could not hold. An empty Value is null.
func AppendRunLog(dst []byte, r *Run) []byte {
	return AppendRunLogOptions(dst, r, nil)
}

// AppendRunLogWith is AppendRunLog with large string values handed to o:
// it is AppendRunLogOptions(dst, r, &RunLogOptions{Offloader: o}).
func AppendRunLogWith(dst []byte, r *Run, o *Offloader) []byte {
	if o == nil {
		return AppendRunLogOptions(dst, r, nil)
	}
	opts := RunLogOptions{Offloader: o}
	return AppendRunLogOptions(dst, r, &opts)
}

// RunLogOptions says how AppendRunLogOptions writes a run trace log. The
// zero RunLogOptions writes the original's shape with every value whole.
type RunLogOptions struct {
	// Offloader, when not nil, takes the large string values: a string
	// value of its threshold bytes or more (question, answer, llm_output,
	// string values of input, output and config, and log messages) is
	// queued for its store and replaced by OffloadedPrefix followed by its
	// link, or, when it cannot take it, truncated and marked (see
	// Offloader).
	Offloader *Offloader
	// StructuredLogs writes each logs entry as a JSON object
	// {"level":…,"message":…,"time":epoch ms} instead of the original's
	// JSON string of that object with a local time text. Consumers of the
	// original parse the strings: set it only for new consumers.
	StructuredLogs bool
	// Location is the zone of the logs' time text; nil is time.Local, the
	// host's zone, as the original's time.localtime.
	Location *time.Location
}

// AppendRunLogOptions appends the run trace log JSON of r to dst as opts
// says (nil opts: the zero RunLogOptions) and returns the extended slice.
// It never blocks; it allocates only for the values it offloads, and for
// the node index of a run of more than 32 nodes with next ids, which a
// pool keeps for the next such run.
func AppendRunLogOptions(dst []byte, r *Run, opts *RunLogOptions) []byte {
	var clock runlogClock
	dst, _ = appendRunLog(dst, r, opts, &clock)
	return dst
}

// runlogWriter is the state of one run trace log being written: the
// options and what the node records share, written once per run.
type runlogWriter struct {
	r          *Run
	o          *Offloader
	structured bool
	loc        *time.Location // never nil: time.Local when unset
	idx        *[]*Node       // runlogIndexFor's index, nil for small runs
	// clock is a copy of appendRunLog's, held by value: a pointer among
	// the writer's fields would send the caller's clock to the heap.
	clock runlogClock

	// idHead is `{"id":"` and the hex of TraceID[0:8], the start of every
	// node record.
	idHead [7 + 16]byte
	// sidFrom and sidTo are the escaped sid in dst, written by the run;
	// tailFrom and tailTo are `","sid":"…","node_id":"` in dst, written by
	// the first node record and copied by the others.
	sidFrom, sidTo   int
	tailFrom, tailTo int
	// hiMs is the last epoch millisecond time's digits above the last
	// eight, hiText their text (hiLen bytes, little-endian): appendMillis.
	hiMs, hiText uint64
	hiLen        int
	// nextHex is where in dst appendNextLogIDs last wrote the hex of a
	// span id, that of nextNode: the id of the node that follows is most
	// often the next record's, whose appendNodeIDs copies it from there
	// instead of writing it again (0: none).
	nextHex  int
	nextNode *Node
	// order is 1 when r.Nodes are sorted by start, -1 when they are not,
	// 0 until a node with next ids asks (appendNextLogIDs).
	order int8
	// high is set when the writer may have written a byte from 0x80:
	// when it is not, the log is ASCII, valid UTF-8 without a check
	// (appendLogRecord).
	high bool
}

// appendRunLog is AppendRunLogOptions with the clock that writes the logs
// entries' time text, which AppendLogs shares among the runs of a request.
// It also reports whether it may have written a byte from 0x80: false
// means that what it appended is ASCII. Every string is tested for plain
// ASCII as it is copied or escaped (jsonAppendEscapedHigh and the writers
// of runlog_amd64.s), so the answer costs no pass of its own.
func appendRunLog(dst []byte, r *Run, opts *RunLogOptions, clock *runlogClock) ([]byte, bool) {
	w := runlogWriter{r: r, clock: *clock, loc: time.Local}
	if opts != nil {
		w.o, w.structured = opts.Offloader, opts.StructuredLogs
		if opts.Location != nil {
			w.loc = opts.Location
		}
	}
	copy(w.idHead[:], `{"id":"`)
	runlogHex8(w.idHead[7:], [8]byte(r.TraceID[:8]))
	dst = w.appendRunHead(dst)
	dst = append(dst, `,"version":"`+LogVersion+`","trace":[`...)
	w.idx = runlogIndexFor(r)
	nodes := r.Nodes
	if len(nodes) != 0 {
		prefetchNodes(nodes[0], nil)
	}
	for i := range nodes {
		if i > 0 {
			dst = append(dst, ',')
		}
		// As AppendTraces: the lines of the node after the next and the
		// parts of the next one are asked for ahead of their record.
		var next, ahead *Node
		if i+1 < len(nodes) {
			next = nodes[i+1]
			if i+2 < len(nodes) {
				ahead = nodes[i+2]
			}
		}
		prefetchNodes(next, ahead)
		dst = w.appendNode(dst, nodes, i)
	}
	if w.idx != nil {
		clear(*w.idx)
		runlogIndexPool.Put(w.idx)
	}
	*clock = w.clock
	return append(dst, "]}"...), w.high
}

// appendRunHead appends the run's members, from service_id to usage.
func (w *runlogWriter) appendRunHead(dst []byte) []byte {
	r := w.r
	var runID [16]byte
	copy(runID[:8], r.TraceID[:8])
	copy(runID[8:], r.SpanID[:])
	f := runlogField{o: w.o, sid: r.SID, id: runID}

	serviceID := r.ServiceID
	if serviceID == "" {
		if r.Sub == "SparkAgent" {
			serviceID = r.BotID
		} else {
			serviceID = r.FlowID
		}
	}
	dst = append(dst, `{"service_id":"`...)
	dst = f.esc(dst, serviceID)
	dst = append(dst, `","flow_id":"`...)
	dst = f.esc(dst, r.FlowID)
	dst = append(dst, `","sid":"`...)
	w.sidFrom = len(dst)
	dst = f.esc(dst, r.SID)
	w.sidTo = len(dst)
	// Each key fragment carries the quotes around it, so that a string
	// value costs one append for its key and one for its body.
	for _, kv := range [...]struct{ key, val string }{
		{`","app_id":"`, r.AppID}, {`","uid":"`, r.UID}, {`","bot_id":"`, r.BotID},
		{`","chat_id":"`, r.ChatID}, {`","sub":"`, r.Sub}, {`","caller":"`, r.Caller},
		{`","log_caller":"`, r.LogCaller},
	} {
		dst = append(dst, kv.key...)
		dst = f.esc(dst, kv.val)
	}
	dst = append(dst, `","question":`...)
	f.section, f.name = "question", ""
	dst = f.appendString(dst, r.Question, "", "")
	dst = append(dst, `,"answer":`...)
	f.section = "answer"
	dst = f.appendString(dst, r.Answer, "", "")

	dst = append(dst, `,"start_time":`...)
	dst = w.appendTimes(dst, r.StartUnixNano, r.EndUnixNano)
	if ff, ok := r.FirstFrameMillis(); ok {
		dst = runlogAppendInt(dst, ff)
	} else {
		dst = append(dst, "-1.0"...)
	}

	// srv and srv_tag are identity maps set by the service, not payload:
	// they are never offloaded.
	plain := runlogField{}
	dst = append(dst, `,"srv":`...)
	dst = plain.appendObject(dst, r.Srv)
	dst = append(dst, `,"srv_tag":`...)
	dst = plain.appendObject(dst, r.SrvTag)

	dst = append(dst, `,"status":{"code":`...)
	dst = runlogAppendInt(dst, r.Code)
	dst = append(dst, `,"message":"`...)
	msg := r.Message
	if msg == "" && r.Incomplete {
		msg = r.StatusMessage
	}
	dst = f.esc(dst, msg)
	if r.Incomplete {
		dst = append(dst, `","incomplete":true},"usage":`...)
	} else {
		dst = append(dst, `"},"usage":`...)
	}
	w.high = w.high || f.high || plain.high
	return runlogAppendUsage(dst, r.Usage)
}

// runlogLinearNodes is the most nodes a run resolves next_log_ids for by
// scanning them (runlogFollowing): its cost grows with the square of the
// nodes, so larger runs sort an index once (runlogIndexFor) and search it.
const runlogLinearNodes = 32

// runlogIndexPool holds the sorted node indexes of large runs, reused so
// that writing a run allocates nothing once one exists.
var runlogIndexPool = sync.Pool{New: func() any { return new([]*Node) }}

// runlogIndexFor returns r's nodes sorted by node id and start (stable:
// r.Nodes' order among equals), from runlogIndexPool, when r has more than
// runlogLinearNodes nodes and one of them has next ids; nil otherwise.
func runlogIndexFor(r *Run) *[]*Node {
	if len(r.Nodes) <= runlogLinearNodes || !slices.ContainsFunc(r.Nodes, func(n *Node) bool { return len(n.Next) != 0 }) {
		return nil
	}
	idx := runlogIndexPool.Get().(*[]*Node)
	*idx = append((*idx)[:0], r.Nodes...)
	slices.SortStableFunc(*idx, func(a, b *Node) int {
		if c := strings.Compare(a.NodeID, b.NodeID); c != 0 {
			return c
		}
		return cmp.Compare(a.StartUnixNano, b.StartUnixNano)
	})
	return idx
}

// appendNode appends the node record of n = nodes[i], a node of the run.
func (w *runlogWriter) appendNode(dst []byte, nodes []*Node, i int) []byte {
	n := nodes[i]
	f := runlogField{o: w.o, sid: w.r.SID}
	copy(f.id[:8], w.r.TraceID[:8])
	copy(f.id[8:], n.SpanID[:])

	dst = w.appendNodeIDs(dst, n)
	dst = w.appendNextLogIDs(dst, nodes, i)
	dst = append(dst, `],"start_time":`...)
	dst = w.appendTimes(dst, n.StartUnixNano, n.EndUnixNano)
	switch {
	case n.HasFirstTokenCost:
		dst = runlogAppendInt(dst, n.FirstFrameMillis())
		dst = append(dst, `,"node_first_cost_time":`...)
		dst = runlogAppendCentis(dst, n.FirstTokenCostNano)
		dst = append(dst, `,"llm_output":`...)
	case n.FirstFrameUnixNano == 0:
		// Most nodes have neither: FirstFrameMillis is -1, joined to
		// the constant text.
		dst = append(dst, `-1,"node_first_cost_time":-1,"llm_output":`...)
	default:
		dst = runlogAppendInt(dst, n.FirstFrameMillis())
		dst = append(dst, `,"node_first_cost_time":-1,"llm_output":`...)
	}
	// Most nodes have no LLM output: its empty string joins the constant
	// text that follows.
	switch {
	case n.LLMOutput == "" && n.Running():
		dst = append(dst, `"","running_status":true,"data":{"input":`...)
	case n.LLMOutput == "":
		dst = append(dst, `"","running_status":false,"data":{"input":`...)
	default:
		f.section = "llm_output"
		dst = f.appendString(dst, n.LLMOutput, "", "")
		if n.Running() {
			dst = append(dst, `,"running_status":true,"data":{"input":`...)
		} else {
			dst = append(dst, `,"running_status":false,"data":{"input":`...)
		}
	}
	f.section = "input"
	dst = f.appendObject(dst, n.Input)
	dst = append(dst, `,"output":`...)
	f.section = "output"
	dst = f.appendObject(dst, n.Output)
	dst = append(dst, `,"config":`...)
	f.section = "config"
	dst = f.appendObject(dst, n.Config)
	if n.Usage == (Usage{}) {
		dst = append(dst, `,"usage":`+runlogZeroUsage+`},"logs":[`...)
	} else {
		dst = append(dst, `,"usage":`...)
		dst = runlogAppendUsage(dst, n.Usage)
		dst = append(dst, `},"logs":[`...)
	}
	f.section = "logs"
	for i := range n.Events {
		if i > 0 {
			dst = append(dst, ',')
		}
		f.index = i
		if w.structured {
			dst = f.appendStructuredEntry(dst, &n.Events[i])
		} else {
			dst = w.appendEntry(dst, &f, &n.Events[i])
		}
	}
	if n.Incomplete {
		dst = append(dst, `],"status_message":"`...)
		dst = f.esc(dst, n.StatusMessage)
		dst = append(dst, `","incomplete":true}`...)
	} else {
		dst = append(dst, ']', '}')
	}
	if f.high {
		w.high = true
	}
	return dst
}

// appendNodeIDs appends the start of n's record, from its id to
// func_name. The id's trace half and the sid are the run's: the first
// node record writes `","sid":"…","node_id":"` and the others copy it.
// func_id, func_type and func_name repeat node_id, node_type and node_name:
// runlogAppendNodeNames writes them all from one load of each, or
// runlogAppendNodeNamesEscaped.
func (w *runlogWriter) appendNodeIDs(dst []byte, n *Node) []byte {
	// {"id":" and the two halves of the id, with word stores: idHead
	// as three words (the last overlapping), the span id's hex as two.
	m := len(dst)
	if cap(dst)-m < len(w.idHead)+16 {
		dst = slices.Grow(dst, len(w.idHead)+16)
	}
	d := dst[m : m+len(w.idHead)+16]
	binary.LittleEndian.PutUint64(d, binary.LittleEndian.Uint64(w.idHead[:]))
	binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(w.idHead[8:]))
	binary.LittleEndian.PutUint64(d[15:], binary.LittleEndian.Uint64(w.idHead[15:]))
	if h := w.nextHex; h != 0 && w.nextNode == n {
		// The hex next_log_ids of the record before wrote for n.
		binary.LittleEndian.PutUint64(d[len(w.idHead):], binary.LittleEndian.Uint64(dst[h:]))
		binary.LittleEndian.PutUint64(d[len(w.idHead)+8:], binary.LittleEndian.Uint64(dst[h+8:]))
	} else {
		runlogHex8(d[len(w.idHead):], n.SpanID)
	}
	dst = dst[:m+len(d)]
	if w.tailTo != 0 {
		dst = append(dst, dst[w.tailFrom:w.tailTo]...)
	} else {
		w.tailFrom = len(dst)
		dst = append(dst, `","sid":"`...)
		dst = append(dst, dst[w.sidFrom:w.sidTo]...)
		dst = append(dst, `","node_id":"`...)
		w.tailTo = len(dst)
	}
	if cap(dst)-len(dst) < runlogNodeNamesRoom {
		dst = slices.Grow(dst, runlogNodeNamesRoom)
	}
	if k := runlogAppendNodeNames(unsafe.SliceData(dst[len(dst):cap(dst)]), n); k >= 0 {
		return dst[:len(dst)+k] // plain ASCII
	}
	dst, high := runlogAppendNodeNamesEscaped(dst, n)
	if high {
		w.high = true
	}
	return dst
}

// runlogAppendNodeNamesEscaped appends what runlogAppendNodeNames writes,
// for any node: node_id, node_type and node_name escaped, the text from
// node_id's value to node_name's copied once for func_*, and the two keys
// in it renamed, as they have the same lengths. It also reports whether
// it may have written a byte from 0x80 (jsonAppendEscapedHigh).
func runlogAppendNodeNamesEscaped(dst []byte, n *Node) ([]byte, bool) {
	from := len(dst)
	dst, h1 := jsonAppendEscapedHigh(dst, n.NodeID)
	dst = append(dst, `","node_type":"`...)
	typeKey := len(dst) - len(`node_type":"`) - from
	dst, h2 := jsonAppendEscapedHigh(dst, n.NodeType)
	dst = append(dst, `","node_name":"`...)
	nameKey := len(dst) - len(`node_name":"`) - from
	dst, h3 := jsonAppendEscapedHigh(dst, n.NodeName)
	to := len(dst)
	dst = append(dst, `","func_id":"`...)
	at := len(dst)
	dst = append(dst, dst[from:to]...)
	copy(dst[at+typeKey:], "func")
	copy(dst[at+nameKey:], "func")
	return append(dst, `","next_log_ids":[`...), h1 || h2 || h3
}

// runlogNodeNamesRoom is the room runlogAppendNodeNames needs: six
// values of 16 bytes, the keys between them and after (91 bytes), and its
// last store of 16 bytes.
const runlogNodeNamesRoom = 6*16 + 91 + 16

// appendNextLogIDs appends the ids of the executions that follow n =
// nodes[i] (see AppendRunLog), without the brackets. The nodes of most
// runs are sorted by start, the order they started in being the order
// they finished in (a chain of steps): those runs find each in the nodes
// from n's on (runlogFollowingSorted), usually the next, where the others
// compare every node (runlogFollowing) or search an index (large runs).
func (w *runlogWriter) appendNextLogIDs(dst []byte, nodes []*Node, i int) []byte {
	n := nodes[i]
	if len(n.Next) != 0 && w.order == 0 {
		w.order = runlogStartOrder(nodes)
	}
	first := true
	for _, next := range n.Next {
		var m *Node
		switch {
		case w.order > 0:
			m = runlogFollowingSorted(nodes, i, next)
		case w.idx != nil:
			m = runlogFollowingIn(*w.idx, n, next)
		default:
			m = runlogFollowing(w.r, n, next)
		}
		if m == nil {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		// "id": the trace half from idHead, the span half's hex, with
		// word stores straight into dst.
		k := len(dst)
		if cap(dst)-k < 40 {
			dst = slices.Grow(dst, 40)
		}
		d := dst[k : k+40]
		d[0] = '"'
		binary.LittleEndian.PutUint64(d[1:], binary.LittleEndian.Uint64(w.idHead[7:]))
		binary.LittleEndian.PutUint64(d[9:], binary.LittleEndian.Uint64(w.idHead[15:]))
		runlogHex8(d[17:], m.SpanID)
		d[33] = '"'
		dst = dst[:k+34]
		w.nextHex, w.nextNode = k+17, m
	}
	return dst
}

// appendTimes appends the values of "start_time", "end_time" and
// "duration" (epoch milliseconds) of a record that ran from start to end
// (Unix nanoseconds), with the keys after the first, then the key of its
// "first_frame_duration", for the caller to write the value.
func (w *runlogWriter) appendTimes(dst []byte, start, end int64) []byte {
	startMs, endMs := runlogMillis(start), runlogMillis(end)
	dst = w.appendMillis(dst, startMs)
	dst = append(dst, `,"end_time":`...)
	dst = w.appendMillis(dst, endMs)
	dst = append(dst, `,"duration":`...)
	dst = runlogAppendInt(dst, endMs-startMs)
	return append(dst, `,"first_frame_duration":`...)
}

// appendMillis is runlogAppendInt for epoch milliseconds: the times of a
// run share their digits above the last eight (ms / 1e8, a day and more),
// which the writer keeps as text (hiMs, hiText) instead of writing them
// again for each, as runlogAppendInt writes every value.
func (w *runlogWriter) appendMillis(dst []byte, ms int64) []byte {
	u := uint64(ms)
	if u < 1e8 || u >= 1e16 {
		return runlogAppendInt(dst, ms)
	}
	hi := u / 1e8
	if hi != w.hiMs { // hi is at least 1: the zero writer holds none
		x := runlogDigits8(hi)
		n := 8 - bits.TrailingZeros64(x&^0x3030303030303030)>>3
		w.hiMs, w.hiText, w.hiLen = hi, x>>(8*(8-n)), n
	}
	m := len(dst)
	if cap(dst)-m < 16 {
		dst = slices.Grow(dst, 16)
	}
	d := dst[m : m+16]
	n := w.hiLen
	binary.LittleEndian.PutUint64(d, w.hiText)
	binary.LittleEndian.PutUint64(d[n:], runlogDigits8(u-hi*1e8))
	return dst[:m+n+8]
}

// runlogStartOrder returns 1 when nodes are sorted by start, -1 when they
// are not (runlogWriter.order): a loop of loads and compares, where
// slices.IsSortedFunc called its comparison for each pair.
func runlogStartOrder(nodes []*Node) int8 {
	for j := 1; j < len(nodes); j++ {
		if nodes[j].StartUnixNano < nodes[j-1].StartUnixNano {
			return -1
		}
	}
	return 1
}

// runlogFollowing returns the execution of nodeID that follows n in r: of
// r's nodes with that node id, other than n, the one that started first
// at or after n's start; nil when there is none. A loop that runs a node
// again (an iteration) so links each execution to the next one.
func runlogFollowing(r *Run, n *Node, nodeID string) *Node {
	var best *Node
	for _, m := range r.Nodes {
		if m == n || m.StartUnixNano < n.StartUnixNano || m.NodeID != nodeID {
			continue
		}
		if best == nil || m.StartUnixNano < best.StartUnixNano {
			best = m
		}
	}
	return best
}

// runlogFollowingSorted is runlogFollowing(r, nodes[i], nodeID) for r's
// nodes sorted by start: the nodes that started at or after nodes[i] are
// those from the first of its start on, so the first of them with that
// node id, other than nodes[i], started first (and is the first in r.Nodes
// of those that started with it).
func runlogFollowingSorted(nodes []*Node, i int, nodeID string) *Node {
	n := nodes[i]
	j := i
	for j > 0 && nodes[j-1].StartUnixNano >= n.StartUnixNano {
		j-- // started with n
	}
	for ; j < len(nodes); j++ {
		if m := nodes[j]; m != n && m.NodeID == nodeID {
			return m
		}
	}
	return nil
}

// runlogFollowingIn is runlogFollowing over idx, r's nodes sorted by
// runlogIndexFor: a binary search instead of a scan.
func runlogFollowingIn(idx []*Node, n *Node, nodeID string) *Node {
	i, _ := slices.BinarySearchFunc(idx, n, func(m, target *Node) int {
		if c := strings.Compare(m.NodeID, nodeID); c != 0 {
			return c
		}
		return cmp.Compare(m.StartUnixNano, target.StartUnixNano)
	})
	for ; i < len(idx) && idx[i].NodeID == nodeID; i++ {
		if idx[i] != n {
			return idx[i]
		}
	}
	return nil
}

// appendEntry appends the logs entry of e in the original's shape: a JSON
// string holding the JSON text {"level": …, "message": …, "time": …} as
// Python's json.dumps writes it (", " and ": " separators), the time in
// w.loc to the second. The message, offloaded when large, is escaped once
// as JSON text and then once more as part of the string; a message that
// both escapes leave as it is (most are) is copied in one step.
func (w *runlogWriter) appendEntry(dst []byte, f *runlogField, e *Event) []byte {
	plain := (len(e.Attrs) == 0 || e.Kind == EventException) &&
		(f.o == nil || len(e.Message) < f.o.threshold)
	if plain {
		var ascii bool
		if plain, ascii = jsonUnchangedASCII(e.Message); plain && !ascii {
			f.high = true
		}
	}
	switch {
	case plain && e.Kind == EventInfo:
		dst = append(dst, `"{\"level\": \"INFO\", \"message\": \"`...)
	case plain:
		dst = append(dst, `"{\"level\": \"ERROR\", \"message\": \"`...)
	case e.Kind == EventInfo:
		dst = append(dst, `"{\"level\": \"INFO\", \"message\": `...)
	default:
		dst = append(dst, `"{\"level\": \"ERROR\", \"message\": `...)
	}
	if plain {
		dst = append(dst, e.Message...)
		dst = append(dst, `\", \"time\": \"`...)
	} else {
		mark := len(dst)
		dst = f.appendMessage(dst, e)
		dst = runlogReescape(dst, mark)
		dst = append(dst, `, \"time\": \"`...)
	}
	dst = w.clock.appendTime(dst, e.TimeUnixNano, w.loc)
	return append(dst, `\"}"`...)
}

// appendStructuredEntry appends the logs entry of e as a JSON object with
// the time in epoch milliseconds (RunLogOptions.StructuredLogs).
func (f *runlogField) appendStructuredEntry(dst []byte, e *Event) []byte {
	if e.Kind == EventInfo {
		dst = append(dst, `{"level":"INFO","message":`...)
	} else {
		dst = append(dst, `{"level":"ERROR","message":`...)
	}
	dst = f.appendMessage(dst, e)
	dst = append(dst, `,"time":`...)
	dst = runlogAppendInt(dst, runlogMillis(e.TimeUnixNano))
	return append(dst, '}')
}

// appendMessage appends the JSON string of e's log message: its Message,
// or, for an event given as data (Event.Attrs), the text Python's str()
// writes for a dict of its attributes, as the original's
// add_info_log(f"{attributes}"); either offloaded when large. The
// original replaced any string of the document from 5088 bytes, log
// entries included, and the Offloader takes log messages: a dict's text
// is bounded by Limits.EventAttrs values of Limits.ValueBytes each
// (megabytes), which left whole could take the run's record past a
// request's size and drop it.
func (f *runlogField) appendMessage(dst []byte, e *Event) []byte {
	if len(e.Attrs) == 0 || e.Kind == EventException {
		return f.appendString(dst, e.Message, "", "")
	}
	dst = append(dst, '"')
	mark := len(dst)
	dst, high := runlogAppendPyDict(dst, e.Attrs)
	if f.o != nil && len(dst)-mark >= f.o.threshold {
		// A rare path: the text is copied out of dst, which
		// appendString writes the link (or the text's head) into.
		text := string(dst[mark:])
		return f.appendString(dst[:mark-1], text, "", "")
	}
	if high {
		f.high = true
	}
	// The text holds no control character and valid UTF-8 only: escaping
	// its '\\' and '"' makes it a JSON string's body.
	dst = runlogReescape(dst, mark)
	return append(dst, '"')
}

// runlogAppendPyDict appends what Python's str() writes for a dict of
// attrs: {'key': value, ...} with each key and value as repr writes it. It
// also reports whether it may have written a byte from 0x80. A dict holds
// each key once, where it was first set, with the value set last (the
// original's add_info_events(dict) is given one): a repeated key, or keys
// that are one once repaired ("k\xff" and "k\xfe" are both 'k\ufffd'),
// is written so (runlogAppendPyDictOnce). Each key's keyBit is set as it
// is written: a bit set twice is a repeat or a collision, which
// repeatsHashed tells apart.
func runlogAppendPyDict(dst []byte, attrs []Attr) ([]byte, bool) {
	mark := len(dst)
	high, keyHigh := false, false
	var seen, again uint64
	dst = append(dst, '{')
	for i := range attrs {
		if i > 0 {
			dst = append(dst, ',', ' ')
		}
		b := keyBit(attrs[i].Key)
		again |= seen & b
		seen |= b
		var h bool
		dst, h = runlogAppendPyStr(dst, attrs[i].Key, 0)
		keyHigh = keyHigh || h
		dst, h = runlogAppendPyValue(append(dst, ':', ' '), attrs[i].Value)
		high = high || h
	}
	if again != 0 || keyHigh {
		var keys []string
		if keyHigh {
			keys = runlogRepairedKeys(attrs, true)
		}
		if keys != nil && runlogKeysRepeat(keys) || again != 0 && repeatsHashed(attrs) {
			return runlogAppendPyDictOnce(dst[:mark], attrs, keys)
		}
	}
	return append(dst, '}'), high || keyHigh
}

// runlogAppendPyDictOnce is runlogAppendPyDict for attrs that repeat a
// key, compared as keys (runlogRepairedKeys) when not nil: each key is
// written once, at its first place, with its last value.
//
//go:noinline
func runlogAppendPyDictOnce(dst []byte, attrs []Attr, keys []string) ([]byte, bool) {
	high := false
	var buf [maxScanAttrs]int32
	dst = append(dst, '{')
	first := true
	for i, l := range runlogOnce(attrs, keys, &buf) {
		if l < 0 {
			continue
		}
		if !first {
			dst = append(dst, ',', ' ')
		}
		first = false
		var h, hv bool
		dst, h = runlogAppendPyStr(dst, attrs[i].Key, 0)
		dst, hv = runlogAppendPyValue(append(dst, ':', ' '), attrs[l].Value)
		high = high || h || hv
	}
	return append(dst, '}'), high
}

// runlogAppendPyValue appends repr(v) as Python writes it for the value
// of a dict (runlogAppendPyDict) and reports whether it may have written
// a byte from 0x80.
func runlogAppendPyValue(dst []byte, v Value) ([]byte, bool) {
	switch v.kind() {
	case KindString:
		return runlogAppendPyStr(dst, v.str(), 0)
	case KindInt64:
		dst = strconv.AppendInt(dst, int64(v.num), 10)
	case KindFloat64:
		switch f := math.Float64frombits(v.num); {
		case math.IsNaN(f):
			dst = append(dst, "nan"...)
		case math.IsInf(f, 1):
			dst = append(dst, "inf"...)
		case math.IsInf(f, -1):
			dst = append(dst, "-inf"...)
		default:
			dst = jsonAppendFloat(dst, f)
		}
	case KindBool:
		if v.num != 0 {
			dst = append(dst, "True"...)
		} else {
			dst = append(dst, "False"...)
		}
	case KindBytes:
		dst, _ = runlogAppendPyStr(append(dst, 'b'), v.str(), 'b') // \xNN: ASCII
	default:
		dst = append(dst, "None"...)
	}
	return dst, false
}

// runlogAppendPyStr appends repr(s) as Python writes it: in single quotes,
// or double quotes when s holds a single quote and no double quote;
// backslash, the quote, \t, \n and \r escaped; other control characters,
// DEL and U+0080 to U+009F as \xNN, U+2028 and U+2029 as \uNNNN. Invalid
// UTF-8 becomes U+FFFD. With mode 'b' s is bytes (repr of bytes): every
// byte outside printable ASCII is \xNN. It also reports whether it may have
// written a byte from 0x80 (never with mode 'b').
func runlogAppendPyStr(dst []byte, s string, mode byte) ([]byte, bool) {
	high := false
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	dst = append(dst, q)
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf && mode != 'b' {
			high = true
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			switch {
			case r == utf8.RuneError && size == 1:
				dst = append(dst, "\uFFFD"...)
			case r < 0xa0:
				dst = append(dst, '\\', 'x', runlogHexDigits[r>>4], runlogHexDigits[r&0xf])
			case r == '\u2028' || r == '\u2029':
				dst = append(dst, '\\', 'u', '2', '0', '2', runlogHexDigits[r&0xf])
			default:
				dst = utf8.AppendRune(dst, r)
			}
			continue
		}
		i++
		switch {
		case c == '\\' || c == q:
			dst = append(dst, '\\', c)
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < 0x20 || c >= 0x7f:
			dst = append(dst, '\\', 'x', runlogHexDigits[c>>4], runlogHexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, q), high
}

// runlogReescape escapes dst[from:], the text of a JSON string (quotes
// included) escaped once, again as the body of a JSON string, in place:
// each '\\' and '"' gains a backslash before it. The text holds no other
// byte that needs care: the first escape wrote those as sequences.
func runlogReescape(dst []byte, from int) []byte {
	text := dst[from:]
	extra := bytes.Count(text, []byte{'\\'}) + bytes.Count(text, []byte{'"'})
	n := len(dst)
	dst = slices.Grow(dst, extra)[:n+extra]
	j := n + extra
	for i := n - 1; i >= from && j > i; i-- {
		c := dst[i]
		j--
		dst[j] = c
		if c == '\\' || c == '"' {
			j--
			dst[j] = '\\'
		}
	}
	return dst
}

// runlogAppendLocalTime appends the wall time ns in loc (nil: time.Local)
// as the original's time.strftime("%Y-%m-%d %H:%M:%S"): to the second,
// rounded down.
func runlogAppendLocalTime(dst []byte, ns int64, loc *time.Location) []byte {
	if loc == nil {
		loc = time.Local
	}
	t := time.Unix(0, ns).In(loc)
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y >= 0 && y < 10000 {
		dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10))
		dst = append(dst, runlogDigits[2*(y%100)], runlogDigits[2*(y%100)+1])
	} else {
		dst = strconv.AppendInt(dst, int64(y), 10)
	}
	return append(dst, '-',
		runlogDigits[2*int(mo)], runlogDigits[2*int(mo)+1], '-',
		runlogDigits[2*d], runlogDigits[2*d+1], ' ',
		runlogDigits[2*h], runlogDigits[2*h+1], ':',
		runlogDigits[2*mi], runlogDigits[2*mi+1], ':',
		runlogDigits[2*s], runlogDigits[2*s+1])
}

// runlogClock writes the logs entries' time text. The entries of a run,
// and of the runs of a request, mostly fall in one day of one zone offset:
// the clock keeps that day's date text and the Unix seconds it holds for,
// and writes the time of day from the seconds since the day's midnight
// instead of through time.Time's zone lookup, twice per entry (Date and
// Clock). The zero runlogClock holds no day.
type runlogClock struct {
	loc      *time.Location
	lo, hi   int64    // Unix seconds [lo, hi): one day and one zone offset of loc
	midnight int64    // the Unix second whose wall time in loc is the day's 00:00:00
	date     [11]byte // "2006-01-02 "
}

// appendTime appends the wall time ns in loc (not nil) as
// runlogAppendLocalTime does.
func (c *runlogClock) appendTime(dst []byte, ns int64, loc *time.Location) []byte {
	sec := ns / 1e9
	if ns < 0 && sec*1e9 != ns {
		sec-- // the second that holds ns, as time.Unix(0, ns)
	}
	if loc != c.loc || sec < c.lo || sec >= c.hi {
		if !c.reset(sec, loc) {
			return runlogAppendLocalTime(dst, ns, loc)
		}
	}
	s := int(sec - c.midnight)
	h, mi := s/3600, s/60%60
	s %= 60
	var b [11 + 8]byte
	copy(b[:], c.date[:])
	b[11], b[12], b[13] = runlogDigits[2*h], runlogDigits[2*h+1], ':'
	b[14], b[15], b[16] = runlogDigits[2*mi], runlogDigits[2*mi+1], ':'
	b[17], b[18] = runlogDigits[2*s], runlogDigits[2*s+1]
	return append(dst, b[:]...)
}

// reset makes c hold the day of sec in loc and reports whether it does:
// a year outside 0-9999 is left to runlogAppendLocalTime.
func (c *runlogClock) reset(sec int64, loc *time.Location) bool {
	c.loc = nil
	t := time.Unix(sec, 0).In(loc)
	y, mo, d := t.Date()
	if y < 0 || y >= 10000 {
		return false
	}
	h, mi, s := t.Clock()
	// Within [start, end) loc's offset is constant, so the seconds since
	// midnight are sec - midnight until the day ends.
	midnight := sec - int64(h*3600+mi*60+s)
	lo, hi := midnight, midnight+24*3600
	start, end := t.ZoneBounds()
	if !start.IsZero() {
		lo = max(lo, start.Unix())
	}
	if !end.IsZero() {
		hi = min(hi, end.Unix())
	}
	c.date = [11]byte{
		byte('0' + y/1000), byte('0' + y/100%10), runlogDigits[2*(y%100)], runlogDigits[2*(y%100)+1], '-',
		runlogDigits[2*int(mo)], runlogDigits[2*int(mo)+1], '-',
		runlogDigits[2*d], runlogDigits[2*d+1], ' ',
	}
	c.loc, c.lo, c.hi, c.midnight = loc, lo, hi, midnight
	return true
}

// runlogField names the place of a string value in the run trace log and
// offloads it when it is large. The zero runlogField writes every value
// whole.
type runlogField struct {
	o       *Offloader
	sid     string
	id      [16]byte // run or node id: TraceID[0:8] + SpanID
	section string   // question, answer, llm_output, input, output, config, logs
	name    string   // attribute key, for input, output and config
	index   int      // log entry index, for logs
	// high is set when a method may have written a byte from 0x80
	// (runlogWriter.high).
	high bool
	// badKey is set when appendMember wrote a key of invalid UTF-8,
	// repaired, which may have become another key (appendObject).
	badKey bool
}

// esc appends the body of the JSON string of s (jsonAppendEscaped) and
// sets f.high when it may have written a byte from 0x80.
func (f *runlogField) esc(dst []byte, s string) []byte {
	dst, high := jsonAppendEscapedHigh(dst, s)
	if high {
		f.high = true
	}
	return dst
}

// appendString appends the JSON string of a + sep + b, offloaded or
// truncated by f.o when it is large. Passing the parts avoids building the
// "Type: message" of an exception in a temporary buffer.
func (f *runlogField) appendString(dst []byte, a, sep, b string) []byte {
	if f.o != nil && len(a)+len(sep)+len(b) >= f.o.threshold {
		f.high = true // the head of a truncated value, or a link
		return f.o.appendLarge(dst, f, a, sep, b)
	}
	dst = append(dst, '"')
	dst = f.esc(dst, a)
	if sep != "" || b != "" {
		dst = f.esc(dst, sep)
		dst = f.esc(dst, b)
	}
	return append(dst, '"')
}

// appendObject appends attrs as a JSON object with each key once, as the
// original's Python dict holds them: a repeated key (Node.Input("x") set
// twice) is written where it came first, with the value it was given
// last (appendObjectOnce).
func (f *runlogField) appendObject(dst []byte, attrs []Attr) []byte {
	if f.o != nil && len(attrs) > 1 {
		// The offloader queues the values it takes: an object that
		// repeats a key is found before any is written. Each key's keyBit
		// in a register, no call: a bit set twice is a repeat or a
		// collision, which repeatsHashed tells apart. Keys that are one
		// once repaired are looked for before the first value queued
		// (below).
		var seen, again uint64
		for i := range attrs {
			b := keyBit(attrs[i].Key)
			again |= seen & b
			seen |= b
		}
		if again != 0 && repeatsHashed(attrs) {
			return f.appendObjectOnce(dst, attrs)
		}
	}
	// Members are written with a comma before each, the first one's
	// then replaced by the brace, the runs of usual members (short plain
	// strings) by jsonAppendShortMembers, the others one by one. Each
	// key's keyBit is set in seen as it is written (by
	// jsonAppendShortMembers, which stops at a bit seen before, or
	// here): a bit set twice is a repeat or a collision, which
	// repeatsHashed tells apart, and an object that repeats a key is
	// written again by appendObjectOnce. Without an offloader, writing
	// nothing but bytes, this costs no pass over the keys of its own:
	// the loop before it cost about 100 ns per loadgen-shaped run log
	// (24 objects); the bits set in the assembly took 2.7 % off its
	// thread CPU, where setting them in a Go writing loop saved nothing.
	p0 := len(dst)
	maxValue := math.MaxInt
	if f.o != nil {
		maxValue = f.o.threshold // the offloader takes those
	}
	var seen, again uint64
	checked := false // runlogObjectRepeats asked before a value queued
	for i := 0; i < len(attrs); {
		// Room for short members and a few hundred bytes of longer values
		// (an LLM's output, a tool's result), which
		// jsonAppendShortMembers copies where it has room.
		if room := (len(attrs)-i)*runlogMemberRoom + runlogLongRoom; cap(dst)-len(dst) < room {
			dst = slices.Grow(dst, room+1)
		}
		k, w, bits := jsonAppendShortMembers(unsafe.SliceData(dst[len(dst):cap(dst)]), cap(dst)-len(dst), &attrs[i], len(attrs)-i, maxValue, seen)
		dst, seen = dst[:len(dst)+w], bits
		if i += k; i == len(attrs) {
			break
		}
		a := &attrs[i]
		i++
		b := keyBit(a.Key)
		again |= seen & b
		seen |= b
		dst = append(dst, ',')
		if a.Value.kind() == KindString && len(a.Key) <= 16 && len(a.Value.str()) <= 16 {
			// A short member that needs no escape, in text of other
			// scripts or where jsonAppendShortMembers did not read it.
			if d, ok, high := jsonAppendShortMember(dst, a.Key, a.Value.str()); ok {
				dst = d
				if high {
					f.high = true
				}
				continue
			}
		}
		if f.o != nil && !checked && a.Value.kind() == KindString && len(a.Value.str()) >= f.o.threshold {
			// The first value the offloader takes (a rare path): keys
			// that are one once repaired are looked for before it is
			// queued, the members before it having queued nothing.
			checked = true
			if runlogObjectRepeats(attrs, false, true) {
				f.badKey = false
				return f.appendObjectOnce(dst[:p0], attrs)
			}
		}
		dst = f.appendMember(dst, a.Key, a.Value)
	}
	if again != 0 || f.badKey {
		// A keyBit set twice, or a key of invalid UTF-8 written
		// (appendMember): keys that repeat (without an offloader) or
		// repeat once repaired ("k\xff" and "k\xfe" are both
		// "k\uFFFD") are written again, each once. With an offloader,
		// the repeats were found before the writing, and those once
		// repaired before a value was queued, or no value was queued.
		bad := f.badKey
		f.badKey = false
		if runlogObjectRepeats(attrs, again != 0 && f.o == nil, bad) {
			return f.appendObjectOnce(dst[:p0], attrs)
		}
	}
	if len(dst) == p0 {
		return append(dst, '{', '}')
	}
	dst[p0] = '{'
	return append(dst, '}')
}

// runlogMemberRoom is the room jsonAppendShortMembers needs per member:
// ,"key":"value" of 16-byte strings takes 38 bytes, and its stores of 16
// bytes reach no further.
const runlogMemberRoom = 2 + 16 + 3 + 16 + 1

// runlogLongRoom is the room appendObject makes beyond runlogMemberRoom
// per member, for longer values.
const runlogLongRoom = 512

// jsonAppendShortMembersWords is jsonAppendShortMembers with
// jsonAppendShortPlain's word loads and stores, for architectures without
// it: it reads no byte past a string, so a string near a page's end is
// written too.
func jsonAppendShortMembersWords(d *byte, attrs *Attr, n int, seen uint64) (members, written int, bits uint64) {
	buf := unsafe.Slice(d, n*runlogMemberRoom)[:0]
	for _, a := range unsafe.Slice(attrs, n) {
		if a.Value.kind() != KindString || uint(len(a.Key)-1) >= 16 || uint(len(a.Value.text())-1) >= 16 {
			break
		}
		kb := keyBit(a.Key)
		if seen&kb != 0 {
			break // a repeat, or a collision: left to the caller
		}
		b, ok := jsonAppendShortPlain(append(buf, ',', '"'), a.Key)
		if !ok {
			break
		}
		if b, ok = jsonAppendShortPlain(append(b, '"', ':', '"'), a.Value.text()); !ok {
			break
		}
		buf = append(b, '"')
		seen |= kb
		members++
	}
	return members, len(buf), seen
}

// runlogObjectRepeats reports whether attrs repeat a key as appendObject
// writes them: with hashed (a keyBit came twice) a key as it is, with bad
// (a key is not valid UTF-8) a key once repaired, each maximal run of
// invalid bytes one U+FFFD as jsonAppendEscaped writes it.
func runlogObjectRepeats(attrs []Attr, hashed, bad bool) bool {
	if bad {
		if keys := runlogRepairedKeys(attrs, false); keys != nil {
			return runlogKeysRepeat(keys)
		}
	}
	return hashed && repeatsHashed(attrs)
}

// runlogRepairedKeys returns attrs' keys as the run log writes them, or
// nil when each is valid UTF-8 (then written as it is): in a JSON object
// (appendObject) each maximal run of invalid bytes becomes one U+FFFD, in
// a Python dict's text (runlogAppendPyDict, py) each invalid byte does.
// Two keys are written as one exactly when these are equal. A rare path:
// it allocates.
func runlogRepairedKeys(attrs []Attr, py bool) []string {
	var keys []string
	for i := range attrs {
		k := attrs[i].Key
		if utf8ValidShort(k) || utf8.ValidString(k) {
			continue
		}
		if keys == nil {
			keys = make([]string, len(attrs))
			for j := range attrs[:i] {
				keys[j] = attrs[j].Key
			}
		}
		if py {
			keys[i] = runlogPyRepaired(k)
		} else {
			keys[i] = string(appendUTF8Repaired(nil, k))
		}
	}
	if keys != nil {
		for i := range attrs {
			if keys[i] == "" {
				keys[i] = attrs[i].Key
			}
		}
	}
	return keys
}

// runlogPyRepaired returns s with each invalid UTF-8 byte replaced by
// U+FFFD, as runlogAppendPyStr writes it.
func runlogPyRepaired(s string) string {
	b := make([]byte, 0, len(s)+8)
	for _, r := range s {
		b = utf8.AppendRune(b, r) // an invalid byte decodes as U+FFFD
	}
	return string(b)
}

// runlogKeysRepeat reports whether a key of keys comes twice.
func runlogKeysRepeat(keys []string) bool {
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if _, ok := seen[k]; ok {
			return true
		}
		seen[k] = struct{}{}
	}
	return false
}

// runlogOnce returns, for attrs whose keys repeat, where each key is
// written and with which value: last[i] is the index of the last value
// of the key attrs[i] holds when i is that key's first place, else -1.
// keys, when not nil, are the keys compared (runlogRepairedKeys). Lists
// of up to maxScanAttrs keys (buf's length) compare each key with the
// others, longer ones look them up in a map (and allocate).
func runlogOnce(attrs []Attr, keys []string, buf *[maxScanAttrs]int32) []int32 {
	key := func(i int) string {
		if keys != nil {
			return keys[i]
		}
		return attrs[i].Key
	}
	var last []int32
	if len(attrs) <= len(buf) {
		last = buf[:len(attrs)]
	} else {
		last = make([]int32, len(attrs))
	}
	if len(attrs) > maxScanAttrs {
		at := make(map[string]int, len(attrs)) // each key's first place
		for i := range attrs {
			last[i] = -1
			if p, ok := at[key(i)]; ok {
				last[p] = int32(i)
				continue
			}
			at[key(i)] = i
			last[i] = int32(i)
		}
		return last
	}
next:
	for i := range attrs {
		k := key(i)
		last[i] = -1
		for j := range i {
			if key(j) == k {
				continue next // written at its first place
			}
		}
		last[i] = int32(i)
		for j := i + 1; j < len(attrs); j++ {
			if key(j) == k {
				last[i] = int32(j)
			}
		}
	}
	return last
}

// appendObjectOnce is appendObject for attrs that repeat a key, as it
// is or once repaired (runlogObjectRepeats): each key is written once,
// at its first place, with its last value (runlogOnce), keys compared
// as written.
func (f *runlogField) appendObjectOnce(dst []byte, attrs []Attr) []byte {
	keys := runlogRepairedKeys(attrs, false)
	var buf [maxScanAttrs]int32
	dst = append(dst, '{')
	first := true
	for i, l := range runlogOnce(attrs, keys, &buf) {
		if l < 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = f.appendMember(dst, attrs[i].Key, attrs[l].Value)
	}
	f.badKey = false
	return append(dst, '}')
}

// appendMember appends the member "key":v, its string value offloaded
// when large.
func (f *runlogField) appendMember(dst []byte, key string, v Value) []byte {
	dst = append(dst, '"')
	dst, high := jsonAppendEscapedHigh(dst, key)
	if high {
		f.high = true
		if !utf8.ValidString(key) {
			f.badKey = true // repaired: appendObject checks the keys again
		}
	}
	switch {
	case v.kind() != KindString:
		dst = append(dst, '"', ':')
		return jsonAppendValue(dst, v) // not a string: ASCII
	case f.o != nil && len(v.str()) >= f.o.threshold:
		f.name = key
		f.high = true // the head of a truncated value, or a link
		dst = append(dst, '"', ':')
		return f.o.appendLarge(dst, f, v.str(), "", "")
	default:
		dst = append(dst, '"', ':', '"')
		dst = f.esc(dst, v.str())
		return append(dst, '"')
	}
}

// jsonAppendShortMember appends the member "key":"val" of a key and a
// string value of at most 16 bytes each (never offloaded: an Offloader's
// threshold is at least minOffloadThreshold) that jsonAppendEscaped would copy as they are, with
// the room made once and word stores (jsonAppendShortPlain, or
// jsonAppendShortHigh for text in other scripts). It reports
// false, appending nothing, otherwise, and high when it wrote text in
// other scripts (bytes from 0x80).
func jsonAppendShortMember(dst []byte, key, val string) (d []byte, ok, high bool) {
	if cap(dst)-len(dst) < 5+16+16 {
		dst = slices.Grow(dst, 5+16+16)
	}
	d, ok = jsonAppendShortPlain(append(dst, '"'), key)
	if !ok {
		if d, ok = jsonAppendShortHigh(append(dst, '"'), key); !ok {
			return dst, false, false
		}
		high = true
	}
	d = append(d, '"', ':', '"')
	e, ok := jsonAppendShortPlain(d, val)
	if !ok {
		if e, ok = jsonAppendShortHigh(d, val); !ok {
			return dst, false, false
		}
		high = true
	}
	return append(e, '"'), true, high
}

// runlogZeroUsage is the usage object of a zero Usage, the usage of most
// nodes (all but the LLM's).
const runlogZeroUsage = `{"question_tokens":0,"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}`

// runlogAppendUsage appends a usage object with the original's names.
func runlogAppendUsage(dst []byte, u Usage) []byte {
	if u == (Usage{}) {
		return append(dst, runlogZeroUsage...)
	}
	dst = append(dst, `{"question_tokens":`...)
	dst = runlogAppendInt(dst, u.QuestionTokens)
	dst = append(dst, `,"prompt_tokens":`...)
	dst = runlogAppendInt(dst, u.PromptTokens)
	dst = append(dst, `,"completion_tokens":`...)
	dst = runlogAppendInt(dst, u.CompletionTokens)
	dst = append(dst, `,"total_tokens":`...)
	dst = runlogAppendInt(dst, u.TotalTokens)
	return append(dst, '}')
}

// runlogDigits holds the two decimal digits of 0 to 99, in order.
const runlogDigits = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// runlogAppendInt appends v in decimal, as strconv.AppendInt(dst, v, 10):
// the log writes a dozen integers per node, most of them 13-digit
// milliseconds. Values below 10^16 are written eight digits per word
// (runlogDigits8), whose four pairs do not wait on each other's
// division, with one or two word stores straight into dst; the leading
// zeros of the first word are counted and shifted out.
func runlogAppendInt(dst []byte, v int64) []byte {
	if uint64(v) < 10 {
		return append(dst, byte('0'+v))
	}
	u := uint64(v)
	if v < 0 {
		u = -u
		dst = append(dst, '-')
	}
	if u >= 1e16 {
		return strconv.AppendUint(dst, u, 10)
	}
	m := len(dst)
	if cap(dst)-m < 16 {
		dst = slices.Grow(dst, 16)
	}
	d := dst[m : m+16]
	hi, lo := u, uint64(0)
	if u >= 1e8 {
		hi, lo = u/1e8, u%1e8
	}
	w := runlogDigits8(hi)
	// The leading zero digits are the low zero bytes of w - "00000000".
	n := 8 - bits.TrailingZeros64(w&^0x3030303030303030)>>3
	binary.LittleEndian.PutUint64(d, w>>(8*(8-n)))
	if u < 1e8 {
		return dst[:m+n]
	}
	binary.LittleEndian.PutUint64(d[n:], runlogDigits8(lo))
	return dst[:m+n+8]
}

// runlogDigits8 returns the eight decimal digits of x < 10^8, leading
// zeros included, as the bytes of a little-endian word (the first digit
// in the lowest byte). The word is split in lanes, as SIMD would: x into
// two four-digit halves (32-bit lanes), each into two pairs (16-bit
// lanes, n/100 = n*5243>>19 for n < 10^4), each pair into two digits
// (bytes, n/10 = n*103>>10 for n < 100), each step one multiplication for
// all its lanes, which no product overflows; it replaced a division per
// pair and four loads of a table of pairs (about 10 % faster alone).
func runlogDigits8(x uint64) uint64 {
	hi := x / 10000
	v := hi | (x-hi*10000)<<32
	q := v * 5243 >> 19 & 0x0000007f0000007f
	v = q | (v-q*100)<<16
	t := v * 103 >> 10 & 0x000f000f000f000f
	v = t | (v-t*10)<<8
	return v + 0x3030303030303030
}

// runlogMillis converts nanoseconds since the epoch to whole milliseconds,
// rounding down (also before 1970, where Go's division would round up).
func runlogMillis(ns int64) int64 {
	ms := ns / 1e6
	if ns < 0 && ms*1e6 != ns {
		ms--
	}
	return ms
}

// runlogAppendCentis appends ns as seconds rounded half away from zero to
// two decimals, the original's round(seconds, 2), written as Python writes
// that float: the shortest decimal with at least one digit after the
// point (1.25, 1.2, 0.0).
func runlogAppendCentis(dst []byte, ns int64) []byte {
	u := uint64(ns)
	if ns < 0 {
		u = -u
	}
	c := (u + 5e6) / 1e7
	if ns < 0 && c != 0 {
		dst = append(dst, '-')
	}
	dst = strconv.AppendUint(dst, c/100, 10)
	if c%10 != 0 {
		return append(dst, '.', byte('0'+c%100/10), byte('0'+c%10))
	}
	return append(dst, '.', byte('0'+c%100/10))
}

const runlogHexDigits = "0123456789abcdef"

// runlogAppendHex appends b in lower-case hex.
func runlogAppendHex(dst []byte, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, runlogHexDigits[c>>4], runlogHexDigits[c&0xf])
	}
	return dst
}

// runlogHex8 writes the lower-case hex of b into dst[:16], with two word
// stores (runlogHexWord) instead of sixteen table loads and byte stores:
// a node record writes two ids.
func runlogHex8(dst []byte, b [8]byte) {
	_ = dst[15]
	binary.LittleEndian.PutUint64(dst, runlogHexWord(binary.LittleEndian.Uint32(b[:4])))
	binary.LittleEndian.PutUint64(dst[8:], runlogHexWord(binary.LittleEndian.Uint32(b[4:])))
}

// runlogHexWord returns the lower-case hex of the four bytes of v (the
// first in its low byte) as the eight bytes of a little-endian word: each
// byte is spread to two bytes, its high nibble first, and each nibble n
// becomes '0'+n, plus 'a'-'0'-10 when n+6 reaches 16 (no byte carries).
func runlogHexWord(v uint32) uint64 {
	const (
		nib  = 0x000f000f000f000f
		ones = 0x0101010101010101
	)
	x := uint64(v)
	x = (x | x<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff // byte i of v in byte 2i
	n := (x>>4)&nib | (x&nib)<<8
	letter := (n + ones*6) >> 4 & ones
	return n + ones*'0' + letter*('a'-'0'-10)
}

// jsonAppendValue appends v as a JSON value: a string, an integer, a float
// (null for NaN and ±Inf), a bool, base64 of bytes, or null when empty.
func jsonAppendValue(dst []byte, v Value) []byte {
	switch v.kind() {
	case KindString:
		return jsonAppendString(dst, v.str())
	case KindInt64:
		return runlogAppendInt(dst, int64(v.num))
	case KindFloat64:
		return jsonAppendFloat(dst, math.Float64frombits(v.num))
	case KindBool:
		if v.num != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case KindBytes:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v.Bytes())
		return append(dst, '"')
	default:
		return append(dst, "null"...)
	}
}

// jsonAppendFloat appends f as the original's Python writes a float (its
// repr, which json.dumps uses): the shortest decimal that reads back, with
// ".0" on an integral value (2.0), in exponent form below 1e-4 and from
// 1e16 (1e-05, 1.5e+16). NaN and ±Inf, which Python writes as NaN and
// Infinity, are not JSON: they become null.
func jsonAppendFloat(dst []byte, f float64) []byte {
	if d, ok := jsonAppendDecimal(dst, f); ok {
		return d
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if abs := math.Abs(f); abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		// strconv writes at least two exponent digits, as Python.
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	if bytes.IndexByte(dst[start:], '.') < 0 {
		dst = append(dst, '.', '0')
	}
	return dst
}

// jsonAppendDecimal appends f as jsonAppendFloat does (strconv's
// shortest 'f' format, ".0" on an integer), when f is at least 1e-4 and
// m/10^k for an integer m and k of at most 8 with m*10^(8-k) below 2^50,
// the shape of most attribute floats (0.7, 2.5, 0.93125); it reports
// false otherwise. Scaled by 1e8 and below 2^50, f's rounding
// interval is narrower than 1/2 and the product's rounding error below
// 1/8: math.Round finds the only integer that can read back as f, and
// without its trailing zeros it is the shortest decimal that does.
func jsonAppendDecimal(dst []byte, f float64) ([]byte, bool) {
	abs := math.Abs(f)
	if !(abs >= 1e-4 && abs < 1<<50) { // also false for NaN
		return dst, false
	}
	// Conversions to int64 truncate in one instruction where math.Trunc
	// and math.Round take a dozen: abs is below 2^50 and so is m when
	// it is kept. m may be one off when abs·1e8 ends in about .5 (x+0.5
	// rounds up), but then no integer reads back as f and the test
	// refuses it.
	m := float64(int64(abs))
	integral := m == abs
	if !integral {
		x := abs * 1e8
		if !(x < 1<<50) {
			return dst, false
		}
		m = float64(int64(x + 0.5))
		if m/1e8 != abs {
			return dst, false
		}
	}
	if f < 0 {
		dst = append(dst, '-')
	}
	if integral {
		return append(runlogAppendInt(dst, int64(m)), '.', '0'), true
	}
	// m is f·10^8: its integer part, then the fraction's eight digits
	// (runlogDigits8) without their trailing zeros, at most 7 as f is not
	// an integer, written with one word store.
	u := uint64(m)
	w := runlogDigits8(u % 1e8)
	k := 8 - bits.LeadingZeros64(w&^0x3030303030303030)>>3
	dst = runlogAppendInt(dst, int64(u/1e8))
	n := len(dst)
	dst = slices.Grow(dst, 9)[:n+1+k]
	dst[n] = '.'
	binary.LittleEndian.PutUint64(dst[n+1:n+9], w)
	return dst, true
}

// jsonAppendString appends s as a quoted JSON string.
func jsonAppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = jsonAppendEscaped(dst, s)
	return append(dst, '"')
}

// jsonPlain reports, for each byte, whether it can be copied into a JSON
// string as it is: printable ASCII other than '"' and '\\'. Bytes from
// 0x80 need the UTF-8 check.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// jsonAppendEscaped appends the body of the JSON string of s, without
// quotes. Most values are plain ASCII: those of up to 16 bytes are
// tested and copied with word stores instead of a call to memmove, longer
// ones tested as they are copied, sixteen bytes per SSE2 test on amd64
// (jsonCopyPlain). Each maximal run of invalid UTF-8 becomes one
// U+FFFD; U+2028 and U+2029 are escaped.
func jsonAppendEscaped(dst []byte, s string) []byte {
	dst, _ = jsonAppendEscapedHigh(dst, s)
	return dst
}

// jsonAppendEscapedHigh is jsonAppendEscaped that also reports whether it
// wrote a byte from 0x80: false when s is ASCII, which its tests for plain
// text tell on the way.
func jsonAppendEscapedHigh(dst []byte, s string) ([]byte, bool) {
	n := len(s)
	if n <= 16 && cap(dst)-len(dst) >= 16 {
		if d, ok := jsonAppendShortPlain(dst, s); ok {
			return d, false
		}
		if d, ok := jsonAppendShortHigh(dst, s); ok {
			return d, true
		}
	}
	if n > 16 {
		// Longer plain text (an LLM's output) is checked as it is copied.
		m := len(dst)
		dst = slices.Grow(dst, n)
		if jsonCopyPlain(unsafe.SliceData(dst[m:m+n]), unsafe.StringData(s), n) {
			return dst[:m+n], false
		}
	} else if jsonIsPlain(s) {
		return append(dst, s...), false
	}
	// Text in other scripts than Latin (a Chinese LLM's output) needs no
	// escape either when it is valid UTF-8 without U+2028 or U+2029: the
	// checks below scan it much faster than decoding it rune by rune.
	if !jsonHasASCIICare(s) && utf8.ValidString(s) && !jsonHasLineSep(s) {
		return append(dst, s...), true // not plain, nothing to escape: bytes from 0x80
	}
	return jsonAppendEscapedFrom(dst, s)
}

// jsonHasASCIICare reports whether s holds a byte below 0x20, '"' or
// '\\'; bytes from 0x80 are not tested. Text in other scripts (a Chinese
// LLM's output) is tested four words at a time (jsonSWARASCIICare).
func jsonHasASCIICare(s string) bool {
	i := 0
	for ; i+32 <= len(s); i += 32 {
		w := s[i : i+32]
		if jsonSWARASCIICare(utf8Load64(w))|jsonSWARASCIICare(utf8Load64(w[8:]))|
			jsonSWARASCIICare(utf8Load64(w[16:]))|jsonSWARASCIICare(utf8Load64(w[24:])) != 0 {
			return true
		}
	}
	for ; i+8 <= len(s); i += 8 {
		if jsonSWARASCIICare(load64At(s, i)) != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return true
		}
	}
	return false
}

// jsonSWARASCIICare returns x's bytes below 0x20, equal to '"' or '\\'
// marked by their high bit, exactly: jsonSWARAnyCare's test on x without
// its high bits (so no byte carries into the next), with the bytes from
// 0x80 left out.
func jsonSWARASCIICare(x uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	y := x &^ high
	ctl := y + ones*(0x80-0x20)
	quote := (y ^ (ones * '"')) + ones*0x7f
	bs := (y ^ (ones * '\\')) + ones*0x7f
	return ^(ctl & quote & bs) & high &^ x
}

// jsonHasLineSep reports whether s holds U+2028 or U+2029 (E2 80 A8/A9).
func jsonHasLineSep(s string) bool {
	for {
		i := strings.IndexByte(s, 0xe2)
		if i < 0 || i+2 >= len(s) {
			return false
		}
		if s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9) {
			return true
		}
		s = s[i+1:]
	}
}

// jsonUnchangedASCII reports whether jsonAppendEscaped appends s as it is:
// plain ASCII (then ascii is true too), or valid UTF-8 without a byte
// below 0x20, '"', '\\', U+2028 or U+2029.
func jsonUnchangedASCII(s string) (unchanged, ascii bool) {
	if jsonIsPlain(s) {
		return true, true
	}
	return !jsonHasASCIICare(s) && utf8.ValidString(s) && !jsonHasLineSep(s), false
}

// jsonAppendShortPlain appends s of at most 16 bytes when it is plain, with
// two overlapping loads and stores; dst must have room for 16 bytes. It
// reports false, appending nothing, when s is not plain. It calls
// nothing, so that it runs without a stack check (NOSPLIT): the run log
// calls it for most strings of a node (ids, names, attribute keys and
// values), where the frame of a function that also handled text in other
// scripts cost as much as the copy.
func jsonAppendShortPlain(dst []byte, s string) ([]byte, bool) {
	n := len(s)
	m := len(dst)
	d := dst[m : m+16]
	switch {
	case n >= 8:
		a, b := utf8Load64(s), tail64(s)
		if jsonSWARAnyCare(a)|jsonSWARAnyCare(b) != 0 {
			return dst, false
		}
		binary.LittleEndian.PutUint64(d, a)
		binary.LittleEndian.PutUint64(d[n-8:], b)
	case n >= 4:
		a, b := jsonLoad32(s), tail32(s)
		if jsonSWARAnyCare(uint64(a)|uint64(b)<<32) != 0 {
			return dst, false
		}
		binary.LittleEndian.PutUint32(d, a)
		binary.LittleEndian.PutUint32(d[n-4:], b)
	case n > 0:
		// Up to three bytes, padded with spaces, which are plain.
		a, b, c := s[0], s[n/2], s[n-1]
		if jsonSWARAnyCare(uint64(a)|uint64(b)<<8|uint64(c)<<16|0x2020202020<<24) != 0 {
			return dst, false
		}
		d[0], d[n/2], d[n-1] = a, b, c
	}
	return dst[:m+n], true
}

// jsonAppendShortHigh copies s of 4 to 16 bytes that is not plain (a
// Chinese node name) as jsonAppendShortPlain does when jsonAppendEscaped would
// append it as it is: valid UTF-8 without U+2028 and U+2029 whose ASCII
// bytes need no care; dst must have room for 16 bytes. It reports false,
// appending nothing, otherwise.
func jsonAppendShortHigh(dst []byte, s string) ([]byte, bool) {
	n := len(s)
	m := len(dst)
	d := dst[m : m+16]
	switch {
	case n >= 8:
		a, b := utf8Load64(s), tail64(s)
		if jsonSWARASCIICare(a)|jsonSWARASCIICare(b) != 0 || !jsonUnchangedHigh(s, jsonSWARHasE2(a)|jsonSWARHasE2(b)) {
			return dst, false
		}
		binary.LittleEndian.PutUint64(d, a)
		binary.LittleEndian.PutUint64(d[n-8:], b)
	case n >= 4:
		a, b := jsonLoad32(s), tail32(s)
		x := uint64(a) | uint64(b)<<32
		if jsonSWARASCIICare(x) != 0 || !jsonUnchangedHigh(s, jsonSWARHasE2(x)) {
			return dst, false
		}
		binary.LittleEndian.PutUint32(d, a)
		binary.LittleEndian.PutUint32(d[n-4:], b)
	default:
		// Shorter text with bytes from 0x80 is left to the escaper.
		return dst, false
	}
	return dst[:m+n], true
}

// jsonUnchangedHigh reports, for s whose ASCII bytes need no care, whether
// its other bytes are valid UTF-8 without U+2028 and U+2029. e2 is
// jsonSWARHasE2 of s's words: zero when s holds no 0xE2, the first byte of
// both, which spares the search for them.
func jsonUnchangedHigh(s string, e2 uint64) bool {
	return utf8.ValidString(s) && (e2 == 0 || !jsonHasLineSep(s))
}

// jsonSWARHasE2 returns x's bytes equal to 0xE2 marked by their high bit
// (the has-zero trick: no false negatives, a false positive only above a
// true one).
func jsonSWARHasE2(x uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	y := x ^ (ones * 0xe2)
	return (y - ones) &^ y & high
}

// jsonIsPlain reports whether every byte of s is plain (jsonPlain). The
// bytes are tested eight at a time, the last word overlapping the one
// before, so that the short keys and values most objects hold take one or
// two tests and no byte loop.
func jsonIsPlain(s string) bool {
	n := len(s)
	var x uint64
	switch {
	case n >= 8:
		// Long values (an LLM's output) four words per test.
		i := 0
		for ; i+32 < n; i += 32 {
			w := s[i : i+32]
			if jsonSWARAnyCare(utf8Load64(w))|jsonSWARAnyCare(utf8Load64(w[8:]))|
				jsonSWARAnyCare(utf8Load64(w[16:]))|jsonSWARAnyCare(utf8Load64(w[24:])) != 0 {
				return false
			}
		}
		for ; i+8 < n; i += 8 {
			if jsonSWARNeedsCare(load64At(s, i)) {
				return false
			}
		}
		x = tail64(s)
	case n >= 4:
		x = uint64(jsonLoad32(s)) | uint64(tail32(s))<<32
	case n > 0:
		// Up to three bytes, padded with spaces, which are plain.
		x = uint64(s[0]) | uint64(s[n/2])<<8 | uint64(s[n-1])<<16 | 0x2020202020<<24
	default:
		return true
	}
	return !jsonSWARNeedsCare(x)
}

// jsonLoad32 returns the first 4 bytes of s, little-endian.
func jsonLoad32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// jsonAppendEscapedFrom is jsonAppendEscapedHigh for an s that is not
// plain: high is whether s holds a byte from 0x80, which it copies or
// repairs to U+FFFD.
func jsonAppendEscapedFrom(dst []byte, s string) (_ []byte, high bool) {
	start := 0 // start of the pending run of bytes to copy as they are
	inRun := false
	i := 0
	for i < len(s) {
		c := s[i]
		if jsonPlain[c] {
			i++
			inRun = false
			// Skip the plain bytes that follow, eight at a time.
			for i+8 <= len(s) && !jsonSWARNeedsCare(load64At(s, i)) {
				i += 8
			}
			continue
		}
		if c < utf8.RuneSelf {
			inRun = false
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', runlogHexDigits[c>>4], runlogHexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		high = true
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			if !inRun {
				dst = append(dst, "\uFFFD"...)
				inRun = true
			}
			i++
			start = i
			continue
		}
		inRun = false
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', runlogHexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...), high
}

// jsonSWARNeedsCare reports whether any of the eight bytes packed in x is
// below 0x20, equal to '"' or '\\', or at least 0x80 (jsonSWARAnyCare).
func jsonSWARNeedsCare(x uint64) bool { return jsonSWARAnyCare(x) != 0 }

// jsonSWARAnyCare returns a value that is not zero exactly when one of the
// eight bytes packed in x is below 0x20, equal to '"' or '\\', or at least
// 0x80: a whole-word test, exact, in ten operations (the has-less and
// has-zero tricks it replaced took twelve and had false positives). Each byte b below 0x80 is tested with additions that
// cannot carry into the next byte: b+0x60 has its high bit set when b is
// at least 0x20, (b^'"')+0x7f when b is not '"', (b^'\\')+0x7f when b is
// not '\\'. A byte from 0x80 may carry into the next one and blur its
// test, but its own high bit in x answers for the word. The marks are not
// per byte: callers that need where the bytes are use jsonSWARASCIICare.
func jsonSWARAnyCare(x uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	ctl := x + ones*(0x80-0x20)
	quote := (x ^ (ones * '"')) + ones*0x7f
	bs := (x ^ (ones * '\\')) + ones*0x7f
	return (x | ^(ctl & quote & bs)) & high
}
