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
	// EHOST: a host refused or failed an operation; the message carries its reason.
	EHOST Code = "host_failed"
	// EINTERNAL: a fault of vwire itself (500). Never used for a client's mistake.
	EINTERNAL Code = "internal"
	// EUNAVAILABLE: a dependency (host, database) cannot be reached now (503).
	EUNAVAILABLE Code = "unavailable"
)

// Error is the single error type of vwire. Reason and Detail are what a client
// sees in an oVirt fault; Err keeps the cause for logs.
type Error struct {
	Code Code
	// Key is the oVirt message key when the error comes from a validation rule.
	Key string
	// Reason is the fault's <reason>; empty means "Operation Failed".
	Reason string
	// Detail is the fault's <detail>, already rendered.
	Detail string
	// HostCode is the VDSM error code when a host call failed (49, 50, 56…).
	HostCode int
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Detail)
	if e.Err != nil {
		fmt.Fprintf(&b, " (%s)", e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

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

// Errorf builds an Error whose detail is a formatted text.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing entity of the given kind ("VM", "Nic"…).
func NotFound(kind, id string) *Error {
	return &Error{Code: ENOTFOUND, Key: "ENTITY_NOT_FOUND", Detail: fmt.Sprintf("Entity not found: %s %s", kind, id)}
}

// Incomplete reports missing mandatory fields as oVirt does:
// "Nic [name] required for add".
func Incomplete(kind string, fields []string, method string) *Error {
	return &Error{Code: EINCOMPLETE, Reason: "Incomplete parameters",
		Detail: fmt.Sprintf("%s [%s] required for %s", kind, strings.Join(fields, ", "), method)}
}

// InvalidValue reports a value that could not be parsed (bad boolean, bad enum…).
func InvalidValue(reason, detail string) *Error {
	return &Error{Code: EINVALID, Reason: reason, Detail: detail}
}
