package engine

import (
	"math"
	"sort"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/w3c"
)

// idFloor is what an identity string (a node id, type or name, a run's
// ids) keeps past Limits.RunBytes: enough to tell spans apart.
const idFloor = 128

// boundRun cuts the strings and bytes of r's spans and run log to
// Limits.RunBytes in all, counting each cut in Stats.ValuesTruncated.
// Limits.ValueBytes bounds each value, but a string is referenced, not
// copied: one 16 KiB document given to the 32 inputs of 256 nodes costs
// its owner 16 KiB and the encoder 128 MiB of request. Values are kept
// in the order the run log lists them until the budget is spent, then
// cut to nothing; identity strings are cut to idFloor bytes instead, so
// every span stays whole. The nodes the pipeline closed open are written
// only by identity, so only their identity is walked. nodes is at least
// the bytes of the nodes' values (nodeRecord.valueBound): most runs skip
// the walk, which would read every attribute's lines before the encoder.
//
// The strings every span of the run carries (sid, app_id, uid, chat_id:
// the encoder's common attributes, which come first; the tracestate)
// count once per span;
// the flow id and a node's id, type and name, which the run log or the
// spans write twice, count twice.
//
// The identity strings' floors are taken out of the budget first, so the
// bound holds whatever the ids: when idFloor bytes of each would not fit
// (a run of many nodes whose ids, keys and next ids are long), the floor
// is lowered to the largest that fits, down to nothing, each cut counted.
// Before, each kept its idFloor bytes past the budget, which the run's
// thousands of ids could take to twice Limits.RunBytes.
func (e *Engine) boundRun(r *encode.Run, nodes int) {
	budget := e.cfg.limits.RunBytes
	spans := 1 + len(r.Nodes)
	// Twice nodes: a node's id, type and name are written twice (see
	// walk), and nodes is at least their bytes; runs far under the bound,
	// most of them, still skip the walk.
	if 2*nodes+runValueBytes(r)+len(r.FlowID)+(spans-1)*commonBytes(r) <= budget {
		return
	}
	floor := idFloor
	need := func(f int) int {
		m := cutter{floor: f, measure: true}
		m.walk(r, spans)
		return m.need
	}
	reserve := need(floor)
	if reserve > budget {
		// The largest floor whose ids fit: need grows with the floor.
		floor = sort.Search(idFloor+1, func(f int) bool { return need(f) > budget }) - 1
		reserve = need(floor)
	}
	c := cutter{left: budget - reserve, floor: floor}
	c.walk(r, spans)
	if c.cuts != 0 {
		e.stats.valuesTruncated.Add(c.cuts)
		// A node id cut may no longer name a stream node: the encoder
		// walks the ids as exported (FirstFrameMillis), as before the
		// pipeline found the first stream node on the ids uncut.
		r.StreamStartUnixNano = 0
	}
}

// walk shows the cutter r's strings in the run log's order, those of its
// spans spans.
func (c *cutter) walk(r *encode.Run, spans int) {
	for _, s := range [...]*string{&r.SID, &r.AppID, &r.UID, &r.ChatID} {
		c.idTimes(s, spans)
	}
	// The flow id is written twice on the run span (its name and
	// flow_id); a node's id, type and name twice in its run log record
	// (node_*, func_*), its id twice on its span (its name and node_id).
	c.idTimes(&r.FlowID, 2)
	c.traceState(&r.TraceState, spans)
	for _, s := range [...]*string{&r.ServiceID, &r.BotID, &r.Sub, &r.Caller, &r.LogCaller} {
		c.id(s)
	}
	c.str(&r.Question)
	c.str(&r.Answer)
	c.str(&r.Message)
	c.str(&r.StatusMessage)
	c.attrs(r.Srv)
	c.attrs(r.SrvTag)
	c.attrs(r.Attrs)
	c.events(r.Events)
	for _, n := range r.Nodes {
		c.idTimes(&n.NodeID, 2)
		c.idTimes(&n.NodeType, 2)
		c.idTimes(&n.NodeName, 2)
		c.id(&n.SpanName[0])
		c.id(&n.SpanName[1])
		if n.Incomplete {
			continue
		}
		for i := range n.Next {
			c.id(&n.Next[i])
		}
		c.attrs(n.Input)
		c.attrs(n.Output)
		c.attrs(n.Config)
		c.attrs(n.Attrs)
		c.events(n.Events)
		c.str(&n.LLMOutput)
		c.str(&n.StatusMessage)
	}
}

