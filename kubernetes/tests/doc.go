// Package manifests validates what this repository deploys, offline: strictly against the pinned upstream schemas, and by cross-checks for what no schema sees (go test ./...).
package manifests
