package engine_test

import (
	"context"
	"fmt"

	"github.com/flowtel/flowtel/engine"
)

// An agent node's LLM call and the tool call it asks for are node
// executions below the agent: spans under the agent's, entries of the run
// log's trace like the agent's own.
func ExampleNode_StartChild() {
	sink := &engine.MemorySink{}
	e, err := engine.New(engine.WithSink(sink))
	if err != nil {
		panic(err)
	}
	run := e.StartRun(engine.RunInfo{FlowID: "flow"})
	agent := run.StartNode("agent:1", "agent", "Agent")
	llm := agent.StartChild("llm:1", "llm", "chat")
	llm.SetSpanKind(engine.SpanKindClient)
	llm.End()
	tool := agent.StartChild("plugin:1", "plugin", "search")
	tool.Fail("search failed with 500")
	agent.End()
	run.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		panic(err)
	}

	r := sink.Runs()[0]
	name := map[[8]byte]string{r.SpanID: "run"}
	for _, n := range r.Nodes {
		name[n.SpanID] = n.NodeName
	}
	for _, n := range r.Nodes { // in the order the nodes ended
		fmt.Printf("%s under %s, running %v\n", n.NodeName, name[nodeParent(r.SpanID, n.ParentSpanID)], n.Running())
	}
	// Output:
	// chat under Agent, running true
	// search under Agent, running false
	// Agent under run, running true
}

// nodeParent returns a node's parent span: the run's when it has none.
func nodeParent(run, parent [8]byte) [8]byte {
	if parent == ([8]byte{}) {
		return run
	}
	return parent
}
