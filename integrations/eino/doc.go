// Package eino traces CloudWeGo Eino graphs, chains and workflows into a
// flowtel engine through Eino's callbacks (callbacks.Handler). It is a
// module of its own, so that flowtel's main module never pulls Eino's
// dependencies.
//
//	h, err := eino.NewHandler(eng)
//	ctx = eino.WithRunInfo(ctx, engine.RunInfo{AppID: app, UID: uid, ChatID: chat})
//	out, err := runnable.Invoke(ctx, in, compose.WithCallbacks(h))
//
// (or callbacks.AppendGlobalHandlers(h) once, at start-up, which costs 15
// more of Eino's allocations per run of 8 nodes: see Rejected alternatives).
//
// # Mapping
//
// The outermost graph, chain or workflow invocation (one with no traced
// invocation in its context) is a flowtel run: its identity comes from
// WithRunInfo, its flow id defaults to the graph's name
// (compose.WithGraphName; else "Graph", "Chain" or "Workflow"). A
// component invoked on its own is a run of one node. Every node or
// component below it is a node of that run, with node id the node's key in
// its graph (a tool's name inside a ToolsNode), node name Eino's
// callbacks.RunInfo.Name or the key, and node type by component:
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
// fails the node's graph (or its ToolsNode) with it. When an invocation or
// a node fails, each node still open below it ends failed with its error
// (cancelled when the context was), so the run ends at once, not at the
// engine's idle timeout; a node's end that comes after that does nothing.
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
// Eino's copies of a stream share one list of chunks, freed as the slowest
// copy moves on: while the handler's reader keeps up with the source, the
// chunks a caller has not read yet (or never reads, dropping its stream
// without closing it) stay in that list until the caller reads them or
// drops its copy, bounded by the stream's length. Any handler that reads
// its copy does the same (the SDK twin too); without one Eino would not
// read the source ahead of the caller.
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
// reused; 816 bytes); a node past the 8th costs one. The engine's calls allocate
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
// same spans and the same information, TestSDKTwinRecords; a batch span
// processor with its default queue, an exporter that discards; it reports
// the spans the processor dropped, none; it computes no metrics, which
// flowtel does). BenchmarkCallbacks calls each handler's callbacks as
// Eino calls them for that graph, without Eino. Figures are CPU time of
// the whole process per node (the pipeline, the batch processor, the
// stream readers and the garbage collector included): medians of 40
// rounds (two runs of 20) in which the five ran back to back, one process
// each, 0.5s each, on an "AMD EPYC" VM of 2 vCPUs shared with other jobs
// (load average 13-22: a variant's figure moves by half from round to
// round, so each ratio is taken within its round, and its median and
// quartiles given; the two runs' medians were 0.37 and 0.25; wall time,
// whose rounds' ratios ranged from -50 to 27, gave a median of 0.34).
// Allocations are exact and do not move.
//
//	                             bare    noop    reader  flowtel  SDK twin
//	CPU time per node, median    12.3µs  14.1µs  14.7µs  16.7µs   25.4µs
//	  added, µs (median of the           1.8     1.4     3.9      13.3
//	  rounds' differences)
//	  share of the twin's added          0.16    0.18    0.32     1
//	  (quartiles over the rounds)        0-0.24  0.02-0.38 0.16-0.44
//	  own: flowtel over reader                           0.11 of the twin's (0.03-0.24)
//	  flowtel over the no-op handler / the twin over it  0.17 (0.06-0.43)
//	allocations per run          490     656     660     662      775
//	  added over bare                    166     170     172      285
//	  share of the twin's added          0.58    0.60    0.60     1
//	callbacks alone (BenchmarkCallbacks, 8 rounds), per node:
//	  8 plain nodes                                      1.10µs   4.77µs  0.24 (0.17-0.34)
//	    allocations per run                              1        101     0.01
//	  with the graph's 2 streams                         2.42µs   7.96µs  0.27 (0.15-0.39)
//	    allocations per run (no-op handler: 7)           11       126     0.03
//
// The one-fifth target (flowtel adds at most a fifth of what the SDK twin
// adds per node, in the same run) is out of reach of any handler called
// through Eino's callbacks, and flowtel's own part meets it (median): Eino's own
// allocations to call a handler at all (the no-op handler's 166 per run,
// 20.75 per node) are 0.58 of all the twin adds; flowtel's own are 2 per
// run (0.007). A memory profile of the no-op handler against bare puts
// about 100 of Eino's 166 in its callbacks manager (per callback a copy
// of the manager, a context value for it, one for the RunInfo at a start,
// and a slice of the handlers to call) and about 60 in the copies of the
// three streams and their converters. In CPU time Eino's calls and the
// reading of its stream copies (the reader shape) are 0.18 of what the
// twin adds (the no-op alone 0.16: the noise exceeds their difference),
// flowtel's own part 0.11; over the no-op handler, flowtel adds 0.17 of
// what the twin adds. In a profile
// of BenchmarkGraph/flowtel the handler's callbacks take about 1µs per node,
// a third of it the engine's StartNode (its first touch of a node record
// the pipeline recycled on the other core: a cache miss), and the engine's
// pipeline (the run's metrics, each record's release and reset) about 1µs.
// Alone, without Eino, flowtel's callbacks, engine and pipeline take 0.24
// of the twin's CPU time per node (0.27 with the streams).
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
//     answer true each time: measured so (BenchmarkGraph's graph), the
//     allocations are the same (656 for a no-op handler, 662 for flowtel's)
//     and the CPU time within the noise, for one more call per callback.
//     Answering false at OnStartWithStreamInput would spare Eino its copy
//     of the input stream, but that callback is the only one at a streamed
//     graph's start: the run would start at its first node, losing the
//     time before it and any graph that fails before a node runs (Needed
//     cannot hand back a context). The SDK twin has none, for the same
//     reason.
//   - callbacks.AppendGlobalHandlers in place of compose.WithCallbacks, to
//     spare Eino the per-call option: Eino copies the global handler list
//     into a new manager at every node's set-up, 15 more allocations per
//     run of BenchmarkGraph (677 against 662; 671 against 656 for the no-op
//     handler), the CPU time within the noise. Both work; the per-call
//     option costs less.
//   - Reading a stream copy later, without a goroutine (at the next
//     callback, at the run's end): the first chunk, the time per chunk and
//     the engine's time-per-output-chunk metric would be the handler's
//     times, not the stream's, and an unread copy keeps every chunk Eino
//     has read from the source until it is closed.
//   - Keeping open nodes in a map, or ending the run at the outermost
//     invocation's end whatever is open, so that a node that panicked
//     (Eino recovers it without the node's end callback) does not hold its
//     run: the map costs a lock per callback, and the run's end cannot wait
//     for nodes still streaming. A span's state is claimed once instead
//     (a compare-and-swap at its end), and a failed graph ends its nodes
//     still open (abandon); the spans sit in the run's slab or, past it,
//     in a lock-free list.
//   - A pool of reader goroutines: a blocked Recv holds its goroutine, so
//     the pool needs one per open stream anyway, and handing a stream to a
//     parked reader wakes it as starting one does.
package eino
