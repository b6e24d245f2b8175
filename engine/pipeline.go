package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// Incomplete status messages.
const (
	msgRunIdle     = "run not ended within the idle timeout"
	msgRunShutdown = "run not ended before the engine shut down"
	msgNodeOpen    = "node not ended before its run ended"
)

// pipeline is the state of the one goroutine that drains the rings.
type pipeline struct {
	e          *Engine
	drained    []*runRecord
	batch      []*runRecord
	runs       []*encode.Run
	spans      int
	batchStart int64 // monotonic time the first run of the batch arrived
	lastReap   int64
}

func (e *Engine) loop() {
	defer close(e.done)
	p := &pipeline{
		e:       e,
		drained: make([]*runRecord, 0, 256),
		batch:   make([]*runRecord, 0, 256),
		runs:    make([]*encode.Run, 0, 256),
	}
	for {
		select {
		case <-e.stop:
			e.shutErr = p.shutdown(e.stopCtx)
			e.stopCancel()
			p.failPending()
			return
		case req := <-e.ctl:
			req.done <- p.flush(req.ctx)
			continue
		default:
		}
		if p.drainOnce() > 0 {
			continue
		}
		// The rings are empty. A partial batch leaves once it is
		// flushInterval old; until then, park until a shard fills to
		// WakeAt, a control request wakes us, or the batch is due.
		wait := e.cfg.flushInterval
		if len(p.batch) > 0 {
			age := time.Duration(e.mono() - p.batchStart)
			if age >= e.cfg.flushInterval {
				p.exportBatch()
			} else {
				wait -= age
			}
		}
		e.ring.Wait(wait)
	}
}

// drainOnce moves what the rings hold into batches and returns how many
// runs it took.
func (p *pipeline) drainOnce() int {
	p.e.releaseDropped()
	p.drained = p.e.ring.Drain(p.drained[:0], cap(p.drained))
	for _, r := range p.drained {
		p.add(r, "")
	}
	clear(p.drained)
	if mono := p.e.mono(); mono-p.lastReap > int64(p.reapEvery()) {
		p.reap(mono, false)
	}
	return len(p.drained)
}

func (p *pipeline) reapEvery() time.Duration {
	d := p.e.cfg.idleTimeout / 4
	return min(max(d, 10*time.Millisecond), time.Second)
}

// add finishes a run: closes its open nodes, orders them, sums usage, and
// appends it to the batch. incomplete, when set, is the reason the run was
// closed by the engine.
func (p *pipeline) add(r *runRecord, incomplete string) {
	e := p.e
	if incomplete != "" {
		r.Incomplete = true
		r.Status, r.StatusMessage = encode.StatusError, incomplete
		r.EndUnixNano = r.wall(e.mono())
		if r.Code == 0 {
			r.Code = -1
		}
		r.Message = incomplete
		e.stats.runsTimedOut.Add(1)
	} else if r.Code != 0 {
		r.Status, r.StatusMessage = encode.StatusError, r.Message
	}
	count := r.startedNodes()
	if cap(r.order) < count {
		r.order = make([]*encode.Node, 0, count)
	}
	r.order = r.order[:0]
	var usage encode.Usage
	for i := 0; i < count; i++ {
		n := r.node(i)
		if closeNode(n) {
			n.Incomplete = true
			n.Status, n.StatusMessage = encode.StatusError, msgNodeOpen
			n.EndUnixNano = r.EndUnixNano
			e.stats.nodesIncomplete.Add(1)
		}
		if n.HasUsage {
			usage = usage.Add(n.Node.Usage)
		}
		r.order = append(r.order, &n.Node)
	}
	r.Nodes = r.order
	r.Usage = usage
	r.DroppedNodes = uint32(max(int(r.nodeCount.Load())-count, 0))
	if len(p.batch) == 0 {
		p.batchStart = e.mono()
	}
	p.batch = append(p.batch, r)
	p.runs = append(p.runs, &r.Run)
	p.spans += 1 + count
	e.metrics.observeRun(&r.Run)
	if p.spans >= e.cfg.batchSpans {
		p.exportBatch()
	}
}

// closeNode waits out an owner inside a node method and closes the node
// if its owner never ended it, reporting whether it did.
func closeNode(n *nodeRecord) bool {
	for {
		w := n.sw.Load()
		switch stateOf(w) {
		case stateOpen:
			if n.sw.CompareAndSwap(w, packState(genOf(w), stateClosed)) {
				return true
			}
		case stateBusy:
			runtime.Gosched() // the owner is inside a method: a few ns
		default:
			return false
		}
	}
}

// exportBatch hands the batch to the sink and releases its records.
func (p *pipeline) exportBatch() {
	if len(p.batch) == 0 {
		return
	}
	e := p.e
	if err := e.sink.Export(p.runs); err != nil {
		e.stats.sinkErrors.Add(1)
		e.stats.drop(DropSink, uint64(p.spans))
		e.cfg.errorHandler(fmt.Errorf("engine: sink dropped %d spans: %w", p.spans, err))
	} else {
		e.stats.exported.Add(uint64(p.spans))
	}
	for _, r := range p.batch {
		e.release(r)
	}
	clear(p.batch)
	clear(p.runs)
	p.batch, p.runs, p.spans = p.batch[:0], p.runs[:0], 0
}

// reap closes runs idle for longer than the idle timeout, or every open
// run when all is set (shutdown).
func (p *pipeline) reap(mono int64, all bool) {
	e := p.e
	p.lastReap = mono
	idle := int64(e.cfg.idleTimeout)
	msg := msgRunIdle
	if all {
		msg = msgRunShutdown
	}
	for i := range e.arena.slots {
		r := e.arena.slots[i].Load()
		if r == nil {
			continue
		}
		for {
			w := r.sw.Load()
			if stateOf(w) != stateOpen || (!all && mono-r.lastActive.Load() < idle) {
				break
			}
			if w&writerMask != 0 {
				if !all {
					break // its owner is writing: not idle, look again next time
				}
				runtime.Gosched()
				continue
			}
			if r.sw.CompareAndSwap(w, packState(genOf(w), stateClosed)) {
				p.add(r, msg)
				break
			}
		}
	}
}

// flush drains what the rings held when it was asked, exports the batch
// and flushes the sink. Runs ended during the flush may wait for the next.
func (p *pipeline) flush(ctx context.Context) error {
	for left := p.e.ring.Len(); left > 0; {
		k := p.drainOnce()
		if k == 0 {
			break
		}
		left -= k
	}
	p.exportBatch()
	return p.e.sink.ForceFlush(ctx)
}

// failPending answers flush requests that raced with shutdown.
func (p *pipeline) failPending() {
	for {
		select {
		case req := <-p.e.ctl:
			req.done <- ErrShutdown
		default:
			return
		}
	}
}

// shutdown closes the ring, closes every open run, exports everything and
// shuts the sink down.
func (p *pipeline) shutdown(ctx context.Context) error {
	e := p.e
	e.ring.Close()
	// A push that began before Close may still store its run: wait for
	// it. Pushes that begin later see the ring closed and count a drop.
	for e.pushing.Sum() != 0 {
		time.Sleep(10 * time.Microsecond)
	}
	for p.drainOnce() > 0 {
	}
	p.reap(e.mono(), true)
	p.exportBatch()
	e.releaseDropped()
	return errors.Join(e.metrics.shutdown(ctx), e.sink.ForceFlush(ctx), e.sink.Shutdown(ctx))
}
