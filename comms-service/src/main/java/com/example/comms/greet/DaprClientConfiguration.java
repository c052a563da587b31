package com.example.comms.greet;

import io.dapr.client.DaprClient;
import io.dapr.client.DaprClientBuilder;
import io.dapr.config.Properties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.util.StringUtils;

@Configuration(proxyBeanMethods = false)
class DaprClientConfiguration {

	@Bean(destroyMethod = "close")
	DaprClient daprClient(SidecarProperties sidecar, GreeterProperties greeter) {
		DaprClientBuilder builder = new DaprClientBuilder();
		if (StringUtils.hasText(sidecar.httpEndpoint())) {
			builder.withPropertyOverride(Properties.HTTP_ENDPOINT, sidecar.httpEndpoint());
		}
		// The SDK's default is a pool of 1024 threads, one new thread per task until all 1024 exist.
		builder.withPropertyOverride(Properties.HTTP_CLIENT_MAX_REQUESTS, Integer.toString(sidecar.clientThreads()));
		// The SDK waits 60 s by default; an abandoned call should free its connection soon after our bound.
		long readTimeoutSeconds = greeter.timeout().toSeconds() + 1;
		builder.withPropertyOverride(Properties.HTTP_CLIENT_READ_TIMEOUT_SECONDS, Long.toString(readTimeoutSeconds));
		return builder.build();
	}

}
