//go:build tools

// Package tools pins the Pulumi engine's main package so that `go build` of it uses the versions in
// this module's go.mod and go.sum.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
