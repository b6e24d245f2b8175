// Package eino traces CloudWeGo Eino graphs, chains and workflows into a
// flowtel engine through Eino's callbacks (callbacks.Handler). It is a
// module of its own, so that flowtel's main module never pulls Eino's
// dependencies.
//
//	h, err := eino.NewHandler(eng)
//	ctx = eino.WithRunInfo(ctx, engine.RunInfo{AppID: app, UID: uid, ChatID: chat})
//	out, err := runnable.Invoke(ctx, in, compose.WithCallbacks(h))
//
// (or callbacks.AppendGlobalHandlers(h) once, at start-up).
//
// # Mapping
//
// The outermost graph, chain or workflow invocation (one with no traced
// invocation in its context) is a flowtel run: its identity comes from
// WithRunInfo, its flow id defaults to the graph's name
// (compose.WithGraphName; else "Graph", "Chain" or "Workflow"). A
// component invoked on its own is a run of one node. Every node or
// component below it is a node of that run, with node id the node's key in
// its graph (a tool's name inside a ToolsNode), node name RunInfo.Name or
// the key, and node type by component:
//
//	ChatModel → llm          Tool → tool           ToolsNode → tools
//	Retriever → knowledge    Lambda → code         Graph, Chain, Workflow → flow
//	ChatTemplate → prompt    Embedding → embedding Indexer → indexer
//	Loader → loader          DocumentTransformer → transformer
//	Passthrough → passthrough                      anything else → unknown
//
// A handler registered twice on one invocation (in the context and in the
// call's options, as when a node invokes a graph by hand with the handler
// again) records each callback once; a context kept past the end of its
// invocation starts a run of its own.
//
// Nodes nest as their invocations do: a node started within another (the
// nodes of a nested graph within its "flow" node, a tool within its
// ToolsNode, a component that a lambda or a tool invokes with its context)
// is a child span of that node, in the same run; the run trace log lists
// it among the run's nodes. Node ids are keys in their own graph, so a
// nested graph's may repeat those of the outer graph. A node's span id is
// read when it starts, by the goroutine that starts it, and kept in its
// context: an inner node takes it as its parent from whatever goroutine
// starts it (Eino runs parallel branches, and the nodes after a stream, on
// goroutines of their own) without calling the parent's engine.Node, whose
// methods belong to one goroutine at a time. A node whose parent was not
// recorded (cut by the engine's node or memory limit, which counts it) is
// placed under the run.
//
// A run ends with code 0 and message "success", CodeError (500) and the
// error's text when the invocation failed, or CodeCancelled (499) and
// "cancelled: context canceled" (or "... deadline exceeded") when its
// context was cancelled. OnError ends the node with its error as an
// exception (status error, running_status false); a node whose context was
// cancelled ends with Node.Cancel instead (error.type "cancelled", counted
// as cancelled in the node metrics, apart from failures). The first chunk of
// a streamed invocation's output is the run's first frame.
//
// A node that panics gets no end callback: Eino recovers the panic and
// fails the node's graph with it. When a graph (the outermost or a nested
// one) fails, each of its nodes still open ends failed with the graph's
// error (cancelled when the context was), so the run ends at once, not at
// the engine's idle timeout; a node's end that comes after that does
// nothing.
//
// # What a node carries
//
// The GenAI attributes of the OpenTelemetry semantic conventions (v1.41.0,
// the Key constants of the first group) go on the node's span as they are
// (Node.SetAttributes); the node's data, which the run trace log carries
// too, goes to its input, output and config (the second group, written on
// the span as "input.query", "config.model", ...):
//
//   - llm: span gen_ai.operation.name "chat", gen_ai.request.model,
//     .temperature, .top_p and .max_tokens (when the model reports its
//     config, as models that run their own callbacks do),
//     gen_ai.response.finish_reasons; data: config model, input messages
//     and the last one as query, the reply as llm_output, and usage (prompt,
//     completion, total; on the span also gen_ai.usage.*), which the run
//     sums once when it ends.
//   - tool: span gen_ai.operation.name "execute_tool", gen_ai.tool.name,
//     gen_ai.tool.call.id; data: input arguments, output result.
//   - knowledge: span gen_ai.operation.name "retrieval"; data: query, top_k,
//     documents (a count).
//   - others: a string input or output; every node: config eino.type.
//
// Every text value is cut to WithMaxValueBytes at a UTF-8 boundary, without
// copying. A streamed output's first chunk is the node's first frame
// (first_frame_duration); the node also gets chunks, time_per_chunk (the
// time from the first chunk to the end of the stream over the chunks
// after the first) and, for a model, gen_ai.response.time_to_first_chunk
// (seconds from the model's start). Each chunk of a model's stream is also
// given to Node.Chunk, from which the engine folds the GenAI metric
// gen_ai.client.operation.time_per_output_chunk.
//
// # Streams
//
// OnStartWithStreamInput closes its copy of the input at once: the handler
// reads nothing from an input stream, so Eino buffers nothing for it.
// OnEndWithStreamOutput reads its copy on a goroutine of its own, as the
// chunks come, and closes it at the end, as Eino's callbacks contract asks;
// it keeps no chunk, only counts and times, the last usage and finish
// reason, and at most WithMaxStreamBytes of text. The node ends when its
// stream does; the run ends when the outermost invocation has ended and
// every node it started has, so a node still streaming never outlives its
// run. Handler.Wait waits for the readers, for a complete export at exit.
//
// # Concurrency
//
// A Handler is safe for concurrent use by any number of invocations, and
// by the parallel nodes of one invocation: each node is written by the
// goroutine that runs it (or by its stream's reader), and the run's state
// is one atomic counter. The state of an invocation lives in its context:
// the context a callback returns carries its node.
//
// # Allocation
//
// A run costs one allocation: its root context, which holds the run's
// state and the contexts of its first 8 nodes (each slot taken once, never
// reused); a node past the 8th costs one. The engine's calls allocate
// nothing. WithRunInfo costs one. A streamed output adds a goroutine and,
// from its second chunk on, the text it gathers.
//
// # Cost
//
// BenchmarkGraph runs a real Eino graph of 8 nodes (two of them parallel)
// with Stream, its one chat model streaming 8 chunks, and reads the
// output to its end: bare (no handler); noop, a handler that does nothing
// (what Eino spends to call any handler: a copy of every stream, contexts
// and a handler list per callback); reader, one that only reads its
// stream copies on goroutines of its own, as both tracing handlers must
// (the shape they share); flowtel's Handler (an engine with its pipeline,
// no sink); and its twin on the OpenTelemetry Go SDK (sdkHandler: the
// same spans and attributes, a batch span processor with its default
// queue, an exporter that discards; it reports the spans the processor
// dropped, none). BenchmarkCallbacks calls each handler's callbacks as
// Eino calls them for that graph, without Eino. Figures are CPU time of
// the whole process per node (the pipeline, the batch processor, the
// stream readers and the garbage collector included), medians of two
// runs of 12 rounds in which the five ran back to back, one process each
// (the added time is the median of each round's difference), on an "AMD
// EPYC" VM of 2 vCPUs shared with other jobs (load average 11-16: a
// figure moves by a tenth to a fifth from round to round, so each ratio
// is taken within its round, and its median and range given);
// allocations are exact.
//
//	per node                    bare    noop    reader  flowtel  SDK twin  ratio
//	real graph, CPU time, run 1 11.1µs  11.9µs  12.8µs  14.0µs   20.3µs
//	                      run 2 11.2µs  11.9µs  12.6µs  13.5µs   20.8µs
//	  added over bare, run 1            1.3     2.0     3.0      9.0       0.32 (0.05-0.83)
//	                   run 2            1.2     2.0     2.3      9.4       0.23 (-0.01-0.52)
//	  own: added over reader                            0.66 0.58 7.3 7.0  0.09 0.08
//	  allocations over bare             20.8    21.3    21.5     35.0      0.61
//	  own: over reader                                  0.25     13.8      0.02
//	callbacks alone, 8 plain nodes                      1.65µs   4.77µs    0.33 (0.27-0.43)
//	  allocations (1-2 per run)                         0.13-0.25  12.5    0.01-0.02
//	callbacks alone, with 2 streams                     2.96µs   7.81µs    0.35 (0.33-0.48)
//	  allocations over the no-op                        0.63     14.4      0.04
//
// The one-fifth target (flowtel adds at most a fifth of what the SDK twin
// adds per node, in the same run) is met for allocations and for the
// handler's own time, not for all it adds, and cannot be by a handler of
// this shape: what Eino spends to call a handler and to feed its stream
// copies to reader goroutines (reader over bare, 2.0µs) is 0.21-0.25 of
// all the SDK twin adds (median of the rounds' ratios), before the handler
// does any work (Eino's plumbing alone, the no-op handler, 0.12-0.13).
// flowtel's own part, 0.08-0.09 of the twin's (a difference of two close
// figures: -0.57 to 0.48 over the rounds), is mostly the engine's: in a
// profile of BenchmarkGraph/flowtel (14.1µs per node) the handler's
// callbacks are 6% of the process's CPU time (the engine's StartRun,
// StartNode and attribute calls 2.5 of it, the run's one allocation
// most of the rest), the engine's pipeline goroutines (each record's
// release and reset, the run's metrics) 6%, the stream readers 1.5%,
// most of it Eino's Recv. This round the stream readers stopped
// growing their stacks (see readStream): BenchmarkCallbacks/flowtel 2.79
// → 2.16µs per node (-23%, p=0.026, 6 alternating runs); in the real graph
// the ratio was 0.39-0.49 in the last round's two runs, with a twin whose
// reader grew its stack too (it no longer does).
//
// # Rejected alternatives
//
//   - A map of open nodes keyed by RunInfo: a lock or a sync.Map on every
//     callback, and a leak when Eino skips an end. The context Eino hands
//     back already scopes the node.
//   - Node.StartChild on the parent's handle from the inner node's
//     goroutine: it claims the parent's record, so when the parent's own
//     goroutine (its end, its stream reader) writes at the same moment,
//     the child is refused as a stale call and lost; a lock per node would
//     serialize every callback for the sake of the nested ones. The
//     parent's span id, read once when it starts, needs neither.
//   - Pooling the node contexts: contexts derived from a node may outlive
//     it (a goroutine the node started), and a reused one would answer
//     their Value and Done calls wrongly.
//   - model.ConvCallbackOutput and friends: they allocate a wrapper for every
//     untyped output and chunk; a type switch reads the same fields.
//   - Reading an input stream: the handler would have to wait for chunks
//     that the component, not the handler, should consume first.
//   - callbacks.TimingChecker: Eino calls a handler at a timing only when
//     its Needed says so, and copies a stream only for the handlers it
//     calls; this handler needs every timing (a node's start opens it and
//     its end, streamed or not, closes it; the outermost invocation's
//     streamed input and output open and close the run), so Needed would
//     answer true each time, one more call per callback. The SDK twin has
//     none, for the same reason.
//   - Reading a stream copy later, without a goroutine (at the next
//     callback, at the run's end): the first chunk, the time per chunk and
//     the engine's time-per-output-chunk metric would be the handler's
//     times, not the stream's, and an unread copy keeps every chunk Eino
//     has read from the source until it is closed.
//   - A pool of reader goroutines: a blocked Recv holds its goroutine, so
//     the pool needs one per open stream anyway, and handing a stream to a
//     parked reader wakes it as starting one does.
package eino
