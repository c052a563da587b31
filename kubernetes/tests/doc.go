// Package manifests validates what this repository deploys, offline:
//
//   - every object that `kubectl apply -k kubernetes/` (and each component), `kubectl apply -f
//     datadog/datadog-agent.yaml` and `eksctl create cluster -f eksctl/cluster.yaml` would read is
//     validated strictly (unknown fields are errors) against the upstream schemas of the pinned
//     versions, fetched from the Go module proxy at test time;
//   - cross-checks catch the mistakes a schema cannot see: ports, names and paths that must agree
//     between the manifests, the Datadog Agent, the cluster and the apps' application.yaml.
//
// Run: cd kubernetes/tests && go test ./...
package manifests
