package engine

import "github.com/flowtel/flowtel/encode"

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
// the encoder's common attributes) count once per span, and come first.
func (e *Engine) boundRun(r *encode.Run, nodes int) {
	budget := e.cfg.limits.RunBytes
	spans := 1 + len(r.Nodes)
	if nodes+runValueBytes(r)+(spans-1)*commonBytes(r) <= budget {
		return
	}
	c := cutter{left: budget}
	for _, s := range [...]*string{&r.SID, &r.AppID, &r.UID, &r.ChatID} {
		c.idTimes(s, spans)
	}
	for _, s := range [...]*string{&r.TraceState, &r.ServiceID, &r.FlowID, &r.BotID, &r.Sub, &r.Caller, &r.LogCaller} {
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
		c.id(&n.NodeID)
		c.id(&n.NodeType)
		c.id(&n.NodeName)
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
	if c.cuts != 0 {
		e.stats.valuesTruncated.Add(c.cuts)
	}
}

// commonBytes is the bytes of the strings every span of r carries.
func commonBytes(r *encode.Run) int { return len(r.SID) + len(r.AppID) + len(r.UID) + len(r.ChatID) }

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

// cutter spends a byte budget on the strings it is shown in turn.
type cutter struct {
	left int
	cuts uint64
}

// str keeps s while the budget lasts and cuts it to what is left,
// reporting whether it cut.
func (c *cutter) str(s *string) bool {
	if len(*s) <= c.left {
		c.left -= len(*s)
		return false
	}
	*s = truncate(*s, c.left)
	c.left -= len(*s)
	c.cuts++
	return true
}

// id keeps s while the budget lasts, then cuts it to idFloor bytes.
func (c *cutter) id(s *string) {
	if len(*s) <= c.left {
		c.left -= len(*s)
		return
	}
	c.left = 0
	if len(*s) > idFloor {
		*s = truncate(*s, idFloor)
		c.cuts++
	}
}

// idTimes is id for a string written times times: it keeps s while the
// budget holds every copy, and else cuts it to idFloor bytes, charging
// what the copies take, so that the rest of the budget still goes to the
// values.
func (c *cutter) idTimes(s *string, times int) {
	if len(*s)*times <= c.left {
		c.left -= len(*s) * times
		return
	}
	if len(*s) > idFloor {
		*s = truncate(*s, idFloor)
		c.cuts++
	}
	c.left = max(0, c.left-len(*s)*times)
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
