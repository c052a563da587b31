package com.example.comms.greet;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * How comms reaches its sidecar.
 *
 * @param httpEndpoint optional override of the sidecar's HTTP address; left empty, the Dapr SDK
 * finds it from its own variables (DAPR_HTTP_PORT, DAPR_HTTP_ENDPOINT, DAPR_SIDECAR_IP), as
 * Kubernetes sets them
 * @param clientThreads threads that complete the SDK's calls to the sidecar (env
 * {@code COMMS_SIDECAR_CLIENT_THREADS}); the calls are asynchronous, so a few serve any load
 */
@ConfigurationProperties("comms.sidecar")
public record SidecarProperties(String httpEndpoint, @DefaultValue("4") int clientThreads) {
}
