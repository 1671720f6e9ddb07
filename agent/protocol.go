// Package agent is vwire's host agent: a JSON-RPC 2.0 server over HTTP with
// VDSM's verbs (Host.getCapabilities, Host.getAllVmStats, VM.create,
// VM.destroy, VM.hotplugNic, VM.hotunplugNic, VM.updateDevice, VM.getStats,
// Host.setupNetworks, and vwire's VM.settle) and VDSM's error codes, on top
// of a hypervisor.Hypervisor. Client is the engine's side of the same
// protocol.
//
// The protocol is written once: verbs.go holds each verb's params and
// result types, which the Client sends and reads and the Server's handlers
// (handlers.go, dispatched through one table) take and return.
// transport.go carries the calls (one HTTP POST each, or lines on a
// JSON-RPC stream) and knows nothing of the verbs. A new verb is a pair of
// types in verbs.go, a handler and its row in the table in handlers.go, a
// Client method, and in validate.go the form of any new field.
//
// Unlike VDSM, an error carries the hypervisor's own reason (data.reason)
// next to the generic text, so that the engine can show why a host refused.
package agent

import (
	"encoding/json"
	"errors"
	"fmt"

	"vwire.dev/vwire/hypervisor"
)

// VDSM error codes (lib/vdsm/common/define.py) that the agent uses.
const (
	CodeNoVM          = 1
	CodeVMExists      = 4
	CodeCreateErr     = 9
	CodeMissParam     = 11
	CodeUnexpected    = 16
	CodeHotplugNic    = 49
	CodeHotunplugNic  = 50
	CodeUpdateDevice  = 56
	CodeSetupNetworks = 70
	// JSON-RPC's own codes.
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
)

// generic texts, as VDSM words them.
var codeText = map[int]string{
	CodeNoVM:          "Virtual machine does not exist",
	CodeVMExists:      "Virtual machine already exists",
	CodeCreateErr:     "Error creating the requested VM",
	CodeMissParam:     "Missing required parameter",
	CodeUnexpected:    "Unexpected exception",
	CodeHotplugNic:    "Failed to hotplug NIC",
	CodeHotunplugNic:  "Failed to hotunplug NIC",
	CodeUpdateDevice:  "Failed to update device",
	CodeSetupNetworks: "Failed to set up networks",
}

// RPCError is a JSON-RPC error with VDSM's code and the hypervisor's reason.
type RPCError struct {
	Code    int        `json:"code"`
	Message string     `json:"message"`
	Data    *ErrorData `json:"data,omitempty"`
}

// ErrorData carries the hypervisor's own reason and libvirt's error code.
type ErrorData struct {
	Reason      string `json:"reason"`
	LibvirtCode int    `json:"libvirtCode,omitempty"`
}

func (e *RPCError) Error() string {
	if e.Data != nil && e.Data.Reason != "" {
		return fmt.Sprintf("%s: %s", e.Message, e.Data.Reason)
	}
	return e.Message
}

// Reason is the hypervisor's text, or the generic message when there is none.
func (e *RPCError) Reason() string {
	if e.Data != nil && e.Data.Reason != "" {
		return e.Data.Reason
	}
	return e.Message
}

func rpcError(code int, cause error) *RPCError {
	e := &RPCError{Code: code, Message: codeText[code]}
	if cause != nil {
		e.Data = &ErrorData{Reason: cause.Error()}
		var he *hypervisor.Error
		if errors.As(cause, &he) {
			e.Data.LibvirtCode = he.Code
		}
	}
	return e
}

// The JSON-RPC envelope: both sides use request (the client with numeric
// ids); the server writes response with any result, the client reads it as
// an envelope with the result raw, for the verb's own type.

type request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	// Deadline (Unix milliseconds) and Op (operation id) are vwire's
	// members: see outcome.go.
	Deadline int64  `json:"deadline,omitempty"`
	Op       string `json:"op,omitempty"`
	// FlowID is the engine's request id the call serves (flow.go).
	FlowID string `json:"flow_id,omitempty"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *RPCError       `json:"error,omitempty"`
}

// envelope is a JSON-RPC answer as the client reads it: the result is
// left raw for the verb's result type.
type envelope struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
}
