package com.example.greeter.system;

import io.dapr.client.DaprClient;
import io.dapr.client.DaprClientBuilder;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

@Configuration(proxyBeanMethods = false)
class DaprClientConfiguration {

	/**
	 * The client of greeter's sidecar, over gRPC: the builder reads DAPR_GRPC_PORT and DAPR_API_TOKEN, which
	 * Dapr sets for the app. It connects on first use; closing it on shutdown ends its channel.
	 */
	@Bean(destroyMethod = "close")
	DaprClient daprClient() {
		return new DaprClientBuilder().build();
	}

}
