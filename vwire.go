// Package vwire holds the domain of the vwire system: the entities every part
// agrees on (data centers, clusters, networks, vNIC profiles, hosts, VMs, vNICs,
// MAC pools, audit events), the pure validation rules with oVirt's message texts,
// the vNIC update decision table, and the one error type that crosses layers.
//
// It imports only the standard library. Everything else (store, engine, agent,
// REST API) depends on it, never the other way round.
package vwire

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error. Only restapi maps codes to HTTP statuses, in one table.
type Code string

const (
	// EINVALID: the request is malformed or breaks a rule (oVirt's BAD_PARAMETERS,
	// NOT_SUPPORTED, INCOMPATIBLE_VERSION: HTTP 400).
	EINVALID Code = "invalid"
	// EINCOMPLETE: a mandatory field is missing (oVirt's "Incomplete parameters").
	EINCOMPLETE Code = "incomplete"
	// ECONFLICT: the request conflicts with current state (oVirt's CONFLICT: 409).
	ECONFLICT Code = "conflict"
	// ENOTFOUND: the addressed entity does not exist (404).
	ENOTFOUND Code = "not_found"
	// EUNAUTHORIZED: missing or wrong credentials (401).
	EUNAUTHORIZED Code = "unauthorized"
	// EFORBIDDEN: the caller lacks a permission (oVirt's NO_PERMISSION: 403).
	EFORBIDDEN Code = "forbidden"
	// ENOTALLOWED: the resource exists but does not take the method (405).
	ENOTALLOWED Code = "method_not_allowed"
	// EHOST: a host refused or failed an operation; the message carries its reason.
	EHOST Code = "host_failed"
	// EINTERNAL: a fault of vwire itself (500). Never used for a client's mistake.
	EINTERNAL Code = "internal"
	// EUNAVAILABLE: a dependency (host, database) cannot be reached now (503).
	EUNAVAILABLE Code = "unavailable"
)

// Error is the single error type of vwire: a code, the operation, a message
// key with the values of its variables, the host's own code where a host
// failed, and the wrapped cause. It holds no rendered text: restapi renders
// it, once, as oVirt's fault.
type Error struct {
	Code Code
	// Op fills ${action} and ${type} in the key's text.
	Op Op
	// Key names the message in the catalogue (messages.go).
	Key MsgKey
	// Vars are name/value pairs filling the text's ${name} variables; free
	// text (a host's reason, a parse error) travels here too.
	Vars []string
	// NIC names the vNIC a rule failed for, when one request checks several.
	NIC string
	// HostCode is the VDSM error code when a host call failed (49, 50, 56…).
	HostCode int
	Err      error
}

// Text is the key's text with its variables filled, as logs and events
// quote it; restapi renders the fault itself.
func (e *Error) Text() string {
	m, ok := messages[e.Key]
	if !ok {
		return string(e.Key)
	}
	return Render(m.Text, e.Op, e.Vars...)
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Key != "" {
		b.WriteString(string(e.Key))
		b.WriteString(": ")
	}
	b.WriteString(e.Text())
	if e.NIC != "" {
		b.WriteString(" (vNIC " + e.NIC + ")")
	}
	if e.Err != nil {
		fmt.Fprintf(&b, " (%s)", e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Wrap returns a copy of e with the given cause (a copy, so that wrapping
// a sentinel such as ErrPoolExhausted leaves it unchanged).
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// ForNIC returns a copy of e that names the vNIC it is about.
func (e *Error) ForNIC(name string) *Error {
	c := *e
	c.NIC = name
	return &c
}

// ErrorCode returns the code of err, EINTERNAL for foreign errors and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// IsKey reports whether err is, or wraps as its outermost vwire error, an
// Error with the given key.
func IsKey(err error, key MsgKey) bool {
	var e *Error
	return errors.As(err, &e) && e.Key == key
}

// ErrPoolExhausted is the store's answer when a MAC pool has no free address;
// the engine turns it into oVirt's message for its operation.
var ErrPoolExhausted = &Error{Code: ECONFLICT, Key: MsgPoolExhausted}

// NotFound reports a missing entity of the given kind ("VM", "Nic"…).
func NotFound(kind, id string) *Error {
	return New(MsgEntityNotFound, "kind", kind, "id", id)
}

// Incomplete reports missing mandatory fields as oVirt does:
// "Nic [name] required for add".
func Incomplete(kind string, fields []string, method string) *Error {
	return New(MsgIncomplete, "kind", kind, "fields", strings.Join(fields, ", "), "method", method)
}

// InvalidValue reports a value that could not be parsed (bad boolean, bad
// enum…); key is MsgInvalidValue, MsgInvalidEnum or MsgBadRequest, whose
// fault reasons differ, and detail is the free text.
func InvalidValue(key MsgKey, detail string) *Error {
	return New(key, "detail", detail)
}
