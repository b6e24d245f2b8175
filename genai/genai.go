// Package genai names the OpenTelemetry GenAI semantic conventions, version
// 1.41.0 (https://github.com/open-telemetry/semantic-conventions, tag
// v1.41.0, docs/gen-ai: the last release before the GenAI conventions moved
// to their own repository), and builds their attributes for
// engine.Node.SetAttributes, which writes keys as given. Every constructor
// returns an encode.Attr by value: none allocates.
//
// An LLM node of a workflow carries, on its span:
//
//	n.SetAttributes(genai.OperationName(genai.OpChat), genai.ProviderName("iflytek"),
//		genai.RequestModel("spark-4"), genai.ResponseModel("spark-4.0-ultra"),
//		genai.ServerAddress("spark-api.xf-yun.com"), genai.ServerPort(443),
//		genai.FinishReason("stop"), genai.UsageInputTokens(340), genai.UsageOutputTokens(56))
//
// (engine.Node.Usage writes the last two from the usage it is given), and a
// tool node genai.OperationName(genai.OpExecuteTool),
// genai.ToolName("weather"), genai.ToolCallID(id); a streamed call calls
// engine.Node.Chunk per chunk.
//
// Metrics: when a run ends, the engine folds its nodes holding
// gen_ai.operation.name into the conventions' client metrics
// (MetricTokenUsage by gen_ai.token.type, MetricOperationDuration,
// MetricTimeToFirstChunk, MetricTimePerOutputChunk, with TokenUsageBounds
// and DurationBounds, by the attributes the conventions give them:
// gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
// gen_ai.response.model, server.address, server.port, and error.type on
// the duration) and flowtel's own for what v1.41.0 does not define
// (tool and workflow durations, tokens per app and flow): see
// engine.Metrics and docs/porting.md.
//
// Span names: by default a node's span keeps the original's name,
// run_node:{node_id}, which the original's dashboards query.
// OTEL_SEMCONV_STABILITY_OPT_IN: the conventions ask instrumentations
// whose output predates them to keep it unless the variable holds
// gen_ai_latest_experimental. flowtel's attributes and metrics are v1.41.0's
// either way (it never emitted an earlier GenAI version); its span names
// and kinds are the original's unless the variable holds
// gen_ai_latest_experimental (LatestExperimental, read by
// otlp.NewFromEnv, which sets engine.WithGenAISpanNames): then
// "{gen_ai.operation.name} {gen_ai.request.model}" with kind CLIENT for an
// inference, "execute_tool {gen_ai.tool.name}" and
// "invoke_agent {gen_ai.agent.name}" INTERNAL, "create_agent
// {gen_ai.agent.name}" CLIENT, "invoke_workflow {gen_ai.workflow.name}"
// INTERNAL.
//
// Departure: gen_ai.response.finish_reasons is a string array in the
// conventions; flowtel's attribute values have no arrays, so FinishReason
// writes the one reason a single completion gives as a string.
package genai

import (
	"strings"

	"github.com/flowtel/flowtel/encode"
)

// SemconvVersion is the version of the conventions this package names.
const SemconvVersion = "1.41.0"

// Attribute keys.
const (
	KeyOperationName     = "gen_ai.operation.name"
	KeyProviderName      = "gen_ai.provider.name"
	KeyRequestModel      = "gen_ai.request.model"
	KeyRequestMaxTokens  = "gen_ai.request.max_tokens"
	KeyRequestTemp       = "gen_ai.request.temperature"
	KeyRequestTopP       = "gen_ai.request.top_p"
	KeyResponseModel     = "gen_ai.response.model"
	KeyResponseID        = "gen_ai.response.id"
	KeyFinishReasons     = "gen_ai.response.finish_reasons"
	KeyUsageInputTokens  = "gen_ai.usage.input_tokens"
	KeyUsageOutputTokens = "gen_ai.usage.output_tokens"
	KeyTokenType         = "gen_ai.token.type"
	KeyToolName          = "gen_ai.tool.name"
	KeyToolCallID        = "gen_ai.tool.call.id"
	KeyToolType          = "gen_ai.tool.type"
	KeyConversationID    = "gen_ai.conversation.id"
	KeyAgentName         = "gen_ai.agent.name"
	KeyWorkflowName      = "gen_ai.workflow.name"
	// The general registry's keys the conventions name on an inference's
	// span and client metrics.
	KeyServerAddress = "server.address"
	KeyServerPort    = "server.port"
	KeyErrorType     = "error.type"
)

// Values of gen_ai.operation.name.
const (
	OpChat            = "chat"
	OpTextCompletion  = "text_completion"
	OpGenerateContent = "generate_content"
	OpEmbeddings      = "embeddings"
	OpRetrieval       = "retrieval"
	OpExecuteTool     = "execute_tool"
	OpCreateAgent     = "create_agent"
	OpInvokeAgent     = "invoke_agent"
	OpInvokeWorkflow  = "invoke_workflow"
)

// Values of gen_ai.token.type.
const (
	TokenInput  = "input"
	TokenOutput = "output"
)