// commonBytes is the bytes of the strings every span of r carries.
func commonBytes(r *encode.Run) int {
	return len(r.SID) + len(r.AppID) + len(r.UID) + len(r.ChatID) + len(r.TraceState)
}

// runValueBytes is the bytes of the run's own strings and values.
func runValueBytes(r *encode.Run) int {
	b := len(r.TraceState) + len(r.ServiceID) + len(r.FlowID) + len(r.SID) + len(r.AppID) + len(r.UID) + len(r.BotID) +
		len(r.ChatID) + len(r.Sub) + len(r.Caller) + len(r.LogCaller) + len(r.Question) + len(r.Answer) +
		len(r.Message) + len(r.StatusMessage)
	for _, as := range [...][]encode.Attr{r.Srv, r.SrvTag, r.Attrs} {
		b += attrBytes(as)
	}
	for i := range r.Events {
		ev := &r.Events[i]
		b += len(ev.Message) + len(ev.Type) + len(ev.Stacktrace) + attrBytes(ev.Attrs)
	}
	return b
}

func attrBytes(as []encode.Attr) (b int) {
	for i := range as {
		b += len(as[i].Key) + len(as[i].Value.Str())
	}
	return b
}

// cutter spends a byte budget on the strings it is shown in turn. The
// floor of each identity string (its first floor bytes) is reserved out of
// the budget before the walk; left is what remains for the values and for
// the identity strings' bytes past their floor. With measure set it only
// sums the floors (need) and cuts nothing.
type cutter struct {
	left    int
	floor   int
	cuts    uint64
	measure bool
	need    int
}

// str keeps s while the budget lasts and cuts it to what is left,
// reporting whether it cut.
func (c *cutter) str(s *string) bool {
	if c.measure {
		return false
	}
	if len(*s) <= c.left {
		c.left -= len(*s)
		return false
	}
	*s = truncate(*s, c.left)
	c.left -= len(*s)
	c.cuts++
	return true
}

// id keeps s while the budget lasts, then cuts it to the floor.
func (c *cutter) id(s *string) { c.idTimes(s, 1) }

// traceState is idTimes for the run's tracestate, which every span
// carries, cut by whole list-members in the specification's order (w3c's
// Truncate), not in the middle of one, which handed the backend a value
// its vendor never wrote (a shorter ot threshold, a vendor's id cut).
func (c *cutter) traceState(s *string, spans int) {
	whole := *s
	c.idTimes(s, spans)
	if len(*s) < len(whole) {
		st, _ := w3c.ParseTraceState(whole)
		*s = st.Truncate(len(*s)).String()
	}
}

// idTimes is id for a string written times times: its floor is reserved
// for every copy; it keeps the rest of s while the budget holds it for
// every copy, and else cuts s to the floor.
func (c *cutter) idTimes(s *string, times int) {
	kept := min(len(*s), c.floor)
	if c.measure {
		c.need = min(c.need+kept*times, math.MaxInt/2)
		return
	}
	if extra := (len(*s) - kept) * times; extra <= c.left {
		c.left -= extra
		return
	}
	*s = truncate(*s, c.floor)
	c.cuts++
}

func (c *cutter) attrs(as []encode.Attr) {
	for i := range as {
		a := &as[i]
		c.id(&a.Key)
		switch a.Value.Kind() {
		case encode.KindString:
			if s := a.Value.Str(); c.str(&s) {
				a.Value = encode.StringValue(s)
			}
		case encode.KindBytes:
			if c.measure {
				continue
			}
			if b := a.Value.Bytes(); len(b) > c.left {
				a.Value = encode.BytesValue(b[:c.left])
				c.left = 0
				c.cuts++
			} else {
				c.left -= len(b)
			}
		}
	}
}

func (c *cutter) events(evs []encode.Event) {
	for i := range evs {
		ev := &evs[i]
		c.str(&ev.Message)
		c.id(&ev.Type)
		c.str(&ev.Stacktrace)
		c.attrs(ev.Attrs)
	}
}
