// Package compat holds tests that drive a vwire engine with oVirt's own
// client libraries, unchanged: go-ovirt-client (the library of oVirt's
// Terraform provider). It has no code of its own.
package compat
