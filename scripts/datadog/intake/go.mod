module github.com/example/dapr-tracing-demo/scripts/datadog/intake

go 1.26

require (
	github.com/DataDog/agent-payload/v5 v5.0.195
	github.com/DataDog/datadog-agent/pkg/proto v0.77.0-devel.0.20260213154712-e02b9359151a
	github.com/klauspost/compress v1.20.5
)

require (
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/planetscale/vtprotobuf v0.6.1-0.20240319094008-0393e58bdf10 // indirect
	github.com/tinylib/msgp v1.6.3 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
