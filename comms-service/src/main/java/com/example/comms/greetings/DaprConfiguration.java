package com.example.comms.greetings;

import com.example.comms.greet.SidecarProperties;
import io.dapr.client.DaprClient;
import io.dapr.client.DaprClientBuilder;
import io.dapr.config.Properties;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.util.StringUtils;

@Configuration(proxyBeanMethods = false)
class DaprConfiguration {

	/**
	 * The Dapr SDK's client of the sidecar's gRPC API, at the port and with the token Dapr gives the app.
	 * It connects on its first call, and Spring closes it on shutdown (it is AutoCloseable).
	 */
	@Bean
	DaprClient daprClient(SidecarProperties sidecar) {
		DaprClientBuilder client = new DaprClientBuilder().withPropertyOverride(Properties.GRPC_PORT,
				String.valueOf(sidecar.grpcPort()));
		if (StringUtils.hasText(sidecar.apiToken())) {
			client.withPropertyOverride(Properties.API_TOKEN, sidecar.apiToken());
		}
		return client.build();
	}

}
