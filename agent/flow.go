package agent

import "context"

// A flow id follows one change from the engine's REST request into the
// agent's log: VDSM carries the engine's flow id with each call for the
// same reason. vwire sends it as an optional member of the JSON-RPC
// request ("flow_id", next to "op" and "deadline"), not as an HTTP header,
// because most calls ride a JSON-RPC stream (transport.go) where a call is
// one line and has no headers of its own. An agent that does not know the
// member ignores it; the engine sends it only when a request has an id.

type flowKey struct{}

// maxFlowID bounds a flow id: the engine's correlation ids are at most 36
// bytes ([0-9a-zA-Z_-]); anything much longer is not the engine's.
const maxFlowID = 64

// WithFlowID names the request a call serves: the client sends it with the
// call, and the server puts the id it receives in the handler's context.
func WithFlowID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, flowKey{}, id)
}

// FlowID is the flow id ctx carries ("" if none); the agent's log handler
// writes it as request_id.
func FlowID(ctx context.Context) string {
	s, _ := ctx.Value(flowKey{}).(string)
	return s
}
