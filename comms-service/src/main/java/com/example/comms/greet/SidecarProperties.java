package com.example.comms.greet;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * How comms reaches its sidecar.
 *
 * @param httpEndpoint the sidecar's HTTP address (application.yaml: {@code DAPR_HTTP_PORT}, which
 * Dapr sets for the app, on the loopback address)
 * @param grpcPort the port of the sidecar's gRPC API on the loopback address, which the Dapr SDK's client
 * calls (application.yaml: {@code DAPR_GRPC_PORT}, which Dapr sets for the app)
 * @param apiToken the token the sidecar's API wants in {@code dapr-api-token} (env {@code DAPR_API_TOKEN},
 * which Dapr sets when the sidecar has one); empty, none is sent
 */
@ConfigurationProperties("comms.sidecar")
public record SidecarProperties(String httpEndpoint, int grpcPort, String apiToken) {
}
