package com.example.comms.system;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Optional override of the sidecar's HTTP address. Left empty, the Dapr SDK finds its sidecar from
 * its own variables (DAPR_HTTP_PORT, DAPR_HTTP_ENDPOINT, DAPR_SIDECAR_IP), as Kubernetes sets them.
 */
@ConfigurationProperties("comms.sidecar")
public record SidecarProperties(String httpEndpoint) {
}