// Client metric names and units.
const (
	MetricTokenUsage         = "gen_ai.client.token.usage"                     // histogram, {token}
	MetricOperationDuration  = "gen_ai.client.operation.duration"              // histogram, s
	MetricTimeToFirstChunk   = "gen_ai.client.operation.time_to_first_chunk"   // histogram, s, streaming only
	MetricTimePerOutputChunk = "gen_ai.client.operation.time_per_output_chunk" // histogram, s, streaming only
	UnitTokens               = "{token}"
	UnitSeconds              = "s"
	OptInLatestExperimental  = "gen_ai_latest_experimental"
)

// TokenUsageBounds are the explicit bucket bounds the conventions give for
// gen_ai.client.token.usage.
var TokenUsageBounds = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}

// DurationBounds are the explicit bucket bounds, in seconds, the
// conventions give for gen_ai.client.operation.duration.
var DurationBounds = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}

// LatestExperimental reports whether optIn, the value of
// OTEL_SEMCONV_STABILITY_OPT_IN (a comma-separated list), holds
// gen_ai_latest_experimental: otlp.NewFromEnv then names GenAI spans as
// the conventions do (engine.WithGenAISpanNames).
func LatestExperimental(optIn string) bool {
	for _, v := range strings.Split(optIn, ",") {
		if strings.TrimSpace(v) == OptInLatestExperimental {
			return true
		}
	}
	return false
}

func str(k, v string) encode.Attr           { return encode.Attr{Key: k, Value: encode.StringValue(v)} }
func integer(k string, v int64) encode.Attr { return encode.Attr{Key: k, Value: encode.Int64Value(v)} }

// OperationName is gen_ai.operation.name (OpChat, OpExecuteTool, ...).
func OperationName(op string) encode.Attr { return str(KeyOperationName, op) }

// ProviderName is gen_ai.provider.name ("openai", "anthropic", or the
// provider's own lower-case name), which replaced gen_ai.system: the
// engine's client metrics take a node's gen_ai.system (its values
// renamed as the conventions renamed them) when it has no
// gen_ai.provider.name.
func ProviderName(p string) encode.Attr { return str(KeyProviderName, p) }

// RequestModel is gen_ai.request.model.
func RequestModel(m string) encode.Attr { return str(KeyRequestModel, m) }

// RequestMaxTokens is gen_ai.request.max_tokens.
func RequestMaxTokens(n int64) encode.Attr { return integer(KeyRequestMaxTokens, n) }

// RequestTemperature is gen_ai.request.temperature.
func RequestTemperature(t float64) encode.Attr {
	return encode.Attr{Key: KeyRequestTemp, Value: encode.Float64Value(t)}
}

// ServerAddress is server.address: the GenAI server's host name or IP
// address (behind any proxy, when known). The conventions recommend it on
// an inference's span and client metrics; give ServerPort with it, which
// they then require.
func ServerAddress(host string) encode.Attr { return str(KeyServerAddress, host) }

// ServerPort is server.port, an int. The engine's client metrics take a
// port from 0 to 65535; another value (or a server.port that is not an
// int) stays on the span as given and is left out of the metrics,
// counted in engine.Stats.ValuesTruncated.
func ServerPort(port int) encode.Attr { return integer(KeyServerPort, int64(port)) }

// ErrorType is error.type, the class of error a failed operation ended
// with ("timeout", "rate_limit_exceeded", a status code): the engine's
// client metrics read it on a failed node (see engine.Metrics).
func ErrorType(t string) encode.Attr { return str(KeyErrorType, t) }

// ResponseModel is gen_ai.response.model.
func ResponseModel(m string) encode.Attr { return str(KeyResponseModel, m) }

// ResponseID is gen_ai.response.id.
func ResponseID(id string) encode.Attr { return str(KeyResponseID, id) }

// FinishReason is gen_ai.response.finish_reasons with one reason (see the
// package's departure).
func FinishReason(r string) encode.Attr { return str(KeyFinishReasons, r) }

// UsageInputTokens is gen_ai.usage.input_tokens. A node given
// engine.Node.Usage carries the key already (its PromptTokens); given
// both, the span carries this value, once, and the GenAI metrics read it.
// A negative n is no count: gen_ai.client.token.usage leaves it out,
// counted in engine.Stats.ValuesTruncated.
func UsageInputTokens(n int64) encode.Attr { return integer(KeyUsageInputTokens, n) }

// UsageOutputTokens is gen_ai.usage.output_tokens, which engine.Node.Usage
// gives too (its CompletionTokens): see UsageInputTokens.
func UsageOutputTokens(n int64) encode.Attr { return integer(KeyUsageOutputTokens, n) }

// ToolName is gen_ai.tool.name.
func ToolName(n string) encode.Attr { return str(KeyToolName, n) }

// ToolCallID is gen_ai.tool.call.id.
func ToolCallID(id string) encode.Attr { return str(KeyToolCallID, id) }

// ToolType is gen_ai.tool.type ("function", "extension", "datastore").
func ToolType(t string) encode.Attr { return str(KeyToolType, t) }

// ConversationID is gen_ai.conversation.id (the original's chat_id).
func ConversationID(id string) encode.Attr { return str(KeyConversationID, id) }

// AgentName is gen_ai.agent.name.
func AgentName(n string) encode.Attr { return str(KeyAgentName, n) }

// WorkflowName is gen_ai.workflow.name, of an invoke_workflow operation.
func WorkflowName(n string) encode.Attr { return str(KeyWorkflowName, n) }
